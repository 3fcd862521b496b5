import ChatClient
import NIOCore

/// What a fault-tolerant run (`--faults`) counts instead of recording as violations, summed
/// over the clients. With faults, DESIGN.md promises at-least-once delivery of every `sent`
/// message (duplicates dropped by `msgId`), not exactly-once or strict order, so those are
/// reported as figures; a loss of a `sent` message still fails the run.
struct ToleratedFaults: Sendable, Equatable, Codable {
    /// Sessions that closed mid-run and were reopened (rejoined with the nick's token).
    var reconnects = 0
    /// Sessions that closed mid-run (each then reconnects until it rejoins).
    var disconnects = 0
    /// `unavailable` answers: the message was not accepted and was retried with the same `id`.
    var unavailable = 0
    /// `rate_limited` answers to retries (not accepted; sent again later with the same `id`).
    var rateLimited = 0
    /// `unavailable` answers without an `id` (an `ack` while the broker was away: the messages come again).
    var unavailableWithoutId = 0
    /// Messages sent again with the same `id` (after `unavailable` or a reconnect).
    var resent = 0
    /// Deliveries of a message the client already had, dropped by `msgId`.
    var duplicatesDropped = 0
    /// Deliveries of a sender's message after a later one of the same sender (a retried message).
    var reordered = 0
    /// Public messages recovered from history (welcome, `history` pages) after a reconnect.
    var recoveredFromHistory = 0
    /// Clients whose view of who is online had not converged (every client online) at the end.
    var presenceNotConverged = 0
    /// `delivered` receipts that came before the `sent` of a retried message (kept until it).
    var earlyReceipts: [String: String] = [:]

    mutating func add(_ other: ToleratedFaults) {
        reconnects += other.reconnects
        disconnects += other.disconnects
        unavailable += other.unavailable
        rateLimited += other.rateLimited
        unavailableWithoutId += other.unavailableWithoutId
        resent += other.resent
        duplicatesDropped += other.duplicatesDropped
        reordered += other.reordered
        recoveredFromHistory += other.recoveredFromHistory
        presenceNotConverged += other.presenceNotConverged
    }

    var summary: String {
        "faults      \(disconnects) disconnects, \(reconnects) rejoins, \(unavailable) unavailable (+\(unavailableWithoutId) for acks), \(rateLimited) rate-limited retries, \(resent) resent, "
            + "\(duplicatesDropped) duplicates dropped, \(reordered) reordered, \(recoveredFromHistory) recovered from history, "
            + "\(presenceNotConverged) clients with presence not converged"
    }

    private enum CodingKeys: String, CodingKey {
        case reconnects, disconnects, unavailable, rateLimited, unavailableWithoutId, resent, duplicatesDropped, reordered, recoveredFromHistory,
            presenceNotConverged
    }
}

/// How a client of a fault-tolerant run recovers: the nodes it may reconnect to and the backoff.
struct FaultRecovery: Sendable {
    /// Every node of the run; a reconnecting client tries them in turn, starting with its own.
    var endpoints: [SockJSEndpoint]
    /// First and last delay between reconnect attempts (doubling, with jitter).
    var backoff: ClosedRange<Double> = 0.2...2.0
    /// Delay between rounds of resending messages refused as `unavailable` (same `id`).
    var retryDelay: Double = 0.5
    /// Messages resent per round: with the regular traffic, well under the server's 20 frames/s.
    var retryBatch = 5
    /// Messages per `history` page when catching up after a reconnect (the protocol's maximum).
    var historyPage = 100

    /// The delay before reconnect attempt `attempt` (0-based), with ±50 % jitter.
    func reconnectDelay(attempt: Int) -> Double {
        let base = min(backoff.upperBound, backoff.lowerBound * Double(1 << min(attempt, 16)))
        return base * Double.random(in: 0.5...1.5)
    }

    /// The node for reconnect attempt `attempt` of client `index`.
    func endpoint(for index: Int, attempt: Int) -> SockJSEndpoint {
        endpoints[(index + attempt) % endpoints.count]
    }
}

extension LoadRun {
    /// Fault-tolerant runs end by waiting (up to `timeout` seconds) until every client sees
    /// every client online: presence has converged after the faults. Returns how many had not.
    static func awaitPresence(_ users: [NIOLoopBound<SimulatedUser>], timeout: Double) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(timeout)
        while true {
            let stale = try await collect(users) { $0.presenceConverged ? 0 : 1 }.reduce(0, +)
            if stale == 0 || ContinuousClock.now >= deadline { return stale }
            try await Task.sleep(for: .milliseconds(250))
        }
    }
}

import NIOCore

/// `--rejoin-away`: once every client joined, all close their sessions at once, stay away a
/// few seconds, and come back at the ramp rate by their device session token (a join with no
/// password check and no new device: Specs/chat-protocol.md, "Devices"). The run measures
/// connect→welcome of these rejoins beside the first joins, then sends and verifies as usual.
/// Against a server from before device sessions the clients rejoin by the HMAC token, so one
/// LoadTester binary compares both in the same minute.
struct RejoinFigures: Sendable, Equatable, Codable {
    /// Clients that got their welcome again.
    var rejoined = 0
    /// Clients whose rejoin was refused or whose session closed before the welcome.
    var failed = 0
    /// Rejoins that named a device session token, and those that named the HMAC token.
    var bySession = 0
    var byToken = 0
    /// Rejoins whose welcome named another device than the first welcome did (or none): a
    /// rejoin by session token must reuse its device. A server without devices names none.
    var newDevice = 0

    mutating func add(_ other: RejoinFigures) {
        rejoined += other.rejoined
        failed += other.failed
        bySession += other.bySession
        byToken += other.byToken
        newDevice += other.newDevice
    }
}

extension LoadRun {
    /// Closes every client's session at once, waits `away` seconds, then rejoins them at the
    /// ramp rate and waits (bounded like the first joins) for every welcome. Returns the
    /// seconds from the first rejoin to the last welcome; throws when a client could not rejoin.
    func rejoinAll(
        _ users: [NIOLoopBound<SimulatedUser>],
        away: Double,
        counters: ProgressCounters,
        progress: ProgressPrinter,
        nextProgress: inout ContinuousClock.Instant
    ) async throws -> Double {
        _ = try await Self.collect(users) { $0.leaveForRejoin() }
        log("all \(users.count) clients left; rejoining by device session in \(Self.format(seconds: away))")
        try await Task.sleep(for: .milliseconds(Int(away * 1000)))
        let start = ContinuousClock.now
        try await ramp(users.count, phase: "rejoining", progress: progress, nextProgress: &nextProgress) { index in
            let user = users[index]
            user.eventLoop.execute { user.value.rejoinNow() }
        }
        try await settle(users.count, from: start, phase: "rejoining", progress: progress, nextProgress: &nextProgress) {
            counters.load(.rejoined) + counters.load(.failedToRejoin)
        }
        let seconds = (ContinuousClock.now - start).seconds
        let rejoined = counters.load(.rejoined)
        if rejoined < users.count { try await Self.fail(users, done: rejoined, verb: "rejoined", seconds: seconds) }
        log("all \(rejoined) clients rejoined in \(Self.format(seconds: seconds))")
        return seconds
    }
}

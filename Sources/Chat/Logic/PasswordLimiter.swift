import DequeModule

/// The password-attempt limits of one node (Specs/chat-protocol.md, "Rate limits"), as a value
/// with an injected clock: per nick at most `nickFailures` failed attempts per `nickWindow`
/// (a success clears the nick), per address at most `addressPerMinute` attempts per minute and
/// `addressPerHour` per hour, success or not.
///
/// Both maps are capped (`maxNicks`, `maxAddresses`, Specs/bounds.md). Entries whose window
/// has passed are pruned when a map is full; past the cap a nick or address not in the map yet
/// is refused (`rate_limited`) until an entry expires: full maps fail closed, so nobody can
/// flush a nick's failures by filling the map with others.
struct PasswordLimiter<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    enum Decision: Sendable, Hashable {
        case allowed
        /// Over a limit: wait this long before the next attempt.
        case limited(retryAfter: Duration)
    }

    struct Limits: Sendable, Hashable {
        var nickFailures = 5
        var nickWindow = Duration.seconds(15 * 60)
        var addressPerMinute = 20
        var addressPerHour = 100
        var maxNicks = 10_000
        var maxAddresses = 10_000
        /// Past a full map, how long a newcomer is told to wait.
        var fullRetry = Duration.seconds(60)
    }

    let limits: Limits
    /// Per nick, the instants of its failed attempts inside the window, oldest first.
    private(set) var nickFailures: [String: Deque<Instant>] = [:]
    /// Per address, the instants of its attempts inside the last hour, oldest first.
    private(set) var addressAttempts: [String: Deque<Instant>] = [:]

    init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Asks to try a password for `nick` from `address` at `now`. When allowed, the attempt is
    /// counted for the address at once; report its outcome with ``failed(nick:now:)`` or
    /// ``succeeded(nick:)``.
    mutating func attempt(nick: String, address: String, now: Instant) -> Decision {
        var wait = Duration.zero
        if var failures = nickFailures[nick] {
            Self.drop(&failures, before: now.advanced(by: .zero - limits.nickWindow))
            nickFailures[nick] = failures.isEmpty ? nil : failures
            if failures.count >= limits.nickFailures, let oldest = failures.first {
                wait = max(wait, now.duration(to: oldest.advanced(by: limits.nickWindow)))
            }
        }
        var attempts = addressAttempts[address] ?? []
        Self.drop(&attempts, before: now.advanced(by: .seconds(-3600)))
        if attempts.count >= limits.addressPerHour, let oldest = attempts.first {
            wait = max(wait, now.duration(to: oldest.advanced(by: .seconds(3600))))
        }
        let lastMinute = attempts.filter { now.advanced(by: .seconds(-60)) < $0 }
        if lastMinute.count >= limits.addressPerMinute, let oldest = lastMinute.first {
            wait = max(wait, now.duration(to: oldest.advanced(by: .seconds(60))))
        }
        if wait > .zero {
            addressAttempts[address] = attempts.isEmpty ? nil : attempts
            return .limited(retryAfter: wait)
        }
        if addressAttempts[address] == nil, addressAttempts.count >= limits.maxAddresses {
            pruneAddresses(now: now)
            if addressAttempts.count >= limits.maxAddresses { return .limited(retryAfter: limits.fullRetry) }
        }
        if nickFailures[nick] == nil, nickFailures.count >= limits.maxNicks {
            pruneNicks(now: now)
            if nickFailures.count >= limits.maxNicks { return .limited(retryAfter: limits.fullRetry) }
        }
        attempts.append(now)
        addressAttempts[address] = attempts
        return .allowed
    }

    /// An allowed attempt for `nick` had a wrong password.
    mutating func failed(nick: String, now: Instant) {
        var failures = nickFailures[nick] ?? []
        failures.append(now)
        while failures.count > limits.nickFailures { failures.removeFirst() }
        nickFailures[nick] = failures
    }

    /// An allowed attempt for `nick` had the right password: its failures are forgotten.
    mutating func succeeded(nick: String) {
        nickFailures.removeValue(forKey: nick)
    }

    private mutating func pruneNicks(now: Instant) {
        let horizon = now.advanced(by: .zero - limits.nickWindow)
        nickFailures = nickFailures.filter { $0.value.last.map { horizon < $0 } ?? false }
    }

    private mutating func pruneAddresses(now: Instant) {
        let horizon = now.advanced(by: .seconds(-3600))
        addressAttempts = addressAttempts.filter { $0.value.last.map { horizon < $0 } ?? false }
    }

    private static func drop(_ instants: inout Deque<Instant>, before horizon: Instant) {
        while let first = instants.first, !(horizon < first) { instants.removeFirst() }
    }
}

/// An instant of the chat's clock (``ChatClock``, milliseconds), for the password limits: a
/// test that moves its ``ManualChatClock`` moves the limits' windows too.
struct ChatClockInstant: InstantProtocol {
    var offset: Duration

    init(milliseconds: Int64) { offset = .milliseconds(milliseconds) }
    init(offset: Duration) { self.offset = offset }

    func advanced(by duration: Duration) -> ChatClockInstant { ChatClockInstant(offset: offset + duration) }
    func duration(to other: ChatClockInstant) -> Duration { other.offset - offset }
    static func < (lhs: ChatClockInstant, rhs: ChatClockInstant) -> Bool { lhs.offset < rhs.offset }
}

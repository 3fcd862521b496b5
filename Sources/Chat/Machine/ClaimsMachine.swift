/// The nick claims this node knows, and its own claims waiting for their record, as a value
/// that decides and an executor that acts (the shape of postgres-nio's `PoolStateMachine`,
/// like ``PublishMachine``).
///
/// Every node reads the claims stream in the same order, so a nick's first claim record
/// decides who holds it: two nodes racing for a nick agree on the winner. The machine keeps
/// that first record of every nick (with when it was last seen, for the bounded welcome),
/// decides how a `join` may take its nick, and answers each claim this node made once its
/// record comes back through the stream, or `unavailable` at its deadline or when the link is
/// lost. It also answers the roster lookups: the welcome's `users` and the `users` frame.
///
/// No clock is read here: the events that need the time carry it (`now`), and deadlines are
/// timers as values (``Action/startTimer(_:)``) that the executor runs and fires back.
struct ClaimsMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// A nick's first claim record: every node reads the same one, so it decides the claim.
    struct Claim: Sendable, Hashable {
        var marker: String
        /// ``NickToken/claimant(for:nonce:)`` of the join that made it, when it had a nonce.
        var claimant: String?
        /// When this node last saw the nick claimed, come online or go offline, in ticks of
        /// the machine's counter: the welcome lists the most recent ones.
        var seen: UInt64 = 0
    }

    enum Outcome: Sendable, Hashable { case won, taken, unavailable }

    /// What a join brings to prove the nick is its own.
    enum Token: Sendable, Hashable {
        case absent
        /// A token that ``NickToken/verify(_:for:)`` accepted.
        case valid
        case invalid
    }

    /// How a `join` may take its nick.
    enum Admission: Sendable, Hashable {
        /// The nick is this join's: go on.
        case granted
        /// A valid token for a nick this node has no claim record of (it aged out, or the
        /// claim is not read yet): a claim record is published (marker `token/<node>`), then on.
        case grantedRecordingClaim
        /// The token is not the nick's: `auth_failed`.
        case badToken
        /// Claimed by someone else: `auth_failed`.
        case taken
        /// Not claimed: claim it (``claim(_:claimant:queueExists:marker:waiter:now:)``), after
        /// asking the broker whether its user queue exists when `checkQueue` (the claims
        /// stream no longer holds every claim ever made).
        case claim(checkQueue: Bool)
    }

    /// A claim's deadline: the executor fires ``timerFired(_:)`` with its marker once
    /// `deadline` has passed, unless an action cancelled it first.
    struct Timer: Sendable, Hashable {
        var marker: String
        var deadline: Instant
    }

    enum Action: Sendable, Hashable {
        case publishClaim(nick: String, marker: String, claimant: String?)
        case startTimer(Timer)
        case cancelTimer(marker: String)
        /// The join that waits as `waiter` has its claim's outcome.
        case answer(waiter: UInt64, Outcome)
        /// A nick was claimed: the welcome roster must list it from now on.
        case claimsChanged
    }

    /// A claim this node published and has not read back yet.
    private struct Pending: Sendable, Hashable {
        var nick: String
        var claimant: String?
        /// The user queue existed before the claim: only a first record of the same claimant wins.
        var queueExists: Bool
        var waiter: UInt64
    }

    /// How long a claim may take to come back through the stream.
    let claimTimeout: Duration
    /// The first claim record of every claimed nick, as read from the stream.
    private(set) var claims: [String: Claim] = [:]
    /// The claims stream began at offset 0 when this node first read it (nothing had aged out),
    /// so a nick without a claim record has no user queue either (no queue check).
    private(set) var streamComplete = false
    private var pending: [String: Pending] = [:]
    private var seenCounter: UInt64 = 0
    /// Every claimed nick, sorted, for `users` requests; nil after claims changed.
    private var sortedNicks: [String]?

    init(claimTimeout: Duration) {
        self.claimTimeout = claimTimeout
    }

    /// Claims published and not yet answered.
    var claimsInFlight: Int { pending.count }

    // MARK: Events

    /// The first record read from the claims stream has `offset`.
    mutating func streamBegins(at offset: Int64) {
        streamComplete = offset == 0
    }

    /// How a join of `nick` may take it, by what it brings: a token, or the claimant of its
    /// nonce (``NickToken/claimant(for:nonce:)``).
    func admission(of nick: String, token: Token, claimant: String?) -> Admission {
        switch token {
        case .invalid:
            return .badToken
        case .valid:
            return claims[nick] == nil ? .grantedRecordingClaim : .granted
        case .absent:
            if let first = claims[nick] {
                // Claimed already: by this very client when the first claim carries its nonce
                // (its earlier attempt was answered `unavailable` but the claim still won).
                guard let claimant, first.claimant == claimant else { return .taken }
                return .granted
            }
            return .claim(checkQueue: !streamComplete)
        }
    }

    /// Claims `nick` with a record marked `marker`, for the join waiting as `waiter`: its
    /// record must be the first one for the nick in the stream. A first record with the same
    /// `claimant` (an earlier attempt of the same join, on any node) is a win too.
    /// - Parameter queueExists: whether the broker found the nick's user queue (nil: it could
    ///   not say; false also when not asked). A queue without a claim record in the stream (it
    ///   aged out) means the nick is taken; only the claim's own client (same nonce) goes on,
    ///   to find its record.
    mutating func claim(_ nick: String, claimant: String?, queueExists: Bool?, marker: String, waiter: UInt64, now: Instant) -> [Action] {
        guard let queueExists else { return [.answer(waiter: waiter, .unavailable)] }
        if queueExists, claimant == nil { return [.answer(waiter: waiter, .taken)] }
        pending[marker] = Pending(nick: nick, claimant: claimant, queueExists: queueExists, waiter: waiter)
        return [
            .startTimer(Timer(marker: marker, deadline: now.advanced(by: claimTimeout))),
            .publishClaim(nick: nick, marker: marker, claimant: claimant),
        ]
    }

    /// A claim record read from the stream: the first one of a nick decides it; one this node
    /// published answers its join.
    mutating func record(nick: String, marker: String, claimant: String?) -> [Action] {
        var actions: [Action] = []
        if claims[nick] == nil {
            claims[nick] = Claim(marker: marker, claimant: claimant, seen: nextSeen())
            sortedNicks = nil
            actions.append(.claimsChanged)
        }
        guard let mine = pending.removeValue(forKey: marker) else { return actions }
        let outcome: Outcome
        // `claims[nick]` exists: this record set it, or an earlier one did.
        let first = claims[nick] ?? Claim(marker: marker, claimant: claimant)
        if first.marker == marker {
            outcome = mine.queueExists ? .taken : .won
        } else if let claimant = mine.claimant, first.claimant == claimant {
            outcome = .won
        } else {
            outcome = .taken
        }
        actions += [.cancelTimer(marker: marker), .answer(waiter: mine.waiter, outcome)]
        return actions
    }

    /// A claim's record did not come back in time: its join is `unavailable` (the claim may
    /// still win; a retry with the same nonce then gets the nick).
    mutating func timerFired(_ marker: String) -> [Action] {
        guard let mine = pending.removeValue(forKey: marker) else { return [] }
        return [.answer(waiter: mine.waiter, .unavailable)]
    }

    /// The broker connection is gone: every claim waiting for its record is `unavailable`.
    mutating func linkLost() -> [Action] {
        var actions: [Action] = []
        for (marker, mine) in pending.sorted(by: { $0.value.waiter < $1.value.waiter }) {
            actions += [.cancelTimer(marker: marker), .answer(waiter: mine.waiter, .unavailable)]
        }
        pending.removeAll()
        return actions
    }

    /// `nick` came online or went offline: it is seen now (if claimed).
    mutating func seen(_ nick: String) {
        guard claims[nick] != nil else { return }
        let tick = nextSeen()
        claims[nick]?.seen = tick
    }

    private mutating func nextSeen() -> UInt64 {
        seenCounter += 1
        return seenCounter
    }

    // MARK: Lookups

    /// The welcome's `users` before the joining nick is added: every online nick, then the
    /// most recently seen offline ones, `cap` at most (the joining nick is added when not
    /// among them), sorted by nick (Specs/chat-protocol.md, "The bounded welcome").
    func welcomeRosterUsers(cap: Int, isOnline: (String) -> Bool) -> [UserStatus] {
        let cap = max(0, cap)
        guard claims.count > cap else {
            return claims.keys.sorted().map { UserStatus(nick: $0, online: isOnline($0)) }
        }
        // Online first, then by how recently seen; ties (none: ticks are unique) by nick.
        var ranked: [(nick: String, online: Bool, seen: UInt64)] = []
        ranked.reserveCapacity(claims.count)
        for (nick, claim) in claims { ranked.append((nick, isOnline(nick), claim.seen)) }
        ranked.sort { a, b in
            if a.online != b.online { return a.online }
            return a.seen > b.seen
        }
        return ranked.prefix(cap).map { UserStatus(nick: $0.nick, online: $0.online) }.sorted { $0.nick < $1.nick }
    }

    /// The answer to `users`: the claimed nicks starting with `prefix`, sorted, at most `limit`.
    mutating func findUsers(prefix: String, limit: Int, isOnline: (String) -> Bool) -> UsersList {
        let nicks: [String]
        if let sortedNicks {
            nicks = sortedNicks
        } else {
            nicks = claims.keys.sorted()
            sortedNicks = nicks
        }
        // The first nick not below `prefix` (binary search), then those that start with it.
        var low = 0
        var high = nicks.count
        while low < high {
            let mid = (low + high) / 2
            if nicks[mid] < prefix { low = mid + 1 } else { high = mid }
        }
        var users: [UserStatus] = []
        var index = low
        while index < nicks.count, users.count <= limit, nicks[index].hasPrefix(prefix) {
            users.append(UserStatus(nick: nicks[index], online: isOnline(nicks[index])))
            index += 1
        }
        let more = users.count > limit
        if more { users.removeLast() }
        return UsersList(prefix: prefix, users: users, more: more)
    }
}

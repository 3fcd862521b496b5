import DequeModule

/// The accounts this node knows (nicks protected by a password) and its password derivations,
/// as a value that decides and an executor that acts (like ``ClaimsMachine``).
///
/// Every node reads the `chat.state` stream from its first record, so every node folds the same
/// `password` and `delete` records: per nick the newest record (by `ts`; on a tie the one read
/// last) decides. An account made by an operator (`rabbitChat user add`) stays operator-made
/// through later password changes until it is deleted: under `--registration closed` only
/// those nicks may join.
///
/// scrypt is slow on purpose, so at most `maxRunning` derivations run at once per node, off the
/// actor (``Action/derive(_:)``); up to `maxWaiting` more wait their turn in arrival order, and
/// past that a request is refused (``Action/refuse(_:)``, `unavailable`).
struct AccountsMachine<Job: Sendable & Hashable>: Sendable {
    struct Account: Sendable, Hashable {
        var hash: PasswordHash
        var ts: Int64
        var operatorMade: Bool
    }

    /// A record of the `chat.state` stream this machine folds.
    enum Record: Sendable, Hashable {
        case password(nick: String, hash: PasswordHash, ts: Int64, byOperator: Bool)
        case delete(nick: String, ts: Int64)
    }

    /// How a `join` of a nick may go on, before any password is derived.
    enum JoinCheck: Sendable, Hashable {
        /// No account: as before issue 16 (a free nick is claimed, a valid token takes it).
        case open
        /// Protected: the join's password must match this hash (derive it off the actor).
        case verify(PasswordHash)
        /// `auth_failed`: a protected nick joined without a password, or a password join of a
        /// nick that has none.
        case authFailed
        /// `registration_closed`: no operator-made account for the nick.
        case registrationClosed
    }

    enum Action: Sendable, Hashable {
        /// Run this derivation now, off the actor; report its end with ``derivationEnded()``.
        case derive(Job)
        /// Too many waiting: answer `unavailable`.
        case refuse(Job)
    }

    let maxRunning: Int
    let maxWaiting: Int
    private(set) var accounts: [String: Account] = [:]
    /// The newest `ts` read per nick, deletes included (a delete keeps its nick's `ts` so an
    /// older password record read later cannot bring the account back).
    private var newest: [String: Int64] = [:]
    private(set) var running = 0
    private(set) var waiting: Deque<Job> = []

    init(maxRunning: Int = 2, maxWaiting: Int = 32) {
        self.maxRunning = maxRunning
        self.maxWaiting = maxWaiting
    }

    /// The node read `record` from `chat.state`.
    mutating func read(_ record: Record) {
        switch record {
        case .password(let nick, let hash, let ts, let byOperator):
            if let seen = newest[nick], ts < seen { return }
            newest[nick] = ts
            let operatorMade = byOperator || (accounts[nick]?.operatorMade ?? false)
            accounts[nick] = Account(hash: hash, ts: ts, operatorMade: operatorMade)
        case .delete(let nick, let ts):
            if let seen = newest[nick], ts < seen { return }
            newest[nick] = ts
            accounts.removeValue(forKey: nick)
        }
    }

    /// How a join of `nick` goes on: `withPassword` when it brings one, `registrationClosed`
    /// under `--registration closed`.
    func check(nick: String, withPassword: Bool, registrationClosed: Bool) -> JoinCheck {
        guard let account = accounts[nick] else {
            if registrationClosed { return .registrationClosed }
            return withPassword ? .authFailed : .open
        }
        if registrationClosed, !account.operatorMade { return .registrationClosed }
        return withPassword ? .verify(account.hash) : .authFailed
    }

    /// A derivation is asked for (a password join or `setPassword`).
    mutating func requestDerivation(_ job: Job) -> [Action] {
        if running < maxRunning {
            running += 1
            return [.derive(job)]
        }
        guard waiting.count < maxWaiting else { return [.refuse(job)] }
        waiting.append(job)
        return []
    }

    /// A derivation ended (whatever its result): the next waiting one starts.
    mutating func derivationEnded() -> [Action] {
        guard running > 0 else { return [] }
        if let next = waiting.popFirst() { return [.derive(next)] }
        running -= 1
        return []
    }
}

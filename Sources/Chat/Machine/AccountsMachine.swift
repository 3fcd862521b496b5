import Crypto
import DequeModule
import FoundationEssentials

/// The accounts and devices this node knows, and its sign-in decisions, as a value that decides
/// and an executor that acts (like ``ClaimsMachine``).
///
/// Every node reads the `chat.state` stream from its first record, so every node folds the same
/// records. `password` and `delete`: per nick the newest record (by `ts`; on a tie the one read
/// last) decides. An account made by an operator (`rabbitChat user add`) stays operator-made
/// through later password changes until it is deleted: under `--registration closed` only
/// those nicks may join. `device`, `seen` and `revoke` apply in stream order (the same on every
/// node): a device is known from its record on, a revocation ends it, and a nick holds at most
/// ``maxDevices`` devices (the least recently seen goes when one more is read).
///
/// It decides every sign-in (``signIn(_:registrationClosed:now:)``): which check a join needs
/// (none, a session token, a password), the password limits' verdict (``PasswordLimiter``),
/// which error, whether scrypt runs and what it recorded (``passwordChecked(nick:_:now:)``).
/// The executor only derives (off the actor) and publishes.
///
/// scrypt is slow on purpose, so at most `maxRunning` derivations run at once per node, off the
/// actor (``Action/derive(_:)``); up to `maxWaiting` more wait their turn in arrival order, and
/// past that a request is refused (``Action/refuse(_:)``, `unavailable`).
struct AccountsMachine<Job: Sendable & Hashable>: Sendable {
    typealias Limiter = PasswordLimiter<ChatClockInstant>

    struct Account: Sendable, Hashable {
        var hash: PasswordHash
        var ts: Int64
        var operatorMade: Bool
    }

    /// One signed-in browser of a nick: the `device` record, as folded.
    struct Device: Sendable, Hashable {
        var id: String
        var label: String
        /// `SHA-256(session token)`, base64url (``sessionHash(_:)``); the token itself is never kept.
        var sessionHash: String
        var created: Int64
        var lastSeen: Int64
    }

    /// A record of the `chat.state` stream this machine folds.
    enum Record: Sendable, Hashable {
        case password(nick: String, hash: PasswordHash, ts: Int64, byOperator: Bool)
        /// The same password hashed again with stronger parameters at a sign-in. It replaces
        /// only the hash whose salt is `replacing` (a password changed meanwhile, on any node,
        /// wins), and keeps that record's `ts`, so it never outranks a change.
        case rehash(nick: String, hash: PasswordHash, replacing: [UInt8], ts: Int64)
        case delete(nick: String, ts: Int64)
        /// A new device (`ts`: when it was made).
        case device(nick: String, id: String, label: String, sessionHash: String, ts: Int64)
        /// The device joined again at `ts` (published at most once per ``seenInterval``).
        case seen(nick: String, id: String, ts: Int64)
        /// These devices are signed out.
        case revoke(nick: String, devices: [String], ts: Int64)
        /// Every device of the nick read before this record is signed out.
        case revokeAll(nick: String, ts: Int64)

        var nick: String {
            switch self {
            case .password(let nick, _, _, _), .rehash(let nick, _, _, _), .delete(let nick, _), .device(let nick, _, _, _, _), .seen(let nick, _, _),
                .revoke(let nick, _, _),
                .revokeAll(let nick, _):
                nick
            }
        }
    }

    /// What a `join` brings to prove its nick.
    struct Credentials: Sendable, Hashable {
        var nick: String
        var password: String?
        var session: String?
        /// The client's address, for the password limits.
        var address: String

        init(nick: String, password: String? = nil, session: String? = nil, address: String) {
            self.nick = nick
            self.password = password
            self.session = session
            self.address = address
        }
    }

    /// How a `join` may go on, once decided.
    enum Admission: Sendable, Hashable {
        /// No account and no session token: as before issue 16 (a free nick is claimed, a valid
        /// HMAC token takes it); a new device follows.
        case open
        /// The password matched: the nick is the join's (as with a valid token); a new device follows.
        case signedIn
        /// A valid session token of this device: the nick is the join's, no new device;
        /// `refreshSeen`: publish a `seen` record (its last one is an hour old or more).
        case device(id: String, refreshSeen: Bool)
        /// Answer with this error.
        case refused(ChatProtocolError)
    }

    /// What a `join` needs first (``signIn(_:registrationClosed:now:)``).
    enum SignIn: Sendable, Hashable {
        case decided(Admission)
        /// Protected: derive the join's password against this hash, off the actor, then
        /// ``passwordChecked(nick:_:now:)``.
        case verify(PasswordHash)
    }

    /// How a password derivation ended, as the executor saw it.
    enum Verification: Sendable, Hashable {
        case matched
        case mismatched
        /// The stored parameters are not ones this node derives with.
        case unusable
        /// No place to run it (too many waiting).
        case busy
    }

    /// How a `setPassword` goes on.
    enum PasswordChange: Sendable, Hashable {
        /// The nick has a password: derive `current` against it, then ``currentChecked(nick:_:now:)``.
        case verifyCurrent(PasswordHash)
        /// Hash the new password (off the actor) and publish its record.
        case hashNew
        case refused(ChatProtocolError)
    }

    /// How a `signOut` goes on.
    enum SignOutDecision: Sendable, Hashable {
        /// Publish `record` (confirmed), then ``signedOut(nick:devices:)`` with `devices` and
        /// answer `signedOut` with them.
        case publish(Record, devices: [String])
        case refused(ChatProtocolError)
    }

    enum Action: Sendable, Hashable {
        /// Run this derivation now, off the actor; report its end with ``derivationEnded()``.
        case derive(Job)
        /// Too many waiting: answer `unavailable`.
        case refuse(Job)
        /// The device awaited by `Job` was read from the stream (true), or will not be in time (false).
        case deviceRecorded(Job, Bool)
        /// Every live session of `nick` on one of `devices` ends: close it with 4005 `Signed out`.
        case signOut(nick: String, devices: [String])
    }

    private struct DeviceKey: Sendable, Hashable {
        var nick: String
        var id: String
    }

    /// The most devices a nick holds (Specs/bounds.md); one more read revokes the least
    /// recently seen.
    static var maxDevices: Int { 50 }
    /// A device's `lastSeen` is published again at most this often (milliseconds).
    static var seenInterval: Int64 { 3_600_000 }

    let maxRunning: Int
    let maxWaiting: Int
    let maxDevices: Int
    private(set) var accounts: [String: Account] = [:]
    /// The newest `ts` read per nick, deletes included (a delete keeps its nick's `ts` so an
    /// older password record read later cannot bring the account back).
    private var newest: [String: Int64] = [:]
    /// Per nick, its devices by id.
    private(set) var devices: [String: [String: Device]] = [:]
    /// Every device by its session hash.
    private var bySession: [String: DeviceKey] = [:]
    /// Per nick, the `chat.state` offset of the newest `revoke` or `delete` read: a checkpoint
    /// made before it brings back none of the nick's devices (``readCheckpoint(nick:at:parts:)``).
    private var lastRevoke: [String: Int64] = [:]
    /// Joins waiting for their new device's record to come back through the stream.
    private(set) var awaited: [String: Job] = [:]
    private(set) var limiter: Limiter
    private(set) var running = 0
    private(set) var waiting: Deque<Job> = []

    init(maxRunning: Int = 2, maxWaiting: Int = 32, maxDevices: Int = Self.maxDevices, limits: Limiter.Limits = .init()) {
        self.maxRunning = maxRunning
        self.maxWaiting = maxWaiting
        self.maxDevices = maxDevices
        limiter = Limiter(limits: limits)
    }

    // MARK: The stream

    /// The node read `record` from `chat.state` (at `offset`, when the broker said).
    @discardableResult
    mutating func read(_ record: Record, offset: Int64? = nil) -> [Action] {
        switch record {
        case .delete(let nick, _), .revoke(let nick, _, _), .revokeAll(let nick, _):
            if let offset { lastRevoke[nick] = max(lastRevoke[nick] ?? offset, offset) }
        default:
            break
        }
        switch record {
        case .password(let nick, let hash, let ts, let byOperator):
            if let seen = newest[nick], ts < seen { return [] }
            newest[nick] = ts
            let operatorMade = byOperator || (accounts[nick]?.operatorMade ?? false)
            accounts[nick] = Account(hash: hash, ts: ts, operatorMade: operatorMade)
            return []
        case .rehash(let nick, let hash, let replacing, _):
            guard var account = accounts[nick], account.hash.salt == replacing else { return [] }
            account.hash = hash
            accounts[nick] = account
            return []
        case .delete(let nick, let ts):
            if let seen = newest[nick], ts < seen { return [] }
            newest[nick] = ts
            accounts.removeValue(forKey: nick)
            return []
        case .device(let nick, let id, let label, let sessionHash, let ts):
            var actions: [Action] = []
            if devices[nick]?[id] == nil, bySession[sessionHash] == nil {
                devices[nick, default: [:]][id] = Device(id: id, label: label, sessionHash: sessionHash, created: ts, lastSeen: ts)
                bySession[sessionHash] = DeviceKey(nick: nick, id: id)
                if let held = devices[nick], held.count > maxDevices,
                    let oldest = held.values.filter({ $0.id != id }).min(by: Self.lessRecentlySeen)
                {
                    actions += remove(nick: nick, ids: [oldest.id])
                }
            }
            if let job = awaited.removeValue(forKey: id) { actions.append(.deviceRecorded(job, devices[nick]?[id] != nil)) }
            return actions
        case .seen(let nick, let id, let ts):
            if let device = devices[nick]?[id], device.lastSeen < ts { devices[nick]?[id]?.lastSeen = ts }
            return []
        case .revoke(let nick, let ids, _):
            return remove(nick: nick, ids: ids)
        case .revokeAll(let nick, _):
            return remove(nick: nick, ids: devices[nick].map { Array($0.keys) } ?? [])
        }
    }

    /// The node read a `checkpoint` of `nick` made when its publisher had read `chat.state` up
    /// to `at`: its parts fold as if read here, except its devices when a `revoke` or `delete`
    /// of the nick was read after `at` (they may be signed out; the next checkpoint brings back
    /// the ones that live).
    @discardableResult
    mutating func readCheckpoint(nick: String, at: Int64, parts: [Record]) -> [Action] {
        let revokedSince = (lastRevoke[nick] ?? -1) > at
        var actions: [Action] = []
        for part in parts where part.nick == nick {
            switch part {
            case .device, .seen:
                if !revokedSince { actions += read(part) }
            case .password, .rehash, .delete:
                actions += read(part)
            case .revoke, .revokeAll:
                continue
            }
        }
        return actions
    }

    /// The records that carry `nick`'s account and devices now (for a checkpoint,
    /// ``StateRetentionMachine``): the password, then each device with its `seen`.
    func records(of nick: String) -> [Record] {
        var records: [Record] = []
        if let account = accounts[nick] { records.append(.password(nick: nick, hash: account.hash, ts: account.ts, byOperator: account.operatorMade)) }
        for device in (devices[nick] ?? [:]).values.sorted(by: { ($0.created, $0.id) < ($1.created, $1.id) }) {
            records.append(.device(nick: nick, id: device.id, label: device.label, sessionHash: device.sessionHash, ts: device.created))
            if device.lastSeen > device.created { records.append(.seen(nick: nick, id: device.id, ts: device.lastSeen)) }
        }
        return records
    }

    /// Least recently seen first; then the older, then by id (the same choice on every node).
    private static func lessRecentlySeen(_ a: Device, _ b: Device) -> Bool {
        (a.lastSeen, a.created, a.id) < (b.lastSeen, b.created, b.id)
    }

    private mutating func remove(nick: String, ids: [String]) -> [Action] {
        var removed: [String] = []
        for id in ids {
            guard let device = devices[nick]?.removeValue(forKey: id) else { continue }
            bySession.removeValue(forKey: device.sessionHash)
            removed.append(id)
        }
        if devices[nick]?.isEmpty == true { devices.removeValue(forKey: nick) }
        return removed.isEmpty ? [] : [.signOut(nick: nick, devices: removed.sorted())]
    }

    // MARK: Sign-in

    /// How a join of `credentials.nick` goes on: `registrationClosed` under `--registration closed`.
    /// A password is checked first (a new device follows), else a session token (no KDF: one
    /// SHA-256 and a lookup), else the nick must have no password.
    mutating func signIn(_ credentials: Credentials, registrationClosed: Bool, now: Int64) -> SignIn {
        let nick = credentials.nick
        let account = accounts[nick]
        if registrationClosed, account?.operatorMade != true { return .decided(.refused(Self.registrationClosedError)) }
        if credentials.password != nil {
            guard let account else { return .decided(.refused(Self.signInFailed)) }
            if let refusal = limit(nick: nick, address: credentials.address, now: now) { return .decided(.refused(refusal)) }
            return .verify(account.hash)
        }
        if let session = credentials.session {
            guard let key = bySession[Self.sessionHash(session)], key.nick == nick, let device = devices[nick]?[key.id] else {
                return .decided(.refused(Self.sessionFailed))
            }
            return .decided(.device(id: device.id, refreshSeen: now - device.lastSeen >= Self.seenInterval))
        }
        guard account == nil else { return .decided(.refused(Self.signInFailed)) }
        return .decided(.open)
    }

    /// The join's password was derived against the account's hash (or could not be).
    mutating func passwordChecked(nick: String, _ verification: Verification, now: Int64) -> Admission {
        switch verification {
        case .matched:
            limiter.succeeded(nick: nick)
            return .signedIn
        case .mismatched:
            limiter.failed(nick: nick, now: ChatClockInstant(milliseconds: now))
            return .refused(Self.signInFailed)
        case .unusable:
            return .refused(Self.signInFailed)
        case .busy:
            return .refused(Self.busy)
        }
    }

    /// After a password sign-in of `nick`: the account's hash when it was made with weaker
    /// parameters than this node's (`cost`, scrypt's `N`, or a smaller `r` or `p` than the
    /// defaults), to be derived again from the password just checked and published as a
    /// ``Record/rehash(nick:hash:replacing:ts:)``; nil when it is as strong (never weakened).
    func rehashNeeded(nick: String, cost: Int) -> PasswordHash? {
        guard let hash = accounts[nick]?.hash else { return nil }
        let weaker = hash.n < cost || hash.r < PasswordHash.defaultR || hash.p < PasswordHash.defaultP
        return weaker ? hash : nil
    }

    /// The record of a new device of `nick`; `id` and `token` are drawn at random by the caller.
    static func deviceRecord(nick: String, id: String, token: String, label: String, now: Int64) -> Record {
        .device(nick: nick, id: id, label: label, sessionHash: sessionHash(token), ts: now)
    }

    /// The device record of `id` was confirmed: `job` is answered when the stream brings it
    /// back (at once when it did already).
    mutating func awaitDevice(nick: String, id: String, job: Job) -> [Action] {
        if devices[nick]?[id] != nil { return [.deviceRecorded(job, true)] }
        awaited[id] = job
        return []
    }

    /// The device awaited under `id` did not come back in time.
    mutating func deviceWaitExpired(id: String) -> [Action] {
        guard let job = awaited.removeValue(forKey: id) else { return [] }
        return [.deviceRecorded(job, false)]
    }

    /// The link to the broker was lost: no awaited device will come back on it.
    mutating func linkLost() -> [Action] {
        let jobs = awaited.values
        awaited = [:]
        return jobs.map { .deviceRecorded($0, false) }
    }

    // MARK: Devices and sign-out

    /// The `devices` answer: `nick`'s devices, newest first, at most `limit`, `current` marked.
    func deviceList(of nick: String, current: String?, limit: Int = Self.maxDevices) -> [DeviceInfo] {
        let held = devices[nick].map { Array($0.values) } ?? []
        return held.sorted { ($0.created, $0.id) > ($1.created, $1.id) }.prefix(limit).map {
            DeviceInfo(id: $0.id, label: $0.label, created: $0.created, lastSeen: $0.lastSeen, current: $0.id == current)
        }
    }

    /// Whether `device` of `nick` is known and not signed out.
    func isSignedIn(nick: String, device: String) -> Bool {
        devices[nick]?[device] != nil
    }

    /// `signOut` from a session of `nick` on device `current`: one `device`, else every device
    /// (`everywhere`), else this one.
    func signOut(nick: String, current: String?, device: String?, everywhere: Bool, now: Int64) -> SignOutDecision {
        let held = devices[nick] ?? [:]
        if everywhere {
            let ids = held.values.sorted { ($0.created, $0.id) > ($1.created, $1.id) }.map(\.id)
            return .publish(.revokeAll(nick: nick, ts: now), devices: ids)
        }
        guard let id = device ?? current, held[id] != nil else {
            return .refused(ChatProtocolError(.unknownDevice, "No device of yours has that id: ask 'devices' for the ids, then sign out one of them."))
        }
        return .publish(.revoke(nick: nick, devices: [id], ts: now), devices: [id])
    }

    /// This node's `revoke` record was confirmed: the devices it named end here at once (the
    /// stream brings the record back to every node, this one included, where it ends nothing more).
    mutating func signedOut(nick: String, devices ids: [String]) -> [Action] {
        remove(nick: nick, ids: ids)
    }

    // MARK: setPassword

    /// `setPassword` from a session of `nick`: the current password is checked first when the
    /// nick has one (under the password limits).
    mutating func changePassword(nick: String, current: String?, address: String, now: Int64) -> PasswordChange {
        guard let account = accounts[nick] else { return .hashNew }
        guard current != nil else {
            return .refused(ChatProtocolError(.authFailed, "Your nick has a password: send it as 'current' to change it."))
        }
        if let refusal = limit(nick: nick, address: address, now: now) { return .refused(refusal) }
        return .verifyCurrent(account.hash)
    }

    /// The `current` password was derived against the account's hash (or could not be).
    mutating func currentChecked(nick: String, _ verification: Verification, now: Int64) -> PasswordChange {
        switch verification {
        case .matched:
            limiter.succeeded(nick: nick)
            return .hashNew
        case .mismatched:
            limiter.failed(nick: nick, now: ChatClockInstant(milliseconds: now))
            return .refused(Self.notCurrent)
        case .unusable:
            return .refused(Self.notCurrent)
        case .busy:
            return .refused(Self.busy)
        }
    }

    // MARK: Derivations

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

    // MARK: Helpers

    private mutating func limit(nick: String, address: String, now: Int64) -> ChatProtocolError? {
        guard case .limited(let wait) = limiter.attempt(nick: nick, address: address, now: ChatClockInstant(milliseconds: now)) else { return nil }
        let seconds = max(1, wait.components.seconds + (wait.components.attoseconds > 0 ? 1 : 0))
        return ChatProtocolError(.rateLimited, "Too many password attempts: wait \(seconds) seconds, then try again.")
    }

    /// `SHA-256(token)` as base64url without padding: what a `device` record keeps.
    static func sessionHash(_ token: String) -> String {
        NickToken.base64URL(Data(SHA256.hash(data: Data(token.utf8))))
    }

    static var signInFailed: ChatProtocolError { ChatProtocolError(.authFailed, ClientFrame.signInFailed) }
    static var sessionFailed: ChatProtocolError { ChatProtocolError(.authFailed, ClientFrame.sessionFailed) }
    static var notCurrent: ChatProtocolError {
        ChatProtocolError(.authFailed, "That is not your current password: send it as 'current' to change your password.")
    }
    static var busy: ChatProtocolError {
        ChatProtocolError(.unavailable, "Too many sign-ins at once on this server: try again in a few seconds.")
    }
    static var registrationClosedError: ChatProtocolError {
        ChatProtocolError(.registrationClosed, "This server admits only accounts made by its operator: ask the operator for an account.")
    }
}

import FoundationEssentials

/// A record of the `chat.state` stream (Specs/amqp-topology.md, "Message bodies"), as JSON:
/// `{"kind":"password","nick":"alice","kdf":"scrypt","N":32768,"r":8,"p":1,"salt":"<base64>",
/// "hash":"<base64>","ts":1700000000000,"by":"user"}`, `{"kind":"delete","nick":"alice","ts":...}`,
/// `{"kind":"device","nick":"alice","id":"d7f3a1c09b2e","label":"Firefox on laptop","session":"<base64url SHA-256 of the token>","ts":...}`,
/// `{"kind":"seen","nick":"alice","id":"d7f3a1c09b2e","ts":...}`, `{"kind":"revoke","nick":"alice","devices":["d7f3a1c09b2e"],"ts":...}`
/// or `{"kind":"revoke","nick":"alice","all":true,"ts":...}`; a `rehash` has the fields of `password`
/// without `by`, and `"replaces":"<base64 salt of the hash it replaces>"`.
/// `{"kind":"read","nick":"alice","room":"lobby","upTo":1041,"ts":...,"origin":"a/17"}`,
/// `{"kind":"settings","nick":"alice","privateReceipts":false,"ts":...}` and
/// `{"kind":"checkpoint","nick":"alice","at":5120,"ts":...,"records":[...]}` (the nick's whole
/// state as records of the kinds above). Every record a node publishes names it in `node`.
/// Other kinds (for later parts of issue 16) are skipped by this version.
struct StateRecord: Sendable, Hashable, Codable {
    var kind: String
    var nick: String
    var kdf: String?
    var n: Int?
    var r: Int?
    var p: Int?
    var salt: String?
    var hash: String?
    var ts: Int64
    /// `operator` for a record of `rabbitChat user add` / `user passwd`, `user` for `setPassword`.
    var by: String?
    /// A device's id (`device`, `seen`).
    var id: String?
    /// A device's label (`device`).
    var label: String?
    /// `SHA-256(session token)`, base64url (`device`).
    var session: String?
    /// The devices a `revoke` ends.
    var devices: [String]?
    /// A `revoke` of every device of the nick.
    var all: Bool?
    /// The salt (base64) of the hash a `rehash` replaces.
    var replaces: String?
    /// The node that published the record (``StateRetentionMachine``'s owner rule).
    var node: String?
    /// `read`: the conversation (`room`, or later `with`), the position and the sending session.
    var room: String?
    var with: String?
    var upTo: Int64?
    var origin: String?
    /// `settings`.
    var privateReceipts: Bool?
    /// `checkpoint`: the `chat.state` offset its publisher had read, and the nick's records.
    var at: Int64?
    var records: [StateRecord]?

    enum CodingKeys: String, CodingKey {
        case kind, nick, kdf, r, p, salt, hash, ts, by, id, label, session, devices, all, replaces, node, room, with, upTo, origin, privateReceipts, at,
            records
        case n = "N"
    }

    init(
        kind: String, nick: String, kdf: String? = nil, n: Int? = nil, r: Int? = nil, p: Int? = nil, salt: String? = nil, hash: String? = nil, ts: Int64,
        by: String? = nil, id: String? = nil, label: String? = nil, session: String? = nil, devices: [String]? = nil, all: Bool? = nil,
        replaces: String? = nil
    ) {
        self.kind = kind
        self.nick = nick
        self.kdf = kdf
        self.n = n
        self.r = r
        self.p = p
        self.salt = salt
        self.hash = hash
        self.ts = ts
        self.by = by
        self.id = id
        self.label = label
        self.session = session
        self.devices = devices
        self.all = all
        self.replaces = replaces
    }

    /// The record of `record`, as it goes to `chat.state`.
    init<Job>(_ record: AccountsMachine<Job>.Record) {
        switch record {
        case .password(let nick, let hash, let ts, let byOperator):
            self = .password(nick: nick, hash: hash, ts: ts, byOperator: byOperator)
        case .rehash(let nick, let hash, let replacing, let ts):
            self.init(
                kind: "rehash", nick: nick, kdf: "scrypt", n: hash.n, r: hash.r, p: hash.p,
                salt: Data(hash.salt).base64EncodedString(), hash: Data(hash.hash).base64EncodedString(), ts: ts,
                replaces: Data(replacing).base64EncodedString())
        case .delete(let nick, let ts):
            self = .delete(nick: nick, ts: ts)
        case .device(let nick, let id, let label, let sessionHash, let ts):
            self.init(kind: "device", nick: nick, ts: ts, id: id, label: label, session: sessionHash)
        case .seen(let nick, let id, let ts):
            self.init(kind: "seen", nick: nick, ts: ts, id: id)
        case .revoke(let nick, let devices, let ts):
            self.init(kind: "revoke", nick: nick, ts: ts, devices: devices)
        case .revokeAll(let nick, let ts):
            self.init(kind: "revoke", nick: nick, ts: ts, all: true)
        }
    }

    /// The record of a read-state record.
    init<Session>(_ record: ReadStateMachine<Session>.Record) {
        switch record {
        case .read(let nick, let conversation, let upTo, let origin):
            self.init(kind: "read", nick: nick, ts: 0)
            switch conversation {
            case .room(let room): self.room = room
            case .direct(let with): self.with = with
            }
            self.upTo = upTo
            self.origin = origin
        case .settings(let nick, let privateReceipts, let ts, let origin):
            self.init(kind: "settings", nick: nick, ts: ts)
            self.privateReceipts = privateReceipts
            self.origin = origin
        }
    }

    /// A `checkpoint` of `nick`: `parts` are its records, `at` the offset its publisher had read.
    static func checkpoint(nick: String, at: Int64, ts: Int64, parts: [StateRecord]) -> StateRecord {
        var record = StateRecord(kind: "checkpoint", nick: nick, ts: ts)
        record.at = at
        record.records = parts
        return record
    }

    /// The most records one `checkpoint` holds: a password, 50 devices and their `seen`, 500
    /// read positions and the settings fit (a hostile record holding more is skipped).
    static let maxCheckpointParts = 1200

    /// What a `chat.state` record means, for the machine that folds it.
    enum Entry: Sendable, Hashable {
        case account(AccountsMachine<UInt64>.Record)
        case readState(ReadStateMachine<UInt64>.Record)
        case checkpoint(nick: String, at: Int64, accounts: [AccountsMachine<UInt64>.Record], readState: [ReadStateMachine<UInt64>.Record])
    }

    /// The entry of `body` (nil: not well formed, or a kind this version does not read) and the
    /// node that published it.
    static func decodeEntry(_ body: [UInt8]) -> (entry: Entry?, nick: String?, node: String?) {
        guard let record = try? JSONDecoder().decode(StateRecord.self, from: Data(body)), !record.nick.isEmpty else { return (nil, nil, nil) }
        return (entry(of: record), record.nick, record.node)
    }

    private static func entry(of record: StateRecord) -> Entry? {
        switch record.kind {
        case "read", "settings":
            return readState(record).map { .readState($0) }
        case "checkpoint":
            guard let at = record.at, let parts = record.records, parts.count <= maxCheckpointParts, parts.allSatisfy({ $0.nick == record.nick })
            else { return nil }
            var accounts: [AccountsMachine<UInt64>.Record] = []
            var reads: [ReadStateMachine<UInt64>.Record] = []
            for part in parts {
                if let value = readState(part) {
                    reads.append(value)
                } else if part.kind != "checkpoint", let value = account(part) {
                    accounts.append(value)
                }
            }
            return .checkpoint(nick: record.nick, at: at, accounts: accounts, readState: reads)
        default:
            return account(record).map { .account($0) }
        }
    }

    private static func readState(_ record: StateRecord) -> ReadStateMachine<UInt64>.Record? {
        switch record.kind {
        case "read":
            guard let upTo = record.upTo, upTo >= 0, let room = record.room, record.with == nil, ChatName.isValid(room) else { return nil }
            return .read(nick: record.nick, conversation: .room(room), upTo: upTo, origin: record.origin)
        case "settings":
            guard let privateReceipts = record.privateReceipts else { return nil }
            return .settings(nick: record.nick, privateReceipts: privateReceipts, ts: record.ts, origin: record.origin)
        default:
            return nil
        }
    }

    private static func account(_ record: StateRecord) -> AccountsMachine<UInt64>.Record? {
        accountRecord(record, as: AccountsMachine<UInt64>.self)
    }

    /// The most devices one `revoke` record names (a hostile record naming more is skipped).
    static let maxRevokedDevices = 1000

    static func password(nick: String, hash: PasswordHash, ts: Int64, byOperator: Bool) -> StateRecord {
        StateRecord(
            kind: "password", nick: nick, kdf: "scrypt", n: hash.n, r: hash.r, p: hash.p,
            salt: Data(hash.salt).base64EncodedString(), hash: Data(hash.hash).base64EncodedString(), ts: ts,
            by: byOperator ? "operator" : "user")
    }

    static func delete(nick: String, ts: Int64) -> StateRecord {
        StateRecord(kind: "delete", nick: nick, ts: ts)
    }

    func encoded() -> [UInt8] {
        // A struct of strings and integers always encodes.
        (try? Array(JSONEncoder().encode(self))) ?? []
    }

    /// The record in `body`, as ``AccountsMachine`` folds it; nil for another kind or a record
    /// that is not well formed (a hostile or newer record is skipped, never trusted).
    static func decode<Job>(_ body: [UInt8], as: AccountsMachine<Job>.Type = AccountsMachine<Job>.self) -> AccountsMachine<Job>.Record? {
        guard let record = try? JSONDecoder().decode(StateRecord.self, from: Data(body)), !record.nick.isEmpty else { return nil }
        return accountRecord(record)
    }

    /// ``decode(_:as:)`` of a parsed record.
    static func accountRecord<Job>(_ record: StateRecord, as: AccountsMachine<Job>.Type = AccountsMachine<Job>.self) -> AccountsMachine<Job>.Record? {
        switch record.kind {
        case "password":
            guard let value = record.passwordHash else { return nil }
            return .password(nick: record.nick, hash: value, ts: record.ts, byOperator: record.by == "operator")
        case "rehash":
            guard let value = record.passwordHash, let replaces = record.replaces.flatMap({ Data(base64Encoded: $0) }),
                replaces.count >= 8, replaces.count <= 64
            else { return nil }
            return .rehash(nick: record.nick, hash: value, replacing: Array(replaces), ts: record.ts)
        case "delete":
            return .delete(nick: record.nick, ts: record.ts)
        case "device":
            guard let id = record.id, isDeviceId(id), let label = record.label, label.unicodeScalars.count <= 64,
                let session = record.session, session.utf8.count == 43
            else { return nil }
            return .device(nick: record.nick, id: id, label: label, sessionHash: session, ts: record.ts)
        case "seen":
            guard let id = record.id, isDeviceId(id) else { return nil }
            return .seen(nick: record.nick, id: id, ts: record.ts)
        case "revoke":
            if record.all == true { return .revokeAll(nick: record.nick, ts: record.ts) }
            guard let devices = record.devices, devices.count <= maxRevokedDevices, devices.allSatisfy(isDeviceId) else { return nil }
            return .revoke(nick: record.nick, devices: devices, ts: record.ts)
        default:
            return nil
        }
    }

    /// 12 lowercase hex digits.
    static func isDeviceId(_ id: String) -> Bool {
        id.utf8.count == 12 && id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}

extension StateRecord {
    /// The scrypt hash of a `password` or `rehash` record; nil when a field is missing or out
    /// of range (the parameters themselves are checked when a derivation uses them).
    fileprivate var passwordHash: PasswordHash? {
        guard kdf == "scrypt", let n, let r, let p, let salt = salt.flatMap({ Data(base64Encoded: $0) }),
            let hash = hash.flatMap({ Data(base64Encoded: $0) }), salt.count >= 8, salt.count <= 64, hash.count == PasswordHash.hashBytes
        else { return nil }
        return PasswordHash(n: n, r: r, p: p, salt: Array(salt), hash: Array(hash))
    }
}

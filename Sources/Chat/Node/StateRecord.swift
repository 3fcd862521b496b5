import FoundationEssentials

/// A record of the `chat.state` stream (Specs/amqp-topology.md, "Message bodies"), as JSON:
/// `{"kind":"password","nick":"alice","kdf":"scrypt","N":32768,"r":8,"p":1,"salt":"<base64>",
/// "hash":"<base64>","ts":1700000000000,"by":"user"}`, `{"kind":"delete","nick":"alice","ts":...}`,
/// `{"kind":"device","nick":"alice","id":"d7f3a1c09b2e","label":"Firefox on laptop","session":"<base64url SHA-256 of the token>","ts":...}`,
/// `{"kind":"seen","nick":"alice","id":"d7f3a1c09b2e","ts":...}`, `{"kind":"revoke","nick":"alice","devices":["d7f3a1c09b2e"],"ts":...}`
/// or `{"kind":"revoke","nick":"alice","all":true,"ts":...}`; a `rehash` has the fields of `password`
/// without `by`, and `"replaces":"<base64 salt of the hash it replaces>"`.
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

    enum CodingKeys: String, CodingKey {
        case kind, nick, kdf, r, p, salt, hash, ts, by, id, label, session, devices, all, replaces
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

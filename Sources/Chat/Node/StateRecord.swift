import FoundationEssentials

/// A record of the `chat.state` stream (Specs/amqp-topology.md, "Message bodies"), as JSON:
/// `{"kind":"password","nick":"alice","kdf":"scrypt","N":32768,"r":8,"p":1,"salt":"<base64>",
/// "hash":"<base64>","ts":1700000000000,"by":"user"}`, or `{"kind":"delete","nick":"alice","ts":...}`.
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

    enum CodingKeys: String, CodingKey {
        case kind, nick, kdf, r, p, salt, hash, ts, by
        case n = "N"
    }

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
            guard record.kdf == "scrypt", let n = record.n, let r = record.r, let p = record.p,
                let salt = record.salt.flatMap({ Data(base64Encoded: $0) }), let hash = record.hash.flatMap({ Data(base64Encoded: $0) }),
                salt.count >= 8, salt.count <= 64, hash.count == PasswordHash.hashBytes
            else { return nil }
            let value = PasswordHash(n: n, r: r, p: p, salt: Array(salt), hash: Array(hash))
            return .password(nick: record.nick, hash: value, ts: record.ts, byOperator: record.by == "operator")
        case "delete":
            return .delete(nick: record.nick, ts: record.ts)
        default:
            return nil
        }
    }
}

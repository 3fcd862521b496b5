/// Every claimed nick and whether it is online, sorted by nick and encoded as the JSON array a
/// welcome's `users` holds, once. A node takes one per presence flush; each welcome until the
/// next flush copies its bytes with the joining nick marked online, so a crowd of N joins costs
/// N copies instead of N sorts and N encodings of an N-entry roster. Pure.
public struct RosterSnapshot: Sendable {
    /// The entries, sorted by nick, each nick once.
    public let users: [UserStatus]
    /// `[` + the entries' JSON separated by commas + `]`.
    private let json: [UInt8]
    /// Where each entry's JSON starts in `json`; one more element: the closing bracket.
    private let starts: [Int]

    /// - Parameter users: sorted by nick, each nick once (a node builds it from its claim
    ///   table's keys, sorted).
    public init(users: [UserStatus]) {
        self.users = users
        var json: [UInt8] = [UInt8(ascii: "[")]
        json.reserveCapacity(users.count * 40 + 2)
        var starts: [Int] = []
        starts.reserveCapacity(users.count + 1)
        for (index, user) in users.enumerated() {
            if index > 0 { json.append(UInt8(ascii: ",")) }
            starts.append(json.count)
            json.append(contentsOf: Self.entry(user).utf8)
        }
        starts.append(json.count)
        json.append(UInt8(ascii: "]"))
        self.json = json
        self.starts = starts
    }

    /// The `users` JSON with `nick` online: its entry replaced when listed, inserted in order
    /// when not (a nick claimed since the snapshot was taken).
    public func json(withOnline nick: String) -> String {
        let index = insertionIndex(of: nick)
        let replacing = index < users.count && users[index].nick == nick
        var out: [UInt8] = []
        out.reserveCapacity(json.count + 48)
        out.append(contentsOf: json[..<starts[index]])
        if !replacing, index == users.count, index > 0 { out.append(UInt8(ascii: ",")) }
        out.append(contentsOf: Self.entry(UserStatus(nick: nick, online: true)).utf8)
        if replacing {
            out.append(contentsOf: json[starts[index] + Self.entry(users[index]).utf8.count..<json.count])
        } else if index < users.count {
            out.append(UInt8(ascii: ","))
            out.append(contentsOf: json[starts[index]...])
        } else {
            out.append(UInt8(ascii: "]"))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The entries with `nick` online (what ``json(withOnline:)`` encodes).
    public func users(withOnline nick: String) -> [UserStatus] {
        var result = users
        let index = insertionIndex(of: nick)
        if index < users.count, users[index].nick == nick {
            result[index].online = true
        } else {
            result.insert(UserStatus(nick: nick, online: true), at: index)
        }
        return result
    }

    /// The first index whose nick is not below `nick` (binary search).
    private func insertionIndex(of nick: String) -> Int {
        var low = 0
        var high = users.count
        while low < high {
            let mid = (low + high) / 2
            if users[mid].nick < nick { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// One entry as the frame codec writes it (sorted keys). Valid names need no escaping;
    /// anything else goes through the codec.
    private static func entry(_ user: UserStatus) -> String {
        guard ChatName.isValid(user.nick) else { return ChatFrameCodec.encodeValue(user) }
        return #"{"nick":""# + user.nick + (user.online ? #"","online":true}"# : #"","online":false}"#)
    }
}

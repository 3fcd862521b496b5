import Chat

/// The fast path for the two nested frames whose size grows with the chat: `welcome` (its
/// roster lists every claimed nick) and `presence` (lists of nicks). A client of a big chat
/// gets one welcome of N entries and a stream of presence frames; `JSONDecoder` spends about a
/// microsecond per roster entry, which made 10,000 simulated clients of one load generator
/// spend most of their time decoding rosters. This reads them in one pass over the bytes and
/// gives nil for anything it does not fully understand, so `ChatFrameCodec` still decides.
extension ServerFrameDecoder {
    /// A JSON value as the fast path reads it.
    enum Value {
        case string(String)
        case integer(Int)
        case bool(Bool)
        case null
        case array([Value])
        case object([(key: String, value: Value)])

        var string: String? { if case .string(let v) = self { v } else { nil } }
        var integer: Int64? { if case .integer(let v) = self { Int64(v) } else { nil } }
        var bool: Bool? { if case .bool(let v) = self { v } else { nil } }
        var isNull: Bool { if case .null = self { true } else { false } }
        var array: [Value]? { if case .array(let v) = self { v } else { nil } }
        var members: [(key: String, value: Value)]? { if case .object(let v) = self { v } else { nil } }

        var strings: [String]? {
            guard let array else { return nil }
            var result: [String] = []
            result.reserveCapacity(array.count)
            for element in array {
                guard let s = element.string else { return nil }
                result.append(s)
            }
            return result
        }
    }

    /// `welcome` or `presence` read without `JSONDecoder`, or nil.
    static func decodeNested(_ text: String) -> ServerFrame? {
        var parser = SockJSJSON.Parser(bytes: Array(text.utf8))
        guard let root = try? parser.value(depth: 0), (try? parser.expectEnd()) != nil, let members = root.members else { return nil }
        var fields: [String: Value] = [:]
        for (key, value) in members { fields[key] = value }
        switch fields["type"]?.string {
        case "presence":
            guard let online = fields["online"]?.strings, let offline = fields["offline"]?.strings, let ts = fields["ts"]?.integer else { return nil }
            return .presence(Presence(online: online, offline: offline, ts: ts))
        case "welcome":
            guard let nick = fields["nick"]?.string, let token = fields["token"]?.string,
                  let rooms = fields["rooms"]?.strings, let entered = fields["entered"]?.strings,
                  let userValues = fields["users"]?.array, let historyMembers = fields["history"]?.members else { return nil }
            var users: [UserStatus] = []
            users.reserveCapacity(userValues.count)
            for value in userValues {
                guard let user = userStatus(value) else { return nil }
                users.append(user)
            }
            var history: [String: [ChatMessage]] = [:]
            for (room, value) in historyMembers {
                guard let messages = value.array else { return nil }
                var list: [ChatMessage] = []
                list.reserveCapacity(messages.count)
                for message in messages {
                    guard let decoded = chatMessage(message) else { return nil }
                    list.append(decoded)
                }
                history[room] = list
            }
            var moreHistory: [String] = []
            if let value = fields["moreHistory"] {
                guard let rooms = value.strings else { return nil }
                moreHistory = rooms
            }
            return .welcome(Welcome(nick: nick, token: token, users: users, rooms: rooms, entered: entered, history: history, moreHistory: moreHistory))
        default:
            return nil
        }
    }

    private static func userStatus(_ value: Value) -> UserStatus? {
        guard let members = value.members else { return nil }
        var nick: String?
        var online: Bool?
        for (key, value) in members {
            switch key {
            case "nick": nick = value.string; if nick == nil { return nil }
            case "online": online = value.bool; if online == nil { return nil }
            default: break
            }
        }
        guard let nick, let online else { return nil }
        return UserStatus(nick: nick, online: online)
    }

    private static func chatMessage(_ value: Value) -> ChatMessage? {
        guard let members = value.members else { return nil }
        var msgId: String?, from: String?, room: String?, to: String?, text: String?, ts: Int64?, seq: Int64?
        for (key, value) in members {
            switch key {
            case "msgId": guard let v = value.string else { return nil }; msgId = v
            case "from": guard let v = value.string else { return nil }; from = v
            case "text": guard let v = value.string else { return nil }; text = v
            case "ts": guard let v = value.integer else { return nil }; ts = v
            case "room": if value.isNull { room = nil } else { guard let v = value.string else { return nil }; room = v }
            case "to": if value.isNull { to = nil } else { guard let v = value.string else { return nil }; to = v }
            case "seq": if value.isNull { seq = nil } else { guard let v = value.integer else { return nil }; seq = v }
            default: break
            }
        }
        guard let msgId, let from, let text, let ts else { return nil }
        return ChatMessage(msgId: msgId, from: from, room: room, to: to, text: text, ts: ts, seq: seq)
    }
}

extension SockJSJSON.Parser {
    /// The deepest nesting the fast path reads (a welcome needs 4); deeper input goes to the
    /// slow path.
    static let maxDepth = 8

    /// One JSON value of any kind; throws on broken JSON, a fraction or exponent, or nesting
    /// past ``maxDepth`` (the caller then leaves the text to `JSONDecoder`).
    mutating func value(depth: Int) throws(SockJSJSON.ParseError) -> ServerFrameDecoder.Value {
        guard depth < Self.maxDepth else { throw .unexpectedByte(offset: index) }
        switch try peek() {
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            skipSpace()
            let start = bytes[index] == UInt8(ascii: "-") ? index + 1 : index
            let v = try integer()
            // JSON has no leading zeros: leave "01" to the slow path, which refuses it.
            if bytes[start] == UInt8(ascii: "0"), index > start + 1 { throw .unexpectedByte(offset: start) }
            if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
                throw .unexpectedByte(offset: index)
            }
            return .integer(v)
        case UInt8(ascii: "t"): return .bool(try literal("true"))
        case UInt8(ascii: "f"): return .bool(!(try literal("false")))
        case UInt8(ascii: "n"):
            _ = try literal("null")
            return .null
        case UInt8(ascii: "["):
            index += 1
            var elements: [ServerFrameDecoder.Value] = []
            if try peek() == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                elements.append(try value(depth: depth + 1))
                let next = try peek()
                index += 1
                if next == UInt8(ascii: "]") { return .array(elements) }
                guard next == UInt8(ascii: ",") else { throw .unexpectedByte(offset: index - 1) }
            }
        case UInt8(ascii: "{"):
            index += 1
            var members: [(key: String, value: ServerFrameDecoder.Value)] = []
            if try peek() == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                guard try peek() == UInt8(ascii: "\"") else { throw .unexpectedByte(offset: index) }
                let key = try string()
                try expect(UInt8(ascii: ":"))
                members.append((key, try value(depth: depth + 1)))
                let next = try peek()
                index += 1
                if next == UInt8(ascii: "}") { return .object(members) }
                guard next == UInt8(ascii: ",") else { throw .unexpectedByte(offset: index - 1) }
            }
        default:
            throw .unexpectedByte(offset: index)
        }
    }
}

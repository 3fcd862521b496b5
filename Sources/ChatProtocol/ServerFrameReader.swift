import WireJSON

/// The one hand-written decoder of server frames, read in one pass over the bytes with the
/// project's JSON reader (`WireJSON`), without `JSONDecoder`.
///
/// A load client decodes hundreds of thousands of frames a second: mostly flat ones
/// (`message`, `sent`, `delivered`, `typing`, `left`), and for a big chat one `welcome` whose
/// roster lists every claimed nick and a stream of `presence` lists. `JSONDecoder` costs
/// several microseconds a frame and about one more per roster entry. Anything this reader does
/// not fully understand (a fraction, an exponent, a number past `Int64`, a lone surrogate,
/// nesting past ``maxDepth``, a field of the wrong type, a frame type it does not read) gives
/// nil, and ``ChatFrameCodec/decodeServerFrame(_:)`` decodes the text with `JSONDecoder`, which
/// decides and says what is wrong. So the result is always what `JSONDecoder` gives, and a
/// frame is parsed once (twice only when it is one this reader leaves alone).
package enum ServerFrameReader {
    /// The deepest nesting read (a welcome needs 4); deeper input goes to `JSONDecoder`.
    package static let maxDepth = 8

    /// The frame in `text`, or nil when `JSONDecoder` has to decide.
    package static func read(_ text: String) -> ServerFrame? {
        var reader = JSONReader(text, loneSurrogates: .refuse)
        guard let root = try? reader.document(maxDepth: maxDepth), let object = Object(root) else { return nil }
        switch object.string("type") {
        case "message":
            return chatMessage(object).map { .message($0) }
        case "sent":
            guard let id = object.string("id"), let msgId = object.string("msgId"), let ts = object.integer("ts") else { return nil }
            return .sent(Sent(id: id, msgId: msgId, ts: ts))
        case "delivered":
            guard let msgId = object.string("msgId"), let to = object.string("to"), let ts = object.integer("ts") else { return nil }
            return .delivered(Delivered(msgId: msgId, to: to, ts: ts))
        case "typing":
            guard let from = object.string("from"), let room = object.optionalString("room"), let to = object.optionalString("to") else { return nil }
            return .typing(Typing(from: from, room: room, to: to))
        case "left":
            guard let room = object.string("room") else { return nil }
            return .left(Left(room: room))
        case "presence":
            guard let online = object["online"]?.strings, let offline = object["offline"]?.strings, let ts = object.integer("ts") else { return nil }
            return .presence(Presence(online: online, offline: offline, ts: ts))
        case "entered":
            guard let room = object.string("room"), let history = object["history"].flatMap(chatMessages),
                let more = object.optionalBool("more")
            else { return nil }
            return .entered(Entered(room: room, history: history, more: more ?? false))
        case "history":
            guard let room = object.string("room"), let messages = object["messages"].flatMap(chatMessages),
                let more = object.optionalBool("more"), let after = object.optionalInteger("after")
            else { return nil }
            return .history(History(room: room, messages: messages, more: more ?? false, after: after))
        case "welcome":
            guard let nick = object.string("nick"), let token = object.string("token"),
                let rooms = object["rooms"]?.strings, let entered = object["entered"]?.strings,
                let users = object["users"].flatMap(userStatuses), let historyMembers = object["history"]?.members
            else { return nil }
            var history: [String: [ChatMessage]] = [:]
            for member in historyMembers {
                guard let messages = chatMessages(member.value) else { return nil }
                history[member.key] = messages
            }
            var moreHistory: [String] = []
            if let value = object["moreHistory"], !value.isNull {
                guard let rooms = value.strings else { return nil }
                moreHistory = rooms
            }
            var pending: [String: String]?
            if let value = object["pending"], !value.isNull {
                guard let members = value.members else { return nil }
                var map: [String: String] = [:]
                for member in members {
                    // A duplicate id: left to JSONDecoder, whose choice between them decides.
                    guard let msgId = member.value.string, map.updateValue(msgId, forKey: member.key) == nil else { return nil }
                }
                pending = map
            }
            guard let session = object.optionalString("session"), let device = object.optionalString("device"),
                let privateReceipts = object.optionalBool("privateReceipts"), let read = optionalCounts(object["read"]),
                let unread = optionalCounts(object["unread"])
            else { return nil }
            var welcome = Welcome(
                nick: nick, token: token, users: users, rooms: rooms, entered: entered, history: history,
                moreHistory: moreHistory, pending: pending, session: session, device: device)
            welcome.read = read
            welcome.unread = unread
            welcome.privateReceipts = privateReceipts
            return .welcome(welcome)
        default:
            return nil
        }
    }

    /// An object's members, looked up as `JSONDecoder` does: the first of duplicate keys wins
    /// (`{"room":"a","room":"b"}` is room `a`).
    struct Object {
        let members: [JSONReader.Member]

        init?(_ value: JSONReader.Value) {
            guard let members = value.members else { return nil }
            self.members = members
        }

        subscript(key: String) -> JSONReader.Value? {
            members.first(where: { $0.key == key })?.value
        }

        func string(_ key: String) -> String? { self[key]?.string }
        func integer(_ key: String) -> Int64? { self[key]?.integer }

        /// An optional string field: absent or null gives .some(nil); the wrong type gives nil.
        func optionalString(_ key: String) -> String?? {
            guard let value = self[key], !value.isNull else { return .some(nil) }
            return value.string.map { .some($0) }
        }

        /// An optional boolean field, as ``optionalString(_:)``.
        func optionalBool(_ key: String) -> Bool?? {
            guard let value = self[key], !value.isNull else { return .some(nil) }
            return value.bool.map { .some($0) }
        }

        /// An optional integer field, as ``optionalString(_:)``.
        func optionalInteger(_ key: String) -> Int64?? {
            guard let value = self[key], !value.isNull else { return .some(nil) }
            return value.integer.map { .some($0) }
        }
    }

    private static func chatMessage(_ object: Object) -> ChatMessage? {
        guard let msgId = object.string("msgId"), let from = object.string("from"), let text = object.string("text"),
            let ts = object.integer("ts"), let room = object.optionalString("room"), let to = object.optionalString("to"),
            let seq = object.optionalInteger("seq")
        else { return nil }
        return ChatMessage(msgId: msgId, from: from, room: room, to: to, text: text, ts: ts, seq: seq)
    }

    /// An optional ``ConversationCounts`` (`{"rooms":{"lobby":3}}`): absent or null gives
    /// .some(nil); anything else it does not fully read (another key, a duplicate) gives nil.
    private static func optionalCounts(_ value: JSONReader.Value?) -> ConversationCounts?? {
        guard let value, !value.isNull else { return .some(nil) }
        guard let members = value.members, members.count == 1, members[0].key == "rooms", let rooms = members[0].value.members else { return nil }
        var map: [String: Int64] = [:]
        for member in rooms {
            guard let number = member.value.integer, map.updateValue(number, forKey: member.key) == nil else { return nil }
        }
        return .some(ConversationCounts(rooms: map))
    }

    private static func chatMessages(_ value: JSONReader.Value) -> [ChatMessage]? {
        guard let array = value.array else { return nil }
        var messages: [ChatMessage] = []
        messages.reserveCapacity(array.count)
        for element in array {
            guard let object = Object(element), let message = chatMessage(object) else { return nil }
            messages.append(message)
        }
        return messages
    }

    private static func userStatuses(_ value: JSONReader.Value) -> [UserStatus]? {
        guard let array = value.array else { return nil }
        var users: [UserStatus] = []
        users.reserveCapacity(array.count)
        for element in array {
            guard let object = Object(element), let nick = object.string("nick"), let online = object["online"]?.bool else { return nil }
            users.append(UserStatus(nick: nick, online: online))
        }
        return users
    }
}

/// One frame the server sends: a JSON object whose `type` says which (DESIGN.md, "Chat protocol").
public enum ServerFrame: Sendable, Hashable {
    case welcome(Welcome)
    case entered(Entered)
    case left(Left)
    case message(ChatMessage)
    case sent(Sent)
    case delivered(Delivered)
    case presence(Presence)
    case typing(Typing)
    case history(History)
    case error(ErrorFrame)
    case users(UsersList)
    case gap(Gap)
    case passwordSet(PasswordSet)
    case devices(DeviceList)
    case signedOut(SignedOut)
    case read(ReadPosition)
    case settings(Settings)

    /// The `type` field's value.
    public var type: String {
        switch self {
        case .welcome: "welcome"
        case .entered: "entered"
        case .left: "left"
        case .message: "message"
        case .sent: "sent"
        case .delivered: "delivered"
        case .presence: "presence"
        case .typing: "typing"
        case .history: "history"
        case .error: "error"
        case .users: "users"
        case .gap: "gap"
        case .passwordSet: "passwordSet"
        case .devices: "devices"
        case .signedOut: "signedOut"
        case .read: "read"
        case .settings: "settings"
        }
    }
}

/// A claimed nick and whether any session holds it anywhere in the cluster.
public struct UserStatus: Sendable, Hashable, Codable {
    public var nick: String
    public var online: Bool

    public init(nick: String, online: Bool) {
        self.nick = nick
        self.online = online
    }
}

/// `welcome`: the join was accepted. Waiting private messages and receipts follow it.
public struct Welcome: Sendable, Hashable, Codable {
    public var nick: String
    /// Keep it: a later join of the same nick needs it.
    public var token: String
    /// Every claimed nick, sorted.
    public var users: [UserStatus]
    /// Every room that has history, sorted.
    public var rooms: [String]
    /// The rooms this session is in.
    public var entered: [String]
    /// The newest messages of each entered room, oldest first.
    public var history: [String: [ChatMessage]]
    /// The entered rooms of which the node keeps older messages than `history` gives, sorted:
    /// a client pages on with `history` for these only.
    public var moreHistory: [String]
    /// For the join's `pending` ids: the `msgId` each has (nil when the join listed none).
    public var pending: [String: String]?
    /// This device's session token (43 characters): keep it and join with it (`session`)
    /// instead of `token`; a join by password or a new nick gets a new one.
    public var session: String?
    /// This device's id (12 hex digits), as `devices` lists it.
    public var device: String?
    /// The user's read position per room (Specs/chat-protocol.md, "Read state").
    public var read: ConversationCounts?
    /// Per room with a read position: how many messages after it the node holds (at most 1000).
    public var unread: ConversationCounts?
    /// Whether the user lets peers see `seen` (`settings`).
    public var privateReceipts: Bool?

    public init(
        nick: String, token: String, users: [UserStatus], rooms: [String], entered: [String], history: [String: [ChatMessage]], moreHistory: [String] = [],
        pending: [String: String]? = nil, session: String? = nil, device: String? = nil
    ) {
        self.session = session
        self.device = device
        self.nick = nick
        self.token = token
        self.users = users
        self.rooms = rooms
        self.entered = entered
        self.history = history
        self.moreHistory = moreHistory
        self.pending = pending
    }

    enum CodingKeys: String, CodingKey {
        case nick, token, users, rooms, entered, history, moreHistory, pending, session, device, read, unread, privateReceipts
    }

    /// `moreHistory` is read as empty when absent (servers before it was added).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        nick = try container.decode(String.self, forKey: .nick)
        token = try container.decode(String.self, forKey: .token)
        users = try container.decode([UserStatus].self, forKey: .users)
        rooms = try container.decode([String].self, forKey: .rooms)
        entered = try container.decode([String].self, forKey: .entered)
        history = try container.decode([String: [ChatMessage]].self, forKey: .history)
        moreHistory = try container.decodeIfPresent([String].self, forKey: .moreHistory) ?? []
        pending = try container.decodeIfPresent([String: String].self, forKey: .pending)
        session = try container.decodeIfPresent(String.self, forKey: .session)
        device = try container.decodeIfPresent(String.self, forKey: .device)
        read = try container.decodeIfPresent(ConversationCounts.self, forKey: .read)
        unread = try container.decodeIfPresent(ConversationCounts.self, forKey: .unread)
        privateReceipts = try container.decodeIfPresent(Bool.self, forKey: .privateReceipts)
    }
}

/// `entered`: the answer to `enter`, with the room's newest messages, oldest first.
public struct Entered: Sendable, Hashable, Codable {
    public var room: String
    public var history: [ChatMessage]
    /// The node keeps older messages of the room than `history` gives: page on with `history`.
    public var more: Bool

    public init(room: String, history: [ChatMessage], more: Bool = false) {
        self.room = room
        self.history = history
        self.more = more
    }

    enum CodingKeys: String, CodingKey { case room, history, more }

    /// `more` is read as false when absent (servers before it was added).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        room = try container.decode(String.self, forKey: .room)
        history = try container.decode([ChatMessage].self, forKey: .history)
        more = try container.decodeIfPresent(Bool.self, forKey: .more) ?? false
    }
}

/// `left`: the answer to `leave`.
public struct Left: Sendable, Hashable, Codable {
    public var room: String

    public init(room: String) { self.room = room }
}

/// `message`: a public message (with `room` and `seq`) or a private one (with `to`).
public struct ChatMessage: Sendable, Hashable, Codable {
    /// Stable for a sender and its client `id`: drop duplicates by it.
    public var msgId: String
    /// Stamped by the server: the sender's nick.
    public var from: String
    public var room: String?
    public var to: String?
    public var text: String
    /// Milliseconds since the epoch, when the server accepted it.
    public var ts: Int64
    /// Public only: the place in the room's history, increasing, the same on every node.
    public var seq: Int64?

    public init(msgId: String, from: String, room: String? = nil, to: String? = nil, text: String, ts: Int64, seq: Int64? = nil) {
        self.msgId = msgId
        self.from = from
        self.room = room
        self.to = to
        self.text = text
        self.ts = ts
        self.seq = seq
    }
}

/// `sent`: the broker confirmed the message (a private one is stored durably).
public struct Sent: Sendable, Hashable, Codable {
    public var id: String
    public var msgId: String
    public var ts: Int64

    public init(id: String, msgId: String, ts: Int64) {
        self.id = id
        self.msgId = msgId
        self.ts = ts
    }
}

/// `delivered`: the addressee's client acked the private message `msgId`.
public struct Delivered: Sendable, Hashable, Codable {
    public var msgId: String
    public var to: String
    public var ts: Int64

    public init(msgId: String, to: String, ts: Int64) {
        self.msgId = msgId
        self.to = to
        self.ts = ts
    }
}

/// `presence`: nicks that came online or went offline anywhere in the cluster since the
/// previous `presence` frame. A node batches changes for `ChatConfiguration.presenceBatchInterval`
/// and sends one frame to every session, so a crowd joining costs each session one frame per
/// interval instead of one per join.
public struct Presence: Sendable, Hashable, Codable {
    /// Nicks now online, sorted.
    public var online: [String]
    /// Nicks now offline, sorted.
    public var offline: [String]
    public var ts: Int64

    public init(online: [String] = [], offline: [String] = [], ts: Int64) {
        self.online = online
        self.offline = offline
        self.ts = ts
    }

    /// One nick's change (a batch of one).
    public init(nick: String, online: Bool, ts: Int64) {
        self.init(online: online ? [nick] : [], offline: online ? [] : [nick], ts: ts)
    }

    /// Whether this frame says `nick` is online (true), offline (false), or says nothing of it.
    public func status(of nick: String) -> Bool? {
        if online.contains(nick) { return true }
        if offline.contains(nick) { return false }
        return nil
    }
}

/// `typing`: someone is typing in a room or to you.
public struct Typing: Sendable, Hashable, Codable {
    public var from: String
    public var room: String?
    public var to: String?

    public init(from: String, room: String? = nil, to: String? = nil) {
        self.from = from
        self.room = room
        self.to = to
    }
}

/// `history`: the answer to a `history` request, oldest first.
public struct History: Sendable, Hashable, Codable {
    public var room: String
    public var messages: [ChatMessage]
    /// Without ``after``: the node keeps older messages of the room than the oldest listed (page
    /// on with `before`). With it: newer messages follow the newest listed (page on with `after`).
    public var more: Bool
    /// The `after` this answers (a `history` request's or a join's `resume`); nil for the newest
    /// messages or those `before` a `seq`.
    public var after: Int64?

    public init(room: String, messages: [ChatMessage], more: Bool = false, after: Int64? = nil) {
        self.room = room
        self.messages = messages
        self.more = more
        self.after = after
    }

    enum CodingKeys: String, CodingKey { case room, messages, more, after }

    /// `more` is read as false when absent (servers before it was added).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        room = try container.decode(String.self, forKey: .room)
        messages = try container.decode([ChatMessage].self, forKey: .messages)
        more = try container.decodeIfPresent(Bool.self, forKey: .more) ?? false
        after = try container.decodeIfPresent(Int64.self, forKey: .after)
    }
}

/// `gap`: the node no longer has every message of `room` after `after`; it holds all of them
/// from `seq` `next` on (what lay between may have been messages, or nothing). Comes before the
/// `history` that answers the same `after`.
public struct Gap: Sendable, Hashable, Codable {
    public var room: String
    public var after: Int64
    public var next: Int64

    public init(room: String, after: Int64, next: Int64) {
        self.room = room
        self.after = after
        self.next = next
    }
}

/// `users`: the answer to a `users` request.
public struct UsersList: Sendable, Hashable, Codable {
    public var prefix: String
    /// The matching nicks, sorted, at most the request's `limit`.
    public var users: [UserStatus]
    /// More nicks match than are listed: a longer prefix narrows them down.
    public var more: Bool

    public init(prefix: String, users: [UserStatus], more: Bool) {
        self.prefix = prefix
        self.users = users
        self.more = more
    }
}

/// `error`: a refused frame or a session-level problem, with one sentence for people.
public struct ErrorFrame: Sendable, Hashable, Codable {
    public var code: ChatErrorCode
    public var message: String
    /// The `id` of the refused frame, when it had one.
    public var id: String?

    public init(code: ChatErrorCode, message: String, id: String? = nil) {
        self.code = code
        self.message = message
        self.id = id
    }
}

/// `passwordSet`: the session's nick is protected by the password it sent (the record is on
/// the broker, confirmed); sign in with it from any browser.
public struct PasswordSet: Sendable, Hashable, Codable {
    public init() {}
}

/// One signed-in browser of the user, as `devices` lists it.
public struct DeviceInfo: Sendable, Hashable, Codable {
    /// 12 hex digits; name it in `signOut`.
    public var id: String
    public var label: String
    /// When it signed in (ms since the epoch).
    public var created: Int64
    /// When it last joined (ms; refreshed at most once an hour).
    public var lastSeen: Int64
    /// The device of the session that asked.
    public var current: Bool

    public init(id: String, label: String, created: Int64, lastSeen: Int64, current: Bool) {
        self.id = id
        self.label = label
        self.created = created
        self.lastSeen = lastSeen
        self.current = current
    }
}

/// `devices`: the answer to `devices`, newest first, at most 50.
public struct DeviceList: Sendable, Hashable, Codable {
    public var devices: [DeviceInfo]

    public init(devices: [DeviceInfo]) { self.devices = devices }
}

/// `signedOut`: the answer to `signOut`, with the ids signed out; their live sessions close
/// with 4005 right after (this one too when its own device was among them).
public struct SignedOut: Sendable, Hashable, Codable {
    public var devices: [String]

    public init(devices: [String]) { self.devices = devices }
}

/// `read`: this user's read position of `room` moved to `upTo`, on any of their devices.
public struct ReadPosition: Sendable, Hashable, Codable {
    public var room: String?
    public var with: String?
    public var upTo: Int64

    public init(room: String? = nil, with: String? = nil, upTo: Int64) {
        self.room = room
        self.with = with
        self.upTo = upTo
    }
}

/// `settings`: the user's settings, as stored (the answer to `settings`, and to every other
/// session of the user when they change).
public struct Settings: Sendable, Hashable, Codable {
    public var privateReceipts: Bool

    public init(privateReceipts: Bool) { self.privateReceipts = privateReceipts }
}

/// Per kind of conversation, a number per conversation: the welcome's `read` (read positions)
/// and `unread` (counts). `private` is accepted for issue 16, not served yet.
public struct ConversationCounts: Sendable, Hashable, Codable {
    public var rooms: [String: Int64]

    public init(rooms: [String: Int64] = [:]) { self.rooms = rooms }
}

extension ServerFrame: Codable {
    private enum TypeKey: String, CodingKey { case type }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: TypeKey.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "welcome": self = .welcome(try Welcome(from: decoder))
        case "entered": self = .entered(try Entered(from: decoder))
        case "left": self = .left(try Left(from: decoder))
        case "message": self = .message(try ChatMessage(from: decoder))
        case "sent": self = .sent(try Sent(from: decoder))
        case "delivered": self = .delivered(try Delivered(from: decoder))
        case "presence": self = .presence(try Presence(from: decoder))
        case "typing": self = .typing(try Typing(from: decoder))
        case "history": self = .history(try History(from: decoder))
        case "error": self = .error(try ErrorFrame(from: decoder))
        case "users": self = .users(try UsersList(from: decoder))
        case "gap": self = .gap(try Gap(from: decoder))
        case "passwordSet": self = .passwordSet(try PasswordSet(from: decoder))
        case "devices": self = .devices(try DeviceList(from: decoder))
        case "signedOut": self = .signedOut(try SignedOut(from: decoder))
        case "read": self = .read(try ReadPosition(from: decoder))
        case "settings": self = .settings(try Settings(from: decoder))
        default: throw UnknownFrameType(type: type)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: TypeKey.self)
        try container.encode(type, forKey: .type)
        switch self {
        case .welcome(let payload): try payload.encode(to: encoder)
        case .entered(let payload): try payload.encode(to: encoder)
        case .left(let payload): try payload.encode(to: encoder)
        case .message(let payload): try payload.encode(to: encoder)
        case .sent(let payload): try payload.encode(to: encoder)
        case .delivered(let payload): try payload.encode(to: encoder)
        case .presence(let payload): try payload.encode(to: encoder)
        case .typing(let payload): try payload.encode(to: encoder)
        case .history(let payload): try payload.encode(to: encoder)
        case .error(let payload): try payload.encode(to: encoder)
        case .users(let payload): try payload.encode(to: encoder)
        case .gap(let payload): try payload.encode(to: encoder)
        case .passwordSet(let payload): try payload.encode(to: encoder)
        case .devices(let payload): try payload.encode(to: encoder)
        case .signedOut(let payload): try payload.encode(to: encoder)
        case .read(let payload): try payload.encode(to: encoder)
        case .settings(let payload): try payload.encode(to: encoder)
        }
    }
}

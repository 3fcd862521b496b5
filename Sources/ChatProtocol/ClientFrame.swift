/// One frame a client sends: a JSON object whose `type` says which (DESIGN.md, "Chat protocol").
/// Unknown fields are ignored, a client-sent `from` included: the server stamps the sender.
public enum ClientFrame: Sendable, Hashable {
    case join(JoinRequest)
    case enter(RoomRequest)
    case leave(RoomRequest)
    case say(SayRequest)
    case tell(TellRequest)
    case ack(AckRequest)
    case history(HistoryRequest)
    case typing(TypingRequest)
    case users(UsersRequest)
    case setPassword(SetPasswordRequest)
    case devices(DevicesRequest)
    case signOut(SignOutRequest)
    case read(ReadRequest)
    case settings(SettingsRequest)

    /// The `type` field's value.
    public var type: String {
        switch self {
        case .join: "join"
        case .enter: "enter"
        case .leave: "leave"
        case .say: "say"
        case .tell: "tell"
        case .ack: "ack"
        case .history: "history"
        case .typing: "typing"
        case .users: "users"
        case .setPassword: "setPassword"
        case .devices: "devices"
        case .signOut: "signOut"
        case .read: "read"
        case .settings: "settings"
        }
    }

    /// The client's `id`, for frames that carry one.
    public var id: String? {
        switch self {
        case .say(let say): say.id
        case .tell(let tell): tell.id
        default: nil
        }
    }
}

/// `join`: must come first. `token` proves a claimed nick; `rooms` defaults to `["lobby"]`.
public struct JoinRequest: Sendable, Hashable, Codable {
    public var nick: String
    public var token: String?
    public var rooms: [String]?
    /// A random string the client picks once for a nick it does not have a token for yet, and
    /// repeats on every retry of that join. It goes (as an HMAC) into the claim, so when a join
    /// was answered `unavailable` but its claim still won, a retry on any node gets the token
    /// instead of `auth_failed`; nobody without the nonce can take the nick.
    public var nonce: String?
    /// The `id`s of this nick's `say`/`tell` frames the client sent and got no answer for (its
    /// connection broke): the welcome gives the `msgId` of each, so the client knows its own
    /// messages in the history without matching texts.
    public var pending: [String]?
    /// The last `seq` the client has of some of its rooms: what followed comes right after the
    /// welcome, or a `gap` where the node no longer has it (Specs/chat-protocol.md, "Resume
    /// without gaps").
    public var resume: JoinResume?
    /// The nick's password (8 to 256 bytes), for a nick protected with `setPassword`.
    public var password: String?
    /// The device's session token from an earlier welcome (43 characters): signs this device
    /// in again without a password and without a new device.
    public var session: String?
    /// A label for the new device this join makes (1 to 64 characters, e.g. "Firefox on
    /// laptop"), shown in `devices`; ignored by a join with `session`.
    public var device: String?

    public init(
        nick: String, token: String? = nil, rooms: [String]? = nil, nonce: String? = nil, pending: [String]? = nil, resume: JoinResume? = nil,
        password: String? = nil, session: String? = nil, device: String? = nil
    ) {
        self.nick = nick
        self.token = token
        self.password = password
        self.session = session
        self.device = device
        self.rooms = rooms
        self.nonce = nonce
        self.pending = pending
        self.resume = resume
    }

    /// A fresh nonce for ``nonce``: 128 random bits in hex.
    public static func makeNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef")
        var text = ""
        text.reserveCapacity(32)
        for _ in 0..<2 {
            var word = generator.next() as UInt64
            for _ in 0..<16 {
                text.append(digits[Int(word & 0xF)])
                word >>= 4
            }
        }
        return text
    }
}

/// A join's `resume`: per room, the last `seq` the client has (each room one of the join's
/// `rooms`). Private conversations (`private`) are accepted for issue 16, not served yet.
public struct JoinResume: Sendable, Hashable, Codable {
    public var rooms: [String: Int64]?

    public init(rooms: [String: Int64]? = nil) { self.rooms = rooms }
}

/// `enter` and `leave`: one room.
public struct RoomRequest: Sendable, Hashable, Codable {
    public var room: String

    public init(room: String) { self.room = room }
}

/// `say`: a public message to a room the session is in (`lobby` when `room` is absent).
public struct SayRequest: Sendable, Hashable, Codable {
    /// Chosen by the client, unique per sender; a retry reuses it and gets the same `msgId`.
    public var id: String
    public var room: String?
    public var text: String

    public init(id: String, room: String? = nil, text: String) {
        self.id = id
        self.room = room
        self.text = text
    }
}

/// `tell`: a private message to a claimed nick, online or not.
public struct TellRequest: Sendable, Hashable, Codable {
    public var id: String
    public var to: String
    public var text: String

    public init(id: String, to: String, text: String) {
        self.id = id
        self.to = to
        self.text = text
    }
}

/// `ack`: the client has received these private messages and `delivered` receipts (both by
/// `msgId`); the server then releases them from the user's queue and tells the sender of each
/// private message `delivered`. What is not acked comes again on the next join.
public struct AckRequest: Sendable, Hashable, Codable {
    public var msgIds: [String]

    public init(msgIds: [String]) { self.msgIds = msgIds }
}

/// `history`: public messages of a room, oldest first: the newest (before `before`), or the
/// oldest after `after`.
public struct HistoryRequest: Sendable, Hashable, Codable {
    public var room: String
    /// Only messages with a smaller `seq`; the newest when absent.
    public var before: Int64?
    /// Only messages with a larger `seq`, the oldest of them first (0 or more; not with `before`).
    public var after: Int64?
    /// How many; 50 when absent, at most 100.
    public var limit: Int?

    public init(room: String, before: Int64? = nil, after: Int64? = nil, limit: Int? = nil) {
        self.room = room
        self.before = before
        self.after = after
        self.limit = limit
    }
}

/// `typing`: ephemeral, to a room's other sessions or to one nick; never stored.
public struct TypingRequest: Sendable, Hashable, Codable {
    public var room: String?
    public var to: String?

    public init(room: String? = nil, to: String? = nil) {
        self.room = room
        self.to = to
    }
}

/// `users`: the claimed nicks that start with `prefix`, sorted (the welcome lists at most
/// `ChatLimits.welcomeRoster` of them).
public struct UsersRequest: Sendable, Hashable, Codable {
    /// Empty or absent: every nick.
    public var prefix: String?
    /// How many; 50 when absent, at most 100.
    public var limit: Int?

    public init(prefix: String? = nil, limit: Int? = nil) {
        self.prefix = prefix
        self.limit = limit
    }
}

/// `setPassword`: protects the session's nick with `password` (8 to 256 bytes); `current` is
/// required when the nick has a password already.
public struct SetPasswordRequest: Sendable, Hashable, Codable {
    public var password: String
    public var current: String?

    public init(password: String, current: String? = nil) {
        self.password = password
        self.current = current
    }
}

/// `devices`: the session's user's devices (answered with `devices`).
public struct DevicesRequest: Sendable, Hashable, Codable {
    public init() {}
}

/// `signOut`: ends one device of the user (`device`, an id from `devices`), every device
/// (`everywhere`), or, with neither, this one. Every live session of an ended device closes
/// with 4005.
public struct SignOutRequest: Sendable, Hashable, Codable {
    public var device: String?
    public var everywhere: Bool?

    public init(device: String? = nil, everywhere: Bool? = nil) {
        self.device = device
        self.everywhere = everywhere
    }
}

/// `read`: the user has seen `room` up to `upTo` (a `seq`); the read position moves there on
/// every device (Specs/chat-protocol.md, "Read state"). Private conversations (`with`) are
/// accepted for issue 16, not served yet. The same fields as the server's `read` frame.
public typealias ReadRequest = ReadPosition

/// `settings`: the user's settings, stored for every device; answered with `settings` (the same
/// field as the server's frame).
public typealias SettingsRequest = Settings

extension ClientFrame: Codable {
    private enum TypeKey: String, CodingKey { case type }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: TypeKey.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "join": self = .join(try JoinRequest(from: decoder))
        case "enter": self = .enter(try RoomRequest(from: decoder))
        case "leave": self = .leave(try RoomRequest(from: decoder))
        case "say": self = .say(try SayRequest(from: decoder))
        case "tell": self = .tell(try TellRequest(from: decoder))
        case "ack": self = .ack(try AckRequest(from: decoder))
        case "history": self = .history(try HistoryRequest(from: decoder))
        case "typing": self = .typing(try TypingRequest(from: decoder))
        case "users": self = .users(try UsersRequest(from: decoder))
        case "setPassword": self = .setPassword(try SetPasswordRequest(from: decoder))
        case "devices": self = .devices(try DevicesRequest(from: decoder))
        case "signOut": self = .signOut(try SignOutRequest(from: decoder))
        case "read": self = .read(try ReadRequest(from: decoder))
        case "settings": self = .settings(try SettingsRequest(from: decoder))
        default: throw UnknownFrameType(type: type)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: TypeKey.self)
        try container.encode(type, forKey: .type)
        switch self {
        case .join(let payload): try payload.encode(to: encoder)
        case .enter(let payload), .leave(let payload): try payload.encode(to: encoder)
        case .say(let payload): try payload.encode(to: encoder)
        case .tell(let payload): try payload.encode(to: encoder)
        case .ack(let payload): try payload.encode(to: encoder)
        case .history(let payload): try payload.encode(to: encoder)
        case .typing(let payload): try payload.encode(to: encoder)
        case .users(let payload): try payload.encode(to: encoder)
        case .setPassword(let payload): try payload.encode(to: encoder)
        case .devices(let payload): try payload.encode(to: encoder)
        case .signOut(let payload): try payload.encode(to: encoder)
        case .read(let payload): try payload.encode(to: encoder)
        case .settings(let payload): try payload.encode(to: encoder)
        }
    }
}

/// Thrown while decoding a frame whose `type` is not one of the protocol's.
struct UnknownFrameType: Error {
    var type: String
}

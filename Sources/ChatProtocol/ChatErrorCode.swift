/// The `code` of an `error` frame (DESIGN.md, "Chat protocol").
public enum ChatErrorCode: String, Sendable, Hashable, Codable, CaseIterable {
    /// The frame is not JSON.
    case badJSON = "bad_json"
    /// Valid JSON of the wrong shape, an unknown `type`, a missing or wrongly typed field.
    case badRequest = "bad_request"
    /// Anything but `join` before a join succeeded.
    case notJoined = "not_joined"
    /// `say` or `typing` in a room the session has not entered.
    case notInRoom = "not_in_room"
    /// A nick that does not match `^[A-Za-z0-9_.-]{1,32}$`.
    case invalidNick = "invalid_nick"
    /// A room name that does not match `^[A-Za-z0-9_.-]{1,32}$`.
    case invalidRoom = "invalid_room"
    /// A claimed nick joined without its token or with a wrong one.
    case authFailed = "auth_failed"
    /// `setPassword` with a password under 8 or over 256 bytes.
    case weakPassword = "weak_password"
    /// `--registration closed` and the nick has no account made by an operator.
    case registrationClosed = "registration_closed"
    /// A text over the limit or a frame over 64 KiB.
    case tooLarge = "too_large"
    /// Over the session's rate; the frame was not accepted.
    case rateLimited = "rate_limited"
    /// `tell` to a nick that was never claimed.
    case unknownUser = "unknown_user"
    /// The broker is unreachable; the frame was not accepted, retry with the same `id`.
    case unavailable
    /// The same nick joined elsewhere; this session is closed.
    case replaced
    /// `tell` to a nick whose queue is at its cap; not stored, send it again later.
    case inboxFull = "inbox_full"
    /// `enter` when the session is in as many rooms as it may be.
    case tooManyRooms = "too_many_rooms"
    /// `signOut` with a device id that is not one of the user's; nothing was signed out.
    case unknownDevice = "unknown_device"
}

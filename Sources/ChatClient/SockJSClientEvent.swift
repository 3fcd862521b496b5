/// What a `SockJSClient` tells its owner, always on the client's event loop and in order:
/// `open` once, then any number of `message`, then `closed` exactly once (also when the
/// session never opened).
public enum SockJSClientEvent: Equatable, Sendable {
    case open
    case message(String)
    case closed(code: Int, reason: String)
}

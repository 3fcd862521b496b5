/// What a `SockJSClient` tells its owner, always on the client's event loop and in order:
/// `open` once, then any number of `message`, then `closed` exactly once (also when the
/// session never opened).
public enum SockJSClientEvent: Equatable, Sendable {
    /// The server's `o` frame arrived.
    case open
    /// One message from the server.
    case message(String)
    /// The session ended: the server's code and reason, or a local code (1000 closed by the
    /// client, 1002 protocol error, 1006 connection lost) with a sentence saying why.
    case closed(code: Int, reason: String)
}

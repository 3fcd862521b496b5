import ChatProtocol

/// What a `ChatConnection` tells its owner, on the connection's event loop, in order: `open`
/// once, then decoded server frames, then `closed` exactly once.
public enum ChatClientEvent: Sendable, Equatable {
    /// The SockJS session is open; send `join` now (or it was already queued).
    case open
    /// One frame from the server.
    case frame(ServerFrame)
    /// A SockJS message that is not a server frame of the chat protocol, with why.
    case unreadable(text: String, reason: String)
    /// The session ended: the server's close code and reason, or 1006 and a sentence
    /// saying what went wrong on the way.
    case closed(code: Int, reason: String)
}

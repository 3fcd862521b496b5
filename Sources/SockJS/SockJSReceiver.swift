import NIOCore

/// A connection that takes frames for a session: an HTTP response (poll or stream) or a websocket.
///
/// The session calls these on its own event loop; an implementation whose channel lives on another
/// loop forwards the call there, keeping the order of calls.
protocol SockJSReceiver: AnyObject, Sendable {
    /// How frames are wrapped for this connection.
    var flavour: SockJSFrameFlavour { get }
    /// Writes wrapped frame bytes; `flush` pushes them to the socket now.
    func write(_ bytes: ByteBuffer, flush: Bool)
    /// Pushes written bytes to the socket.
    func flush()
    /// Sends a websocket ping (liveness check); nothing for other receivers.
    func ping()
    /// Writes `bytes` (if any) as the last thing, then ends the response or closes the connection.
    func end(after bytes: ByteBuffer?)
    /// Writes `bytes` (if any) without waiting for anything, then drops the connection at once
    /// (a client that does not read, a dead peer).
    func abort(after bytes: ByteBuffer?)
}

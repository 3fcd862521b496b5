/// Where a session's frames go: the server implements it over one SockJS session.
/// `send` must not block (the transport queues, bounded, and closes a client that falls too far
/// behind with 4002); `close` ends the client's connection with a code and a reason.
public protocol ChatOutlet: AnyObject, Sendable {
    func send(_ text: String)
    func close(code: Int, reason: String)
}

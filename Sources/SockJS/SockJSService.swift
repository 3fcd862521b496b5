/// The application side of a mounted SockJS endpoint.
///
/// The server calls these on the session's event loop; for one session they are never
/// concurrent and arrive in order: `sessionOpened`, any number of `session(_:received:)`,
/// then `sessionClosed` exactly once. They must not block: hand long work to a task or an
/// actor. ``SockJSSession/send(_:)`` and ``SockJSSession/close(code:reason:)`` may be called
/// from anywhere, at any time.
public protocol SockJSService: Sendable {
    /// A client opened a session.
    func sessionOpened(_ session: SockJSSession)
    /// The client sent one message.
    func session(_ session: SockJSSession, received message: String)
    /// The session ended, for `reason`; nothing more can be sent on it.
    func sessionClosed(_ session: SockJSSession, reason: SockJSCloseReason)
}

/// Why a session ended.
public enum SockJSCloseReason: Sendable, Equatable {
    /// The application (or the server) closed it with this frame.
    case closedByServer(SockJSCloseFrame)
    /// The client's receiving request was cut off by the network (`1002 Connection interrupted`).
    case interrupted
    /// No receiving connection for the service's `disconnectDelay`.
    case timedOut
    /// The client closed its websocket.
    case clientClosed
    /// The client sent something that is not SockJS (broken JSON, bad websocket frames).
    case protocolError
    /// The client did not read fast enough and the outbound queue overflowed (`4002 too slow`).
    case tooSlow
    /// The server is shutting down (`3000 Go away!`).
    case serverShutdown
}

/// The transport a session uses; fixed at the session's creation.
public enum SockJSTransport: String, Sendable, CaseIterable {
    case websocket
    case xhrStreaming = "xhr-streaming"
    case xhrPolling = "xhr-polling"
    case eventsource
    case htmlfile
    case jsonpPolling = "jsonp-polling"
    case rawWebSocket = "rawwebsocket"
}

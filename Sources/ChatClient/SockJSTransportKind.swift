import SockJSWire

/// The SockJS transports this client speaks. Their raw values are the names sockjs-client uses.
public enum SockJSTransportKind: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    /// One framed websocket (`/<server>/<session>/websocket`): frames in both directions.
    case websocket
    /// A long chunked POST response (`xhr_streaming`) for receiving, `xhr_send` POSTs for sending.
    case xhrStreaming = "xhr-streaming"
    /// One POST per received frame (`xhr`), `xhr_send` POSTs for sending.
    case xhrPolling = "xhr-polling"

    public var description: String { rawValue }

    /// The endpoint of the receiving request.
    var receivePath: SockJSRoute.SessionEndpoint {
        switch self {
        case .websocket: .websocket
        case .xhrStreaming: .xhrStreaming
        case .xhrPolling: .xhr
        }
    }
}

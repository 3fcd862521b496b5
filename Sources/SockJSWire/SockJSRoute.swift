/// Where a path under a mounted SockJS prefix leads (the protocol's URL space): the server
/// routes requests with ``route(_:)``, a client builds its request paths with
/// ``sessionPath(prefix:server:session:_:)``, so both spell the URL space alike.
public enum SockJSRoute: Equatable, Sendable {
    /// `/` or nothing: `Welcome to SockJS!`.
    case greeting
    /// `/info`.
    case info
    /// `/iframe.html` and its versioned variants (`/iframe-1.2.3.html`).
    case iframe
    /// `/websocket`: raw websocket without SockJS framing.
    case rawWebSocket
    /// `/<server>/<session>/<transport>`.
    case session(server: String, session: String, transport: SessionEndpoint)
    /// Anything else.
    case notFound

    /// The per-session endpoints.
    public enum SessionEndpoint: String, Equatable, CaseIterable, Sendable {
        case websocket
        case xhr
        case xhrSend = "xhr_send"
        case xhrStreaming = "xhr_streaming"
        case eventsource
        case htmlfile
        case jsonp
        case jsonpSend = "jsonp_send"

        /// The methods the endpoint answers (OPTIONS included where CORS preflight applies).
        public var allowedMethods: [String] {
            switch self {
            case .websocket, .eventsource, .htmlfile, .jsonp: return ["GET"]
            case .xhr, .xhrSend, .xhrStreaming: return ["OPTIONS", "POST"]
            case .jsonpSend: return ["POST"]
            }
        }
    }

    /// Routes `rest`, the path after the prefix (`""`, `"/info"`, `"/000/abc/xhr"` ...).
    public static func route(_ rest: Substring) -> SockJSRoute {
        if rest.isEmpty || rest == "/" { return .greeting }
        guard rest.first == "/" else { return .notFound }
        let body = rest.dropFirst()
        if body == "info" { return .info }
        if body == "websocket" { return .rawWebSocket }
        if isIframe(body) { return .iframe }
        let parts = body.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .notFound }
        let server = parts[0]
        let session = parts[1]
        guard isSessionComponent(server), isSessionComponent(session),
            let transport = SessionEndpoint(rawValue: String(parts[2]))
        else { return .notFound }
        return .session(server: String(server), session: String(session), transport: transport)
    }

    /// The path of one request of a session, `/prefix/<server>/<session>/<endpoint>`, which
    /// ``route(_:)`` reads back as that session and endpoint.
    public static func sessionPath(prefix: String, server: String, session: String, _ endpoint: SessionEndpoint) -> String {
        "\(prefix)/\(server)/\(session)/\(endpoint.rawValue)"
    }

    private static func isSessionComponent(_ s: Substring) -> Bool {
        !s.isEmpty && !s.contains(".")
    }

    /// `iframe[0-9a-z._-]*.html`, exactly (lower case, no slashes).
    private static func isIframe(_ s: Substring) -> Bool {
        guard s.hasPrefix("iframe"), s.hasSuffix(".html") else { return false }
        let middle = s.dropFirst(6).dropLast(5)
        return middle.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
                || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: "_")
        }
    }
}

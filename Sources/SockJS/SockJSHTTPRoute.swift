import NIOCore

/// A plain HTTP request for a route mounted next to the SockJS services (`/`, `/healthz` ...).
public struct SockJSHTTPRequest: Sendable {
    /// The request head (method, path, query, headers).
    public var head: HTTPRequestHead
    /// The whole request body (bounded by the server's `maxRequestBodyBytes`).
    public var body: ByteBuffer
    /// The client's address.
    public var remoteAddress: SocketAddress?
}

/// The answer of a plain HTTP route.
public struct SockJSHTTPResponse: Sendable {
    /// The status code, e.g. 200.
    public var status: Int
    /// Header fields; `Content-Length` and `Connection` are set by the server.
    public var headers: [(String, String)]
    /// The body.
    public var body: ByteBuffer

    public init(status: Int, headers: [(String, String)] = [], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response with a UTF-8 text body and the given content type.
    public init(status: Int, contentType: String = "text/plain; charset=utf-8", text: String, headers: [(String, String)] = []) {
        self.status = status
        self.headers = [("Content-Type", contentType)] + headers
        self.body = ByteBuffer(string: text)
    }
}

/// The handler of a plain HTTP route; runs as a task, off the event loops.
public typealias SockJSHTTPHandler = @Sendable (SockJSHTTPRequest) async -> SockJSHTTPResponse

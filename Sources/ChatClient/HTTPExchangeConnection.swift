import NIOCore
import NIOHTTP1
import NIOPosix

/// One keep-alive HTTP/1.1 connection that carries one request at a time, for the xhr
/// transports. Connects lazily, reconnects after the server closed it, and streams each
/// response's body to the caller as it arrives (xhr-streaming needs the parts, not the whole).
/// Loop-confined.
final class HTTPExchangeConnection {
    /// Callbacks of one request, called on the loop.
    struct Exchange {
        var onHead: (HTTPResponseStatus) -> Void
        var onBody: (ByteBuffer) -> Void
        var onEnd: () -> Void
        var onFailure: (String) -> Void
    }

    private let eventLoop: any EventLoop
    private let endpoint: SockJSEndpoint
    private var channel: (any Channel)?
    private var connecting = false
    private var waiting: (head: HTTPRequestHead, body: ByteBuffer?, exchange: Exchange)?
    private var current: Exchange?
    private var reusable = true
    private var closed = false

    init(eventLoop: any EventLoop, endpoint: SockJSEndpoint) {
        self.eventLoop = eventLoop
        self.endpoint = endpoint
    }

    /// Sends `POST path` with `body`; exactly one of the request's outcomes follows: head,
    /// body parts and end, or a failure. One request at a time.
    func post(_ path: String, body: String?, exchange: Exchange) {
        request(.POST, path, body: body, exchange: exchange)
    }

    /// Sends `method path` with `body`; see `post`.
    func request(_ method: HTTPMethod, _ path: String, body: String?, exchange: Exchange) {
        precondition(current == nil && waiting == nil, "one request at a time")
        guard !closed else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: endpoint.hostForHeader)
        var buffer: ByteBuffer?
        if let body {
            let bytes = ByteBuffer(string: body)
            headers.add(name: "Content-Type", value: "text/plain;charset=UTF-8")
            headers.add(name: "Content-Length", value: String(bytes.readableBytes))
            buffer = bytes
        } else {
            headers.add(name: "Content-Length", value: "0")
        }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
        if let channel, channel.isActive, reusable {
            write(head: head, body: buffer, exchange: exchange, on: channel)
        } else {
            waiting = (head, buffer, exchange)
            connect()
        }
    }

    /// Closes the connection; no callbacks follow.
    func close() {
        closed = true
        current = nil
        waiting = nil
        channel?.close(promise: nil)
        channel = nil
    }

    private func connect() {
        guard !connecting else { return }
        connecting = true
        reusable = true
        channel = nil
        let this = NIOLoopBound(self, eventLoop: eventLoop)
        let endpoint = self.endpoint
        endpoint.bound(ClientBootstrap(group: eventLoop))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(HTTPExchangeHandler(connection: this.value))
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .assumeIsolated()
            .whenComplete { result in
                let connection = this.value
                connection.connecting = false
                switch result {
                case .success(let channel):
                    guard !connection.closed else {
                        channel.close(promise: nil)
                        return
                    }
                    connection.channel = channel
                    if let (head, body, exchange) = connection.waiting {
                        connection.waiting = nil
                        connection.write(head: head, body: body, exchange: exchange, on: channel)
                    }
                case .failure(let error):
                    if let exchange = connection.waiting?.exchange {
                        connection.waiting = nil
                        exchange.onFailure(SockJSClientError.describeConnectFailure(error, endpoint: endpoint))
                    }
                }
            }
    }

    private func write(head: HTTPRequestHead, body: ByteBuffer?, exchange: Exchange, on channel: any Channel) {
        current = exchange
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    // MARK: From the handler

    fileprivate func responseHead(_ head: HTTPResponseHead) {
        reusable = head.isKeepAlive
        current?.onHead(head.status)
    }

    fileprivate func responseBody(_ buffer: ByteBuffer) {
        current?.onBody(buffer)
    }

    fileprivate func responseEnd(channel: any Channel) {
        let exchange = current
        current = nil
        if !reusable {
            channel.close(promise: nil)
            if self.channel === channel { self.channel = nil }
        }
        exchange?.onEnd()
    }

    fileprivate func connectionLost(channel: any Channel, reason: String) {
        if self.channel === channel { self.channel = nil }
        if let exchange = current {
            current = nil
            exchange.onFailure(reason)
        }
    }
}

/// Forwards the response parts of an `HTTPExchangeConnection`'s channel to it.
private final class HTTPExchangeHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let connection: HTTPExchangeConnection

    init(connection: HTTPExchangeConnection) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): connection.responseHead(head)
        case .body(let buffer): connection.responseBody(buffer)
        case .end: connection.responseEnd(channel: context.channel)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.connectionLost(channel: context.channel, reason: "The server closed the HTTP connection mid-request.")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.connectionLost(channel: context.channel, reason: "The HTTP connection failed: \(error).")
        context.close(promise: nil)
    }
}

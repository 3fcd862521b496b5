import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// The `websocket` transport: one RFC 6455 connection to `/<server>/<session>/websocket`,
/// each text frame one SockJS frame in, each payload one text frame out.
final class WebSocketTransportDriver: SockJSTransportDriver {
    /// Strong on purpose: a session lives until it closes, even when its owner dropped the
    /// handle. `stop()` breaks the cycle (the executor drops the driver when it closes).
    private var executor: SockJSClientExecutor?
    private let eventLoop: any EventLoop
    private let endpoint: SockJSEndpoint
    private let path: String
    private let maxFrameSize: Int
    private var channel: (any Channel)?
    private var stopped = false

    init(executor: SockJSClientExecutor, server: String, session: String) {
        self.executor = executor
        self.eventLoop = executor.eventLoop
        self.endpoint = executor.endpoint
        self.path = executor.endpoint.sessionPath(server: server, session: session, .websocket)
        self.maxFrameSize = executor.configuration.maxFrameSize
    }

    func start() {
        let this = NIOLoopBound(self, eventLoop: eventLoop)
        let endpoint = self.endpoint
        let path = self.path
        let maxFrameSize = self.maxFrameSize
        let connect = endpoint.bound(ClientBootstrap(group: eventLoop))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOTypedWebSocketClientUpgrader<Bool>(
                        maxFrameSize: maxFrameSize,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                let driver = this.value
                                try channel.pipeline.syncOperations.addHandlers(
                                    NIOWebSocketFrameAggregator(
                                        minNonFinalFragmentSize: 0,
                                        maxAccumulatedFrameCount: 64,
                                        maxAccumulatedFrameSize: maxFrameSize
                                    ),
                                    WebSocketFrameHandler(driver: driver)
                                )
                                return true
                            }
                        }
                    )
                    var headers = HTTPHeaders()
                    headers.add(name: "Host", value: endpoint.hostForHeader)
                    headers.add(name: "Content-Length", value: "0")
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
                    let configuration = NIOTypedHTTPClientUpgradeConfiguration<Bool>(
                        upgradeRequestHead: head,
                        upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in
                            channel.eventLoop.makeSucceededFuture(false)
                        }
                    )
                    var pipeline = NIOUpgradableHTTPClientPipelineConfiguration(upgradeConfiguration: configuration)
                    // The server may send its `o` frame in the same packet as the 101 response.
                    pipeline.leftOverBytesStrategy = .forwardBytes
                    let negotiated = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: pipeline
                    )
                    negotiated.assumeIsolated().whenComplete { result in
                        this.value.negotiated(result)
                    }
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
        connect.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                if this.value.stopped {
                    channel.close(promise: nil)
                } else {
                    this.value.channel = channel
                }
            case .failure(let error):
                this.value.fail(SockJSClientError.describeConnectFailure(error, endpoint: endpoint))
            }
        }
    }

    private func negotiated(_ result: Result<Bool, any Error>) {
        switch result {
        case .success(true):
            break
        case .success(false):
            fail("The server at \(endpoint) refused the websocket upgrade of \(path).")
            channel?.close(promise: nil)
        case .failure(let error):
            fail("The websocket handshake with \(endpoint) failed: \(error).")
            channel?.close(promise: nil)
        }
    }

    func transmit(_ payload: String) {
        guard let channel, !stopped else { return }
        let buffer = channel.allocator.buffer(string: payload)
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: buffer)
        channel.writeAndFlush(frame, promise: nil)
    }

    func stop() {
        guard !stopped else { return }
        stopped = true
        executor = nil
        guard let channel else { return }
        var data = channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: .normalClosure)
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: data)
        channel.writeAndFlush(frame).assumeIsolated().whenComplete { _ in
            channel.close(promise: nil)
        }
        self.channel = nil
    }

    // MARK: From the handler

    fileprivate func received(frame bytes: [UInt8]) {
        guard !stopped else { return }
        executor?.received(frame: bytes)
    }

    fileprivate func fail(_ reason: String) {
        guard !stopped else { return }
        stopped = true
        channel = nil
        let executor = self.executor
        self.executor = nil
        executor?.transportFailed(reason)
    }
}

/// Reads frames of an upgraded websocket for a `WebSocketTransportDriver`; answers pings and
/// close frames as RFC 6455 requires of a client (masked).
private final class WebSocketFrameHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let driver: WebSocketTransportDriver
    private var closeSent = false

    init(driver: WebSocketTransportDriver) {
        self.driver = driver
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            driver.received(frame: Array(frame.unmaskedData.readableBytesView))
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            if !closeSent {
                closeSent = true
                var data = frame.unmaskedData
                let code = data.readInteger(as: UInt16.self).map(Int.init)
                let echo = WebSocketFrame(
                    fin: true,
                    opcode: .connectionClose,
                    maskKey: .random(),
                    data: context.channel.allocator.buffer(integer: UInt16(code ?? 1000))
                )
                context.writeAndFlush(wrapOutboundOut(echo)).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
                driver.fail("The server closed the websocket (code \(code.map(String.init) ?? "none")) without a SockJS close frame.")
            }
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        driver.fail("The server closed the websocket connection.")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        driver.fail("The websocket connection failed: \(error).")
        context.close(promise: nil)
    }
}

import Logging
import NIOCore

/// Sent through a connection's pipeline when the server shuts down.
struct SockJSShutdownEvent: Sendable {}

/// The one handler that owns a server connection: it parses HTTP/1.x requests itself, answers the
/// SockJS URL space and the plain routes, streams to sessions, and after an upgrade speaks
/// websocket (RFC 6455 or hixie-76) on the same connection.
///
/// Parsing is done by the pure `HTTPRequestParser` and `WebSocketFrameParser`; this class only
/// moves bytes, keeps the connection's mode, and runs timers (request and idle timeouts).
final class SockJSConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State {
        /// Waiting for (the rest of) a request.
        case idle
        /// A response is being produced elsewhere (a route task).
        case busy
        /// A poll or stream is attached to a session.
        case receiving(HTTPReceiver, SockJSSession)
        /// The hixie-76 101 head was sent; waiting for the 8-byte nonce.
        case hixieHandshake(HixieHandshake)
        /// The connection speaks websocket for a session.
        case webSocket(WebSocketReceiver, SockJSSession)
        /// The server sent its websocket close frame and waits for the client's (or a timeout).
        case webSocketDraining
        /// Closing; input is ignored.
        case closing
    }

    struct HixieHandshake {
        var key1: UInt32
        var key2: UInt32
        var endpoint: SockJSEndpoint
        var head: HTTPRequestHead
        var sessionID: String
    }

    let core: SockJSServerCore
    var state: State = .idle
    var context: ChannelHandlerContext?
    var inbound = SockJSConnectionHandler.emptyBuffer
    static let emptyBuffer = ByteBuffer()
    var parser: HTTPRequestParser
    var remoteAddress: SocketAddress?
    /// Whether the connection stays open after the current response.
    var keepAlive = true
    /// Whether the current streaming response uses chunked encoding.
    var chunked = false
    /// Headers of a poll, written with its frame.
    var pendingPollHeaders: [(String, String)] = []
    var pendingPollHead: HTTPRequestHead?
    var timer: Scheduled<Void>?
    var shuttingDown = false
    private var processing = false

    // Websocket mode.
    var webSocketParser: WebSocketFrameParser
    var webSocketFragments: ByteBuffer?
    var webSocketIsHixie = false
    var webSocketFramed = true
    var webSocketClosing = false

    init(core: SockJSServerCore) {
        self.core = core
        self.parser = HTTPRequestParser(limits: core.parserLimits)
        self.webSocketParser = WebSocketFrameParser(maxFrameSize: 1024 * 1024)
    }

    var logger: Logger { core.logger }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.remoteAddress = context.channel.remoteAddress
        if context.channel.isActive { core.connectionOpened(context.channel) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        remoteAddress = context.channel.remoteAddress
        core.connectionOpened(context.channel)
        armTimer(core.configuration.idleTimeout)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        core.connectionClosed(context.channel)
        timer?.cancel()
        timer = nil
        enterClosing()
        context.fireChannelInactive()
    }

    /// Moves to `.closing` and tells an attached session that its receiver is gone, whoever
    /// closes the connection (the client, or this handler after a client's websocket close frame
    /// or a protocol violation): otherwise the session would wait for its receiver forever.
    func enterClosing() {
        let previous = state
        state = .closing
        switch previous {
        case .receiving(let receiver, let session):
            if session.eventLoop.inEventLoop {
                session.receiverLost(receiver)
            } else {
                session.eventLoop.execute { session.receiverLost(receiver) }
            }
        case .webSocket(let receiver, let session):
            session.receiverLost(receiver)
        default:
            break
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if case .closing = state { return }
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeBuffer(&bytes)
        }
        process()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .webSocket(_, let session) = state {
            session.receiverWritabilityChanged(context.channel.isWritable)
        }
        context.fireChannelWritabilityChanged()
        if context.channel.isWritable, case .idle = state, inbound.readableBytes > 0 { process() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("SockJS connection error, closing it", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is SockJSShutdownEvent {
            shuttingDown = true
            if case .idle = state { closeNow() }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Reading

    /// Handles what is buffered, as far as the current mode allows.
    func process() {
        guard !processing else { return }
        processing = true
        defer {
            processing = false
            if inbound.readableBytes == 0 {
                // Don't keep the read buffer's storage while idle: thousands of idle websockets
                // would each hold one.
                inbound = Self.emptyBuffer
            } else if inbound.readerIndex > 4096 {
                inbound.discardReadBytes()
            }
        }
        while true {
            switch state {
            case .idle:
                // Pipelined requests wait while the client does not read its responses (the
                // socket is not writable); `BackPressureHandler` stops reading meanwhile, and
                // writability coming back resumes here (Specs/bounds.md).
                if inbound.readableBytes > 0, let context, !context.channel.isWritable { return }
                let request: (head: HTTPRequestHead, body: ByteBuffer)?
                do {
                    request = try parser.next(from: &inbound)
                } catch {
                    refuse(error)
                    return
                }
                guard let request else {
                    if parser.takeContinueRequest() {
                        write(ByteBuffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n"), flush: true)
                    }
                    if parser.hasPartialRequest(buffered: inbound.readableBytes) { armRequestTimerIfIdle() }
                    return
                }
                timer?.cancel()
                timer = nil
                requestTimerArmed = false
                handle(request.head, body: request.body)
            case .busy, .receiving:
                // A pipelined request waits for the current response; the buffer stays bounded.
                if inbound.readableBytes > core.configuration.maxRequestHeadBytes + core.configuration.maxRequestBodyBytes {
                    logger.info("SockJS connection closed: too many bytes sent ahead of a response")
                    closeNow()
                }
                return
            case .hixieHandshake(let handshake):
                guard inbound.readableBytes >= 8, let nonce = inbound.readBytes(length: 8) else { return }
                completeHixieHandshake(handshake, nonce: nonce)
            case .webSocket:
                readWebSocketFrames()
                return
            case .webSocketDraining:
                drainWebSocket()
                return
            case .closing:
                inbound.clear()
                return
            }
        }
    }

    private var requestTimerArmed = false

    private func armRequestTimerIfIdle() {
        guard !requestTimerArmed else { return }
        requestTimerArmed = true
        armTimer(core.configuration.requestTimeout, slowRequest: true)
    }

    /// Arms the connection timer: an idle keep-alive connection, or a request that is too slow to arrive.
    func armTimer(_ delay: TimeAmount, slowRequest: Bool = false) {
        guard let context else { return }
        timer?.cancel()
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: delay) {
            handler.value.timerFired(slowRequest: slowRequest)
        }
    }

    private func timerFired(slowRequest: Bool) {
        timer = nil
        if case .webSocketDraining = state {
            closeNow()
            return
        }
        guard case .idle = state else { return }
        if slowRequest {
            logger.info("SockJS connection closed: its request did not arrive within the request timeout", metadata: ["remote": "\(remoteAddress.map { "\($0)" } ?? "-")"])
            writeRaw(status: 408, body: "The request took too long to arrive; send it again.\n")
        } else {
            closeNow()
        }
    }

    // MARK: Writing HTTP responses

    /// Writes a complete response with a `Content-Length` body.
    func respond(
        _ head: HTTPRequestHead?,
        status: Int,
        headers: [(String, String)],
        body: ByteBuffer? = nil,
        closeAfter: Bool = false
    ) {
        guard let context else { return }
        keepAlive = (head?.isKeepAlive ?? false) && !closeAfter && !shuttingDown
        let bodyLength = body?.readableBytes ?? 0
        var out = context.channel.allocator.buffer(capacity: 160 + headers.count * 40 + bodyLength)
        out.writeStaticString("HTTP/1.1 ")
        out.writeString(String(status))
        out.writeInteger(UInt8(ascii: " "))
        out.writeString(HTTPStatus.reason(status))
        out.writeStaticString("\r\nX-Content-Type-Options: nosniff\r\n")
        for (name, value) in headers {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        if status != 204 && status != 304 {
            out.writeStaticString("Content-Length: ")
            out.writeString(String(bodyLength))
            out.writeStaticString("\r\n")
        }
        if !keepAlive {
            out.writeStaticString("Connection: close\r\n")
        } else if head?.version.minor == 0 {
            out.writeStaticString("Connection: keep-alive\r\n")
        }
        out.writeStaticString("\r\n")
        if var body, status != 204 && status != 304, head?.method != "HEAD" { out.writeBuffer(&body) }
        write(out, flush: true)
        finishResponse()
    }

    /// Writes the head of a streaming response (chunked on HTTP/1.1, close-delimited on HTTP/1.0).
    func startStream(_ head: HTTPRequestHead, headers: [(String, String)]) {
        guard let context else { return }
        chunked = head.version.minor >= 1
        keepAlive = chunked && head.isKeepAlive && !shuttingDown
        var out = context.channel.allocator.buffer(capacity: 256)
        out.writeStaticString("HTTP/1.1 200 OK\r\nX-Content-Type-Options: nosniff\r\n")
        for (name, value) in headers {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        if chunked { out.writeStaticString("Transfer-Encoding: chunked\r\n") }
        if !keepAlive { out.writeStaticString("Connection: close\r\n") }
        out.writeStaticString("\r\n")
        write(out, flush: false)
    }

    /// Writes one piece of a streaming body.
    func streamWrite(_ bytes: ByteBuffer, flush: Bool) {
        guard let context, bytes.readableBytes > 0 else { return }
        if chunked {
            var size = context.channel.allocator.buffer(capacity: 10)
            size.writeString(String(bytes.readableBytes, radix: 16))
            size.writeStaticString("\r\n")
            write(size, flush: false)
            write(bytes, flush: false)
            write(ByteBuffer(staticString: "\r\n"), flush: flush)
        } else {
            write(bytes, flush: flush)
        }
    }

    /// Ends a streaming body.
    func streamEnd() {
        if chunked { write(ByteBuffer(staticString: "0\r\n\r\n"), flush: true) } else { context?.flush() }
        finishResponse()
    }

    func write(_ bytes: ByteBuffer, flush: Bool) {
        guard let context else { return }
        context.write(wrapOutboundOut(bytes), promise: nil)
        if flush { context.flush() }
    }

    /// After a response: read the next request, or close.
    func finishResponse() {
        pendingPollHead = nil
        pendingPollHeaders = []
        if keepAlive && !shuttingDown {
            state = .idle
            armTimer(core.configuration.idleTimeout)
            if !processing, context != nil {
                process()
            }
        } else {
            closeAfterFlush()
        }
    }

    /// Closes once everything written has gone out.
    func closeAfterFlush() {
        guard let context else { return }
        enterClosing()
        let channel = context.channel
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: promise)
        promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
    }

    /// Closes at once, dropping anything not yet written.
    func closeNow() {
        guard let context else { return }
        enterClosing()
        context.close(promise: nil)
    }

    /// Answers a request that could not be parsed and closes.
    private func refuse(_ error: HTTPRequestParser.ParseError) {
        logger.info("SockJS request refused", metadata: ["status": "\(error.status)", "remote": "\(remoteAddress.map { "\($0)" } ?? "-")"])
        writeRaw(status: error.status, body: error.message)
    }

    /// A plain-text error response, then close.
    private func writeRaw(status: Int, body: String) {
        respond(nil, status: status, headers: [("Content-Type", "text/plain; charset=UTF-8")], body: ByteBuffer(string: body), closeAfter: true)
    }

    // MARK: Receivers (called on this loop by HTTPReceiver)

    func receiverWrite(_ receiver: HTTPReceiver, _ bytes: ByteBuffer, flush: Bool) {
        guard case .receiving(let current, _) = state, current === receiver, !receiver.polling else { return }
        streamWrite(bytes, flush: flush)
    }

    func receiverFlush(_ receiver: HTTPReceiver) {
        guard case .receiving(let current, _) = state, current === receiver else { return }
        context?.flush()
    }

    func receiverAbort(_ receiver: HTTPReceiver, after bytes: ByteBuffer?) {
        guard case .receiving(let current, _) = state, current === receiver else { return }
        if !receiver.polling, let bytes { streamWrite(bytes, flush: true) }
        closeNow()
    }

    func receiverEnd(_ receiver: HTTPReceiver, after bytes: ByteBuffer?) {
        guard case .receiving(let current, let session) = state, current === receiver else { return }
        if receiver.polling {
            respond(pendingPollHead, status: 200, headers: pendingPollHeaders, body: bytes ?? ByteBuffer())
            // This loop may have run the response long after the session decided it.
            if session.eventLoop.inEventLoop {
                session.pollAnswered()
            } else {
                session.eventLoop.execute { session.pollAnswered() }
            }
        } else {
            if let bytes { streamWrite(bytes, flush: false) }
            streamEnd()
        }
    }
}

/// Reason phrases for the status codes the server sends.
enum HTTPStatus {
    static func reason(_ status: Int) -> String {
        switch status {
        case 101: return "Switching Protocols"
        case 200: return "OK"
        case 204: return "No Content"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 413: return "Content Too Large"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }
}

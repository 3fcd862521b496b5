import Logging
import NIOCore

/// Sent through a connection's pipeline when the server shuts down.
struct SockJSShutdownEvent: Sendable {}

/// The one handler that owns a server connection: it parses HTTP/1.x requests itself, answers the
/// SockJS URL space and the plain routes, streams to sessions, and after an upgrade speaks
/// websocket (RFC 6455 or hixie-76) on the same connection.
///
/// It is an executor: parsing is done by the pure `HTTPRequestParser` and `WebSocketFrameParser`,
/// and every decision about the connection (its mode, keep-alive and chunking, pipelining, the
/// timer, websocket fragments, pings and the closing handshake) by the pure
/// `SockJSConnectionStateMachine`. This class moves bytes, formats responses, runs the timer the
/// machine asks for and calls the sessions.
final class SockJSConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What the connection keeps for the session it is attached to.
    struct Attachment {
        let receiver: any SockJSReceiver
        let session: SockJSSession
        /// A poll's request head and headers, written with its one frame.
        var poll: (head: HTTPRequestHead, headers: [(String, String)])?

        /// Tells the session that this connection is gone, on the session's loop (a poll or
        /// stream may run on another loop than its session; a websocket always runs on its own).
        func tellLost() {
            let session = session
            let receiver = receiver
            if session.eventLoop.inEventLoop {
                session.receiverLost(receiver)
            } else {
                session.eventLoop.execute { session.receiverLost(receiver) }
            }
        }
    }

    struct HixieHandshake {
        var key1: UInt32
        var key2: UInt32
        var endpoint: SockJSEndpoint
        var head: HTTPRequestHead
        var sessionID: String
    }

    typealias Machine = SockJSConnectionStateMachine<Attachment, HixieHandshake>

    let shared: SockJSServerContext
    var machine: Machine
    var context: ChannelHandlerContext?
    var inbound = SockJSConnectionHandler.emptyBuffer
    static let emptyBuffer = ByteBuffer()
    var parser: HTTPRequestParser
    var remoteAddress: SocketAddress?
    var timer: Scheduled<Void>?
    /// Re-entrancy guard of ``process()``: a session or response may call back into it.
    private var processing = false
    var webSocketParser: WebSocketFrameParser

    init(shared: SockJSServerContext) {
        self.shared = shared
        self.machine = Machine(
            configuration: .init(
                idleTimeout: shared.configuration.idleTimeout,
                requestTimeout: shared.configuration.requestTimeout,
                maxBytesAhead: shared.configuration.maxRequestHeadBytes + shared.configuration.maxRequestBodyBytes
            ))
        self.parser = HTTPRequestParser(limits: shared.parserLimits)
        self.webSocketParser = WebSocketFrameParser(maxFrameSize: 1024 * 1024)
    }

    var logger: Logger { shared.logger }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.remoteAddress = context.channel.remoteAddress
        if context.channel.isActive { shared.connectionOpened(context.channel) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        remoteAddress = context.channel.remoteAddress
        shared.connectionOpened(context.channel)
        run(machine.connectionActive())
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        shared.connectionClosed(context.channel)
        run(.cancel)
        // Whoever closed the connection (the client, or this handler), an attached session must
        // hear that its receiver is gone: otherwise it would wait for it forever.
        machine.close()?.tellLost()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard machine.acceptsInput else { return }
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeBuffer(&bytes)
        }
        process()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        machine.webSocketReceiver?.session.receiverWritabilityChanged(writable)
        context.fireChannelWritabilityChanged()
        if machine.readsOnWritabilityChange(writable: writable, buffered: inbound.readableBytes) { process() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("SockJS connection error, closing it", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is SockJSShutdownEvent {
            if machine.shutdown() { context.close(promise: nil) }
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
            // A pipelined request waits for the current response, and while the client does not
            // read its responses (the socket is not writable; `BackPressureHandler` stops reading
            // meanwhile, and writability coming back resumes here: Specs/bounds.md).
            let writable = context?.channel.isWritable ?? true
            switch machine.inputStep(buffered: inbound.readableBytes, writable: writable) {
            case .wait:
                return
            case .readRequest:
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
                    if let timer = machine.requestIncomplete(partial: parser.hasPartialRequest(buffered: inbound.readableBytes)) {
                        run(timer)
                    }
                    return
                }
                run(machine.requestReceived())
                handle(request.head, body: request.body)
            case .closeTooFarAhead(let lost):
                logger.info("SockJS connection closed: too many bytes sent ahead of a response")
                lost?.tellLost()
                context?.close(promise: nil)
                return
            case .readHixieNonce:
                guard let nonce = inbound.readBytes(length: 8), let pending = machine.hixieNonceRead() else { return }
                completeHixieHandshake(pending.handshake, framed: pending.framed, nonce: nonce)
            case .readWebSocket:
                readWebSocketFrames()
                return
            case .drainWebSocket:
                drainWebSocket()
                return
            case .discard:
                inbound.clear()
                return
            }
        }
    }

    /// Carries out a timer action: the connection runs one timer at a time.
    func run(_ action: Machine.TimerAction) {
        switch action {
        case .cancel:
            timer?.cancel()
            timer = nil
        case .arm(let kind, let delay):
            guard let context else { return }
            timer?.cancel()
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleTask(in: delay) {
                handler.value.timerFired(kind)
            }
        }
    }

    private func timerFired(_ kind: Machine.Timer) {
        timer = nil
        switch machine.timerFired(kind) {
        case .none:
            break
        case .closeNow:
            context?.close(promise: nil)
        case .refuseSlowRequest:
            logger.info(
                "SockJS connection closed: its request did not arrive within the request timeout",
                metadata: ["remote": "\(remoteAddress.map { "\($0)" } ?? "-")"])
            writeRaw(status: 408, body: "The request took too long to arrive; send it again.\n")
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
        let connection = machine.completeResponse(
            keepAliveRequested: head?.isKeepAlive, minorVersion: head?.version.minor, closeAfter: closeAfter
        )
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
        switch connection {
        case .close: out.writeStaticString("Connection: close\r\n")
        case .keepAlive: out.writeStaticString("Connection: keep-alive\r\n")
        case .none: break
        }
        out.writeStaticString("\r\n")
        if var body, status != 204 && status != 304, head?.method != "HEAD" { out.writeBuffer(&body) }
        write(out, flush: true)
        finishResponse()
    }

    /// Writes the head of a streaming response (chunked on HTTP/1.1, close-delimited on HTTP/1.0).
    func startStream(_ head: HTTPRequestHead, headers: [(String, String)]) {
        guard let context else { return }
        let framing = machine.streamingResponse(keepAliveRequested: head.isKeepAlive, minorVersion: head.version.minor)
        var out = context.channel.allocator.buffer(capacity: 256)
        out.writeStaticString("HTTP/1.1 200 OK\r\nX-Content-Type-Options: nosniff\r\n")
        for (name, value) in headers {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        if framing.chunked { out.writeStaticString("Transfer-Encoding: chunked\r\n") }
        if framing.connectionClose { out.writeStaticString("Connection: close\r\n") }
        out.writeStaticString("\r\n")
        write(out, flush: false)
    }

    /// Writes one piece of a streaming body.
    func streamWrite(_ bytes: ByteBuffer, flush: Bool) {
        guard let context, bytes.readableBytes > 0 else { return }
        if machine.chunked {
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
        if machine.chunked { write(ByteBuffer(staticString: "0\r\n\r\n"), flush: true) } else { context?.flush() }
        finishResponse()
    }

    func write(_ bytes: ByteBuffer, flush: Bool) {
        guard let context else { return }
        context.write(wrapOutboundOut(bytes), promise: nil)
        if flush { context.flush() }
    }

    /// After a response: read the next request, or close.
    func finishResponse() {
        switch machine.responseFinished() {
        case .keepOpen(let timer):
            run(timer)
            if context != nil { process() }
        case .closeAfterFlush(let lost):
            lost?.tellLost()
            closeAfterFlush()
        }
    }

    /// Closes once everything written has gone out (the machine is already closing).
    func closeAfterFlush() {
        guard let context else { return }
        let channel = context.channel
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: promise)
        promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
    }

    /// Closes at once, dropping anything not yet written; tells an attached session.
    func closeNow() {
        guard let context else { return }
        machine.close()?.tellLost()
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

    /// The attached poll or stream, if it is `receiver`.
    private func attached(_ receiver: HTTPReceiver) -> Attachment? {
        guard let current = machine.httpReceiver, current.receiver === receiver else { return nil }
        return current
    }

    func receiverWrite(_ receiver: HTTPReceiver, _ bytes: ByteBuffer, flush: Bool) {
        guard attached(receiver) != nil, !receiver.polling else { return }
        streamWrite(bytes, flush: flush)
    }

    func receiverFlush(_ receiver: HTTPReceiver) {
        guard attached(receiver) != nil else { return }
        context?.flush()
    }

    func receiverAbort(_ receiver: HTTPReceiver, after bytes: ByteBuffer?) {
        guard attached(receiver) != nil else { return }
        if !receiver.polling, let bytes { streamWrite(bytes, flush: true) }
        closeNow()
    }

    func receiverEnd(_ receiver: HTTPReceiver, after bytes: ByteBuffer?) {
        guard let current = attached(receiver) else { return }
        if receiver.polling {
            respond(current.poll?.head, status: 200, headers: current.poll?.headers ?? [], body: bytes ?? ByteBuffer())
            // This loop may have run the response long after the session decided it.
            let session = current.session
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

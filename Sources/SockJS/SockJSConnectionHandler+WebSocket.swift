import Crypto
import NIOCore
import SockJSWire

extension SockJSConnectionHandler {
    static let webSocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key` (RFC 6455 4.2.2).
    static func webSocketAccept(key: String) -> String {
        Base64.encode(Insecure.SHA1.hash(data: Array((key + webSocketGUID).utf8)))
    }

    /// Answers a websocket upgrade: RFC 6455 (framed or raw) or hixie-76, or the error SockJS prescribes.
    func handleWebSocketUpgrade(_ head: HTTPRequestHead, endpoint: SockJSEndpoint, sessionID: String, framed: Bool) {
        guard head.method == "GET" else {
            respond(head, status: 405, headers: [("Allow", "GET")], body: nil, closeAfter: true)
            return
        }
        guard endpoint.options.websocket else {
            respond(head, status: 404, headers: [("Content-Type", "text/plain; charset=UTF-8")],
                    body: ByteBuffer(staticString: "Websockets are disabled for this service; use another transport.\n"), closeAfter: true)
            return
        }
        guard head.header("Upgrade")?.lowercased() == "websocket" else {
            respond(head, status: 400, headers: [("Content-Type", "text/plain; charset=UTF-8")],
                    body: ByteBuffer(staticString: "Can \"Upgrade\" only to \"WebSocket\"."), closeAfter: true)
            return
        }
        guard head.header("Connection", containsToken: "upgrade") else {
            respond(head, status: 400, headers: [("Content-Type", "text/plain; charset=UTF-8")],
                    body: ByteBuffer(staticString: "\"Connection\" must be \"Upgrade\"."), closeAfter: true)
            return
        }
        if head.header("Sec-WebSocket-Key") == nil,
           let k1 = head.header("Sec-WebSocket-Key1"), let k2 = head.header("Sec-WebSocket-Key2") {
            startHixie(head, endpoint: endpoint, sessionID: sessionID, framed: framed, key1: k1, key2: k2)
            return
        }
        let version = head.header("Sec-WebSocket-Version") ?? ""
        guard ["13", "8", "7"].contains(version), let key = head.header("Sec-WebSocket-Key"), !key.isEmpty else {
            respond(head, status: 400, headers: [("Content-Type", "text/plain; charset=UTF-8"), ("Sec-WebSocket-Version", "13")],
                    body: ByteBuffer(staticString: "Unsupported websocket version or key; use RFC 6455 (version 13).\n"), closeAfter: true)
            return
        }
        let accept = Self.webSocketAccept(key: key)
        var out = ByteBuffer()
        out.writeStaticString("HTTP/1.1 101 Switching Protocols\r\nX-Content-Type-Options: nosniff\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ")
        out.writeString(accept)
        out.writeStaticString("\r\n\r\n")
        write(out, flush: false)
        webSocketIsHixie = false
        startWebSocketSession(head, endpoint: endpoint, sessionID: sessionID, framed: framed)
    }

    private func startHixie(_ head: HTTPRequestHead, endpoint: SockJSEndpoint, sessionID: String, framed: Bool, key1: String, key2: String) {
        guard let n1 = Hixie76.keyNumber(key1), let n2 = Hixie76.keyNumber(key2) else {
            respond(head, status: 400, headers: [("Content-Type", "text/plain; charset=UTF-8")],
                    body: ByteBuffer(staticString: "Invalid hixie-76 websocket keys.\n"), closeAfter: true)
            return
        }
        var out = ByteBuffer()
        out.writeStaticString("HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n")
        out.writeString("Sec-WebSocket-Origin: \(head.header("Origin") ?? "null")\r\n")
        out.writeString("Sec-WebSocket-Location: \(core.configuration.secure ? "wss" : "ws")://\(head.header("Host") ?? "localhost")\(head.uri)\r\n\r\n")
        // HAProxy forwards the nonce only after it saw the 101: send the head first.
        write(out, flush: true)
        webSocketIsHixie = true
        webSocketFramed = framed
        timer?.cancel()
        timer = nil
        state = .hixieHandshake(HixieHandshake(key1: n1, key2: n2, endpoint: endpoint, head: head, sessionID: sessionID))
    }

    func completeHixieHandshake(_ handshake: HixieHandshake, nonce: [UInt8]) {
        var answer = ByteBuffer()
        answer.writeBytes(Hixie76.challengeAnswer(key1: handshake.key1, key2: handshake.key2, nonce: nonce))
        write(answer, flush: false)
        startWebSocketSession(handshake.head, endpoint: handshake.endpoint, sessionID: handshake.sessionID, framed: webSocketFramed)
    }

    private func startWebSocketSession(_ head: HTTPRequestHead, endpoint: SockJSEndpoint, sessionID: String, framed: Bool) {
        guard let context else { return }
        timer?.cancel()
        timer = nil
        webSocketFramed = framed
        webSocketParser = WebSocketFrameParser(maxFrameSize: endpoint.options.maxMessageBytes)
        let flavour: SockJSFrameFlavour = webSocketIsHixie ? .hixie76 : (framed ? .websocket : .rawWebSocket)
        guard let session = endpoint.webSocketSession(
            id: sessionID, transport: framed ? .websocket : .rawWebSocket, request: head,
            remoteAddress: remoteAddress, eventLoop: context.eventLoop, logger: logger
        ) else {
            var bye = ByteBuffer()
            if webSocketIsHixie {
                bye = flavour.wrap(payload: SockJSFrame.close(.goAway).payload(allocator: context.channel.allocator), allocator: context.channel.allocator)
            } else {
                WebSocketFrameEncoder.appendClose(code: 1001, reason: "Server shutting down", to: &bye)
            }
            write(bye, flush: true)
            closeAfterFlush()
            return
        }
        let receiver = WebSocketReceiver(flavour: flavour, handler: NIOLoopBound(self, eventLoop: context.eventLoop))
        state = .webSocket(receiver, session)
        session.attach(receiver, kind: .persistent)
        context.flush()
    }

    // MARK: Frames from the client

    func readWebSocketFrames() {
        guard case .webSocket(let receiver, let session) = state else { return }
        if webSocketIsHixie {
            while case .webSocket = state {
                let frame: Hixie76.Frame?
                do {
                    frame = try webSocketParser.nextHixieFrame(from: &inbound)
                } catch {
                    failWebSocket(session)
                    return
                }
                guard let frame else { return }
                switch frame {
                case .text(let payload):
                    webSocketMessage(payload, session: session)
                case .close:
                    var bye = ByteBuffer()
                    bye.writeBytes([0xFF, 0x00])
                    write(bye, flush: true)
                    // The session ends with its websocket: `closeAfterFlush` leaves the state
                    // `.closing`, so `channelInactive` would no longer tell it.
                    session.receiverLost(receiver)
                    closeAfterFlush()
                    return
                }
            }
            return
        }
        // RFC 6455 5.5.3: of several pings read together only the newest needs its pong. One
        // pong per read, however many pings it held, so a ping flood costs one write per read
        // instead of one per ping (Specs/bounds.md).
        var newestPing: ByteBuffer?
        defer {
            if let newestPing, case .webSocket = state, !webSocketClosing {
                var pong = ByteBuffer()
                WebSocketFrameEncoder.appendControl(opcode: WebSocketFrame.pong, payload: newestPing, to: &pong)
                write(pong, flush: true)
            }
        }
        while case .webSocket = state {
            let frame: WebSocketFrame?
            do {
                frame = try webSocketParser.next(from: &inbound)
            } catch {
                var bye = ByteBuffer()
                WebSocketFrameEncoder.appendClose(code: error == .frameTooLarge ? 1009 : 1002, reason: "", to: &bye)
                write(bye, flush: true)
                failWebSocket(session)
                return
            }
            guard let frame else { return }
            session.clientActivity()
            switch frame.opcode {
            case WebSocketFrame.text, WebSocketFrame.binary, WebSocketFrame.continuation:
                if frame.opcode != WebSocketFrame.continuation && webSocketFragments != nil {
                    failWebSocket(session)
                    return
                }
                if frame.opcode == WebSocketFrame.continuation && webSocketFragments == nil {
                    failWebSocket(session)
                    return
                }
                if frame.fin && webSocketFragments == nil {
                    webSocketMessage(frame.payload, session: session)
                } else {
                    var fragments = webSocketFragments ?? ByteBuffer()
                    var payload = frame.payload
                    fragments.writeBuffer(&payload)
                    guard fragments.readableBytes <= webSocketParser.maxFrameSize else {
                        var bye = ByteBuffer()
                        WebSocketFrameEncoder.appendClose(code: 1009, reason: "", to: &bye)
                        write(bye, flush: true)
                        failWebSocket(session)
                        return
                    }
                    if frame.fin {
                        webSocketFragments = nil
                        webSocketMessage(fragments, session: session)
                    } else {
                        webSocketFragments = fragments
                    }
                }
            case WebSocketFrame.ping:
                newestPing = frame.payload
            case WebSocketFrame.pong:
                break
            case WebSocketFrame.close:
                if !webSocketClosing {
                    webSocketClosing = true
                    var payload = frame.payload
                    let code: UInt16 = payload.readInteger() ?? 1000
                    var bye = ByteBuffer()
                    WebSocketFrameEncoder.appendClose(code: code == 1005 ? 1000 : code, reason: "", to: &bye)
                    write(bye, flush: true)
                }
                // As above: the session must hear that its websocket is gone.
                session.receiverLost(receiver)
                closeAfterFlush()
                return
            default:
                failWebSocket(session)
                return
            }
        }
    }

    private func webSocketMessage(_ payload: ByteBuffer, session: SockJSSession) {
        if !webSocketFramed {
            session.deliver([String(buffer: payload)])
            return
        }
        guard payload.readableBytes > 0 else { return }
        do {
            let messages = try SockJSJSON.decodeMessages(payload, allowSingleString: true)
            session.deliver(messages)
        } catch {
            logger.debug("SockJS websocket closed: the client sent broken JSON", metadata: ["session": "\(session.id)"])
            failWebSocket(session)
        }
    }

    /// The client broke the websocket protocol or SockJS framing: end the session, drop the connection.
    private func failWebSocket(_ session: SockJSSession) {
        state = .closing
        session.protocolError()
        closeAfterFlush()
    }

    // MARK: Frames to the client (called by WebSocketReceiver on this loop)

    func webSocketWrite(_ bytes: ByteBuffer, flush: Bool) {
        guard case .webSocket = state, let context else { return }
        context.write(wrapOutboundOut(bytes), promise: nil)
        if flush { context.flush() }
    }

    func webSocketFlush() {
        context?.flush()
    }

    func webSocketPing() {
        guard case .webSocket = state, !webSocketIsHixie else { return }
        write(ByteBuffer(bytes: [0x89, 0x00]), flush: true)
    }

    /// Writes `bytes` (the close frame) as far as the socket takes it and drops the connection.
    func webSocketAbort(after bytes: ByteBuffer?) {
        guard case .webSocket = state else { return }
        if let bytes { write(bytes, flush: true) }
        closeNow()
    }

    func webSocketEnd(after bytes: ByteBuffer?) {
        guard case .webSocket = state else { return }
        guard let bytes else {
            closeNow()
            return
        }
        write(bytes, flush: false)
        webSocketClosing = true
        if webSocketIsHixie {
            write(ByteBuffer(bytes: [0xFF, 0x00]), flush: false)
            closeAfterFlush()
            return
        }
        if webSocketFramed {
            var bye = ByteBuffer()
            WebSocketFrameEncoder.appendClose(code: 1000, reason: "Normal closure", to: &bye)
            write(bye, flush: false)
        }
        context?.flush()
        // RFC 6455 closing handshake: wait for the client's close frame before dropping TCP,
        // so the client reads everything we sent; give up after a short while.
        state = .webSocketDraining
        armTimer(.seconds(2))
        process()
    }

    /// After our close frame: discard data frames until the client's close frame arrives.
    func drainWebSocket() {
        while case .webSocketDraining = state {
            let frame: WebSocketFrame?
            do {
                frame = try webSocketParser.next(from: &inbound)
            } catch {
                closeNow()
                return
            }
            guard let frame else { return }
            if frame.opcode == WebSocketFrame.close {
                closeNow()
                return
            }
        }
    }
}

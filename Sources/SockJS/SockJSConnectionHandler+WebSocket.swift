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
            respond(
                head, status: 404, headers: [("Content-Type", "text/plain; charset=UTF-8")],
                body: ByteBuffer(staticString: "Websockets are disabled for this service; use another transport.\n"), closeAfter: true)
            return
        }
        guard head.header("Upgrade")?.lowercased() == "websocket" else {
            respond(
                head, status: 400, headers: [("Content-Type", "text/plain; charset=UTF-8")],
                body: ByteBuffer(staticString: "Can \"Upgrade\" only to \"WebSocket\"."), closeAfter: true)
            return
        }
        guard head.header("Connection", containsToken: "upgrade") else {
            respond(
                head, status: 400, headers: [("Content-Type", "text/plain; charset=UTF-8")],
                body: ByteBuffer(staticString: "\"Connection\" must be \"Upgrade\"."), closeAfter: true)
            return
        }
        if head.header("Sec-WebSocket-Key") == nil,
            let k1 = head.header("Sec-WebSocket-Key1"), let k2 = head.header("Sec-WebSocket-Key2")
        {
            startHixie(head, endpoint: endpoint, sessionID: sessionID, framed: framed, key1: k1, key2: k2)
            return
        }
        let version = head.header("Sec-WebSocket-Version") ?? ""
        guard ["13", "8", "7"].contains(version), let key = head.header("Sec-WebSocket-Key"), !key.isEmpty else {
            respond(
                head, status: 400, headers: [("Content-Type", "text/plain; charset=UTF-8"), ("Sec-WebSocket-Version", "13")],
                body: ByteBuffer(staticString: "Unsupported websocket version or key; use RFC 6455 (version 13).\n"), closeAfter: true)
            return
        }
        let accept = Self.webSocketAccept(key: key)
        var out = ByteBuffer()
        out.writeStaticString(
            "HTTP/1.1 101 Switching Protocols\r\nX-Content-Type-Options: nosniff\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ")
        out.writeString(accept)
        out.writeStaticString("\r\n\r\n")
        write(out, flush: false)
        startWebSocketSession(head, endpoint: endpoint, sessionID: sessionID, hixie: false, framed: framed)
    }

    private func startHixie(_ head: HTTPRequestHead, endpoint: SockJSEndpoint, sessionID: String, framed: Bool, key1: String, key2: String) {
        guard let n1 = Hixie76.keyNumber(key1), let n2 = Hixie76.keyNumber(key2) else {
            respond(
                head, status: 400, headers: [("Content-Type", "text/plain; charset=UTF-8")],
                body: ByteBuffer(staticString: "Invalid hixie-76 websocket keys.\n"), closeAfter: true)
            return
        }
        var out = ByteBuffer()
        out.writeStaticString("HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n")
        out.writeString("Sec-WebSocket-Origin: \(head.header("Origin") ?? "null")\r\n")
        out.writeString("Sec-WebSocket-Location: \(shared.configuration.secure ? "wss" : "ws")://\(head.header("Host") ?? "localhost")\(head.uri)\r\n\r\n")
        // HAProxy forwards the nonce only after it saw the 101: send the head first.
        write(out, flush: true)
        run(
            machine.hixieHandshakeStarted(
                HixieHandshake(key1: n1, key2: n2, endpoint: endpoint, head: head, sessionID: sessionID), framed: framed
            ))
    }

    func completeHixieHandshake(_ handshake: HixieHandshake, framed: Bool, nonce: [UInt8]) {
        var answer = ByteBuffer()
        answer.writeBytes(Hixie76.challengeAnswer(key1: handshake.key1, key2: handshake.key2, nonce: nonce))
        write(answer, flush: false)
        startWebSocketSession(handshake.head, endpoint: handshake.endpoint, sessionID: handshake.sessionID, hixie: true, framed: framed)
    }

    private func startWebSocketSession(_ head: HTTPRequestHead, endpoint: SockJSEndpoint, sessionID: String, hixie: Bool, framed: Bool) {
        guard let context else { return }
        run(.cancel)
        webSocketParser = WebSocketFrameParser(maxFrameSize: endpoint.options.maxMessageBytes)
        let flavour: SockJSFrameFlavour = hixie ? .hixie76 : (framed ? .websocket : .rawWebSocket)
        guard
            let session = endpoint.webSocketSession(
                id: sessionID, transport: framed ? .websocket : .rawWebSocket, request: head,
                remoteAddress: remoteAddress, eventLoop: context.eventLoop, logger: logger
            )
        else {
            write(machine.webSocketRefused(hixie: hixie), flush: true)
            closeAfterFlush()
            return
        }
        let receiver = WebSocketReceiver(flavour: flavour, handler: NIOLoopBound(self, eventLoop: context.eventLoop))
        run(
            machine.webSocketStarted(
                Attachment(receiver: receiver, session: session), hixie: hixie, framed: framed,
                maxMessageBytes: endpoint.options.maxMessageBytes
            ))
        session.attach(receiver, kind: .persistent)
        context.flush()
    }

    /// Writes what the machine asked to send to the websocket client.
    func write(_ output: Machine.WebSocketOutput, flush: Bool) {
        var bytes = ByteBuffer()
        switch output {
        case .close(let code, let reason):
            WebSocketFrameEncoder.appendClose(code: code, reason: reason, to: &bytes)
        case .pong(let payload):
            WebSocketFrameEncoder.appendControl(opcode: WebSocketFrame.pong, payload: payload, to: &bytes)
        case .ping:
            bytes.writeBytes([0x89, 0x00])
        case .hixieClose:
            bytes.writeBytes([0xFF, 0x00])
        case .hixieGoAway:
            let allocator = context?.channel.allocator ?? ByteBufferAllocator()
            bytes = SockJSFrameFlavour.hixie76.wrap(payload: SockJSFrame.close(.goAway).payload(allocator: allocator), allocator: allocator)
        }
        write(bytes, flush: flush)
    }

    // MARK: Frames from the client

    func readWebSocketFrames() {
        guard let attachment = machine.webSocketReceiver else { return }
        let session = attachment.session
        if machine.webSocketIsHixie {
            while machine.isWebSocket {
                let frame: Hixie76.Frame?
                do {
                    frame = try webSocketParser.nextHixieFrame(from: &inbound)
                } catch {
                    carryOut(machine.webSocketParseFailed(frameTooLarge: error == .frameTooLarge), attachment)
                    return
                }
                guard let frame else { return }
                carryOut(machine.hixieFrameReceived(frame), attachment)
            }
            return
        }
        // Of several pings read together only the newest gets its pong, after the read.
        defer {
            if let pong = machine.webSocketReadEnded() { write(pong, flush: true) }
        }
        while machine.isWebSocket {
            let frame: WebSocketFrame?
            do {
                frame = try webSocketParser.next(from: &inbound)
            } catch {
                carryOut(machine.webSocketParseFailed(frameTooLarge: error == .frameTooLarge), attachment)
                return
            }
            guard let frame else { return }
            session.clientActivity()
            carryOut(machine.webSocketFrameReceived(frame), attachment)
        }
    }

    /// Carries out what a frame from the client means.
    private func carryOut(_ input: Machine.WebSocketInput, _ attachment: Attachment) {
        let session = attachment.session
        switch input {
        case .none:
            break
        case .deliver(let messages):
            session.deliver(messages)
        case .fail(let closeCode):
            if let closeCode { write(.close(code: closeCode, reason: ""), flush: true) }
            session.protocolError()
            closeAfterFlush()
        case .brokenJSON:
            logger.debug("SockJS websocket closed: the client sent broken JSON", metadata: ["session": "\(session.id)"])
            session.protocolError()
            closeAfterFlush()
        case .clientClosed(let answer):
            write(answer, flush: true)
            attachment.tellLost()
            closeAfterFlush()
        }
    }

    // MARK: Frames to the client (called by WebSocketReceiver on this loop)

    func webSocketWrite(_ bytes: ByteBuffer, flush: Bool) {
        guard machine.isWebSocket, let context else { return }
        context.write(wrapOutboundOut(bytes), promise: nil)
        if flush { context.flush() }
    }

    func webSocketFlush() {
        context?.flush()
    }

    func webSocketPing() {
        guard machine.pingAllowed else { return }
        write(.ping, flush: true)
    }

    /// Writes `bytes` (the close frame) as far as the socket takes it and drops the connection.
    func webSocketAbort(after bytes: ByteBuffer?) {
        guard let lost = machine.webSocketAborted() else { return }
        if let bytes { write(bytes, flush: true) }
        lost.tellLost()
        context?.close(promise: nil)
    }

    func webSocketEnd(after bytes: ByteBuffer?) {
        switch machine.webSocketEnded(hasBytes: bytes != nil) {
        case .ignore:
            return
        case .closeNow(let lost):
            lost.tellLost()
            context?.close(promise: nil)
        case .writeThenClose(let trailer, let lost):
            if let bytes { write(bytes, flush: false) }
            write(trailer, flush: false)
            lost.tellLost()
            closeAfterFlush()
        case .writeThenDrain(let closeFrame, let timer):
            if let bytes { write(bytes, flush: false) }
            if let closeFrame { write(closeFrame, flush: false) }
            context?.flush()
            run(timer)
            process()
        }
    }

    /// After our close frame: discard data frames until the client's close frame arrives.
    func drainWebSocket() {
        while machine.drainsWebSocket {
            let opcode: UInt8?
            do {
                guard let frame = try webSocketParser.next(from: &inbound) else { return }
                opcode = frame.opcode
            } catch {
                opcode = nil
            }
            if machine.drainFrameReceived(opcode: opcode) {
                context?.close(promise: nil)
                return
            }
            if opcode == nil { return }
        }
    }
}

import NIOCore
import SockJSWire

extension SockJSConnectionHandler {
    static let noCache = ("Cache-Control", "no-store, no-cache, no-transform, must-revalidate, max-age=0")
    static let oneYear = 31_536_000

    /// Dispatches one complete request.
    func handle(_ head: HTTPRequestHead, body: ByteBuffer) {
        if let hosts = shared.configuration.hostPolicy, case .refused(let reason) = hosts.decide(hosts: head.headerValues("Host")) {
            forbidden(head, reason: reason)
            return
        }
        if let route = shared.routes[head.path] {
            runRoute(route, head: head, body: body)
            return
        }
        guard let (endpoint, rest) = shared.endpoint(for: head.path[...]) else {
            notFound(head)
            return
        }
        if let policy = endpoint.options.originPolicy,
            case .refused(let reason) = policy.decide(origins: head.headerValues("Origin"), host: head.header("Host"), secure: shared.configuration.secure)
        {
            forbidden(head, reason: reason)
            return
        }
        switch SockJSRoute.route(rest) {
        case .greeting:
            guard head.method == "GET" || head.method == "HEAD" else { return methodNotAllowed(head, allow: "GET") }
            respond(
                head, status: 200, headers: [("Content-Type", "text/plain; charset=UTF-8")],
                body: ByteBuffer(staticString: "Welcome to SockJS!\n"), closeAfter: isUnhandledUpgrade(head))
        case .info:
            handleInfo(head, endpoint: endpoint)
        case .iframe:
            handleIframe(head, endpoint: endpoint)
        case .rawWebSocket:
            handleWebSocketUpgrade(head, endpoint: endpoint, sessionID: "raw", framed: false)
        case .session(_, let sessionID, let transport):
            handleSession(head, body: body, endpoint: endpoint, sessionID: sessionID, transport: transport)
        case .notFound:
            notFound(head)
        }
    }

    private func isUnhandledUpgrade(_ head: HTTPRequestHead) -> Bool {
        head.header("Upgrade") != nil
    }

    func notFound(_ head: HTTPRequestHead) {
        respond(
            head, status: 404, headers: [("Content-Type", "text/plain; charset=UTF-8")],
            body: ByteBuffer(staticString: "Not found: nothing is served at this path.\n"), closeAfter: isUnhandledUpgrade(head))
    }

    /// `403` with a one-line reason (the Host or Origin policy refused the request). Not logged
    /// above debug: anyone can send these, as often as they like.
    func forbidden(_ head: HTTPRequestHead, reason: String) {
        logger.debug("SockJS request refused", metadata: ["status": "403", "reason": "\(reason)", "remote": "\(remoteAddress.map { "\($0)" } ?? "-")"])
        respond(
            head, status: 403, headers: [("Content-Type", "text/plain; charset=UTF-8"), Self.noCache],
            body: ByteBuffer(string: reason + "\n"), closeAfter: isUnhandledUpgrade(head))
    }

    func methodNotAllowed(_ head: HTTPRequestHead, allow: String) {
        respond(head, status: 405, headers: [("Allow", allow)], body: nil, closeAfter: isUnhandledUpgrade(head))
    }

    func corsHeaders(_ head: HTTPRequestHead) -> [(String, String)] {
        var headers: [(String, String)] = []
        // An endpoint with an origin policy has refused any other origin before this point: what
        // is named here is the server's own origin or an allowed one. Without a policy (the
        // protocol suite's test services) any origin is reflected, as the suite expects.
        if let origin = head.header("Origin"), !origin.isEmpty {
            headers.append(("Access-Control-Allow-Origin", origin))
            headers.append(("Access-Control-Allow-Credentials", "true"))
            headers.append(("Vary", "Origin"))
        } else {
            headers.append(("Access-Control-Allow-Origin", "*"))
        }
        if let requested = head.header("Access-Control-Request-Headers"), !requested.isEmpty {
            headers.append(("Access-Control-Allow-Headers", requested))
        }
        return headers
    }

    func cookieHeader(_ head: HTTPRequestHead, endpoint: SockJSEndpoint) -> [(String, String)] {
        guard endpoint.options.cookieNeeded else { return [] }
        var value = "dummy"
        if let cookies = head.header("Cookie") {
            for part in cookies.split(separator: ";") {
                let kv = part.trimmingSpaces().split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0] == "JSESSIONID" { value = String(kv[1]) }
            }
        }
        return [("Set-Cookie", "JSESSIONID=\(value); path=/")]
    }

    private func cacheForeverHeaders() -> [(String, String)] {
        [
            ("Cache-Control", "public, max-age=\(Self.oneYear)"),
            ("Expires", HTTPDate.string(secondsSinceEpoch: HTTPDate.nowSeconds() + Self.oneYear)),
        ]
    }

    private func options(_ head: HTTPRequestHead, methods: String, extra: [(String, String)] = []) {
        var headers = cacheForeverHeaders()
        headers.append(("Access-Control-Max-Age", String(Self.oneYear)))
        headers.append(("Access-Control-Allow-Methods", methods))
        headers += corsHeaders(head)
        headers += extra
        respond(head, status: 204, headers: headers, body: nil)
    }

    // MARK: Static endpoints

    private func handleInfo(_ head: HTTPRequestHead, endpoint: SockJSEndpoint) {
        switch head.method {
        case "GET":
            let o = endpoint.options
            let json =
                "{\"websocket\":\(o.websocket),\"cookie_needed\":\(o.cookieNeeded),\"origins\":[\"*:*\"],\"entropy\":\(UInt32.random(in: 0...UInt32.max))}"
            var headers: [(String, String)] = [("Content-Type", "application/json; charset=UTF-8"), Self.noCache]
            headers += corsHeaders(head)
            respond(head, status: 200, headers: headers, body: ByteBuffer(string: json))
        case "OPTIONS":
            options(head, methods: "OPTIONS, GET")
        default:
            methodNotAllowed(head, allow: "OPTIONS, GET")
        }
    }

    private func handleIframe(_ head: HTTPRequestHead, endpoint: SockJSEndpoint) {
        guard head.method == "GET" else { return methodNotAllowed(head, allow: "GET") }
        if let tag = head.header("If-None-Match"), tag == endpoint.iframeETag {
            respond(head, status: 304, headers: [("ETag", endpoint.iframeETag)] + cacheForeverHeaders(), body: nil)
            return
        }
        var headers: [(String, String)] = [("Content-Type", "text/html; charset=UTF-8")]
        headers += cacheForeverHeaders()
        headers.append(("ETag", endpoint.iframeETag))
        headers.append(("Content-Security-Policy", endpoint.iframeCSP))
        respond(head, status: 200, headers: headers, body: endpoint.iframeBody)
    }

    // MARK: Session endpoints

    private func handleSession(
        _ head: HTTPRequestHead,
        body: ByteBuffer,
        endpoint: SockJSEndpoint,
        sessionID: String,
        transport: SockJSRoute.SessionEndpoint
    ) {
        if transport == .websocket {
            handleWebSocketUpgrade(head, endpoint: endpoint, sessionID: sessionID, framed: true)
            return
        }
        let allowed = transport.allowedMethods
        if head.method == "OPTIONS", allowed.contains("OPTIONS") {
            options(head, methods: allowed.joined(separator: ", "), extra: cookieHeader(head, endpoint: endpoint))
            return
        }
        guard allowed.contains(head.method) else {
            methodNotAllowed(head, allow: allowed.joined(separator: ", "))
            return
        }
        let allocator = context?.channel.allocator ?? ByteBufferAllocator()
        switch transport {
        case .xhr:
            receive(
                head, endpoint: endpoint, sessionID: sessionID, transport: .xhrPolling, kind: .polling,
                flavour: .newline, contentType: "application/javascript; charset=UTF-8", prelude: nil)
        case .xhrStreaming:
            var prelude = allocator.buffer(capacity: 2049)
            prelude.writeRepeatingByte(UInt8(ascii: "h"), count: 2048)
            prelude.writeInteger(UInt8(ascii: "\n"))
            receive(
                head, endpoint: endpoint, sessionID: sessionID, transport: .xhrStreaming,
                kind: .streaming(limit: endpoint.options.responseLimit),
                flavour: .newline, contentType: "application/javascript; charset=UTF-8", prelude: prelude)
        case .eventsource:
            receive(
                head, endpoint: endpoint, sessionID: sessionID, transport: .eventsource,
                kind: .streaming(limit: endpoint.options.responseLimit),
                flavour: .eventSource, contentType: "text/event-stream", prelude: ByteBuffer(staticString: "\r\n"))
        case .htmlfile:
            // An htmlfile page runs its callback path in this origin: under an origin policy it is
            // served only into a frame (browsers that say where a response goes), not as a page
            // another site opens in a window, where `parent.<callback>` could reach its opener.
            if endpoint.options.originPolicy != nil, let destination = head.header("Sec-Fetch-Dest"),
                destination != "iframe", destination != "frame"
            {
                forbidden(head, reason: "htmlfile is served only inside a frame, not as \(OriginPolicy.quoted(destination)).")
                return
            }
            guard let callback = callbackParameter(head) else { return }
            receive(
                head, endpoint: endpoint, sessionID: sessionID, transport: .htmlfile,
                kind: .streaming(limit: endpoint.options.responseLimit),
                flavour: .htmlfile, contentType: "text/html; charset=UTF-8",
                prelude: ByteBuffer(string: Self.htmlfilePrelude(callback: callback)))
        case .jsonp:
            guard let callback = callbackParameter(head) else { return }
            receive(
                head, endpoint: endpoint, sessionID: sessionID, transport: .jsonpPolling, kind: .polling,
                flavour: .jsonp(callback: callback), contentType: "application/javascript; charset=UTF-8", prelude: nil)
        case .xhrSend:
            receiveMessages(head, body: body, endpoint: endpoint, sessionID: sessionID, form: false)
        case .jsonpSend:
            receiveMessages(head, body: body, endpoint: endpoint, sessionID: sessionID, form: true)
        case .websocket:
            break
        }
    }

    /// The `c` query parameter, validated; answers 500 and returns nil when missing or invalid.
    private func callbackParameter(_ head: HTTPRequestHead) -> String? {
        guard let callback = head.queryParameter("c"), !callback.isEmpty else {
            respond(
                head, status: 500, headers: [("Content-Type", "text/plain; charset=UTF-8")],
                body: ByteBuffer(staticString: "\"callback\" parameter required"))
            return nil
        }
        let valid = callback.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
        }
        guard valid else {
            respond(
                head, status: 500, headers: [("Content-Type", "text/plain; charset=UTF-8")],
                body: ByteBuffer(staticString: "invalid \"callback\" parameter"))
            return nil
        }
        return callback
    }

    static func htmlfilePrelude(callback: String) -> String {
        var page = """
            <!doctype html>
            <html><head>
              <meta http-equiv="X-UA-Compatible" content="IE=edge" />
              <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
            </head><body><h2>Don't panic!</h2>
              <script>
                document.domain = document.domain;
                var c = parent.\(callback);
                c.start();
                function p(d) {c.message(d);};
                window.onload = function() {c.stop();};
              </script>
            """
        // Browsers render a streamed page only after about 1 KiB; pad with spaces.
        page += String(repeating: " ", count: max(0, 1025 - page.utf8.count))
        page += "\r\n\r\n"
        return page
    }

    /// Attaches this request as a receiving connection of session `sessionID` (creating it).
    private func receive(
        _ head: HTTPRequestHead,
        endpoint: SockJSEndpoint,
        sessionID: String,
        transport: SockJSTransport,
        kind: SockJSSessionStateMachine.ReceiverKind,
        flavour: SockJSFrameFlavour,
        contentType: String,
        prelude: ByteBuffer?
    ) {
        guard let context else { return }
        guard
            let session = endpoint.sessionForReceiving(
                id: sessionID, transport: transport, request: head, remoteAddress: remoteAddress,
                eventLoop: context.eventLoop, logger: logger
            )
        else {
            respond(
                head, status: 503, headers: [("Content-Type", "text/plain; charset=UTF-8")],
                body: ByteBuffer(staticString: "The server is shutting down; reconnect to another server.\n"), closeAfter: true)
            return
        }
        var headers: [(String, String)] = [("Content-Type", contentType), Self.noCache]
        headers += corsHeaders(head)
        headers += cookieHeader(head, endpoint: endpoint)
        if case .htmlfile = flavour { headers.append(("Content-Security-Policy", endpoint.htmlfileCSP)) }
        let polling = kind == .polling
        let receiver = HTTPReceiver(flavour: flavour, polling: polling, handler: NIOLoopBound(self, eventLoop: context.eventLoop))
        run(machine.receivingStarted(Attachment(receiver: receiver, session: session, poll: polling ? (head, headers) : nil)))
        if !polling {
            startStream(head, headers: headers)
            if let prelude { streamWrite(prelude, flush: true) } else { context.flush() }
        }
        if session.eventLoop.inEventLoop {
            session.attach(receiver, kind: kind)
        } else {
            session.eventLoop.execute { session.attach(receiver, kind: kind) }
        }
    }

    /// `xhr_send` and `jsonp_send`: messages from the client to session `sessionID`.
    private func receiveMessages(_ head: HTTPRequestHead, body: ByteBuffer, endpoint: SockJSEndpoint, sessionID: String, form: Bool) {
        guard let session = endpoint.session(id: sessionID) else {
            notFound(head)
            return
        }
        var headers: [(String, String)] = [("Content-Type", "text/plain; charset=UTF-8"), Self.noCache]
        headers += corsHeaders(head)
        headers += cookieHeader(head, endpoint: endpoint)
        guard body.readableBytes <= endpoint.options.maxMessageBytes else {
            respond(head, status: 413, headers: headers, body: ByteBuffer(staticString: "Message too large."), closeAfter: true)
            return
        }
        var payload = body
        if form, head.header("Content-Type")?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true {
            let text = String(buffer: body)
            payload = ByteBuffer(string: HTTPForm.value(of: "d", in: Substring(text)) ?? "")
        }
        let messages: [String]
        do {
            messages = try SockJSJSON.decodeMessages(payload, allowSingleString: false)
        } catch .empty {
            respond(head, status: 500, headers: headers, body: ByteBuffer(staticString: "Payload expected."))
            return
        } catch {
            respond(head, status: 500, headers: headers, body: ByteBuffer(staticString: "Broken JSON encoding."))
            return
        }
        if !messages.isEmpty {
            if session.eventLoop.inEventLoop {
                session.deliver(messages)
            } else {
                session.eventLoop.execute { session.deliver(messages) }
            }
        }
        if form {
            respond(head, status: 200, headers: headers, body: ByteBuffer(staticString: "ok"))
        } else {
            respond(head, status: 204, headers: headers, body: nil)
        }
    }

    // MARK: Plain routes

    private func runRoute(_ route: @escaping SockJSHTTPHandler, head: HTTPRequestHead, body: ByteBuffer) {
        guard let context else { return }
        machine.routeStarted()
        let request = SockJSHTTPRequest(head: head, body: body, remoteAddress: remoteAddress)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        Task {
            let response = await route(request)
            loop.execute {
                let h = handler.value
                guard h.machine.awaitsRouteResponse else { return }
                h.respond(head, status: response.status, headers: response.headers, body: response.body)
            }
        }
    }
}

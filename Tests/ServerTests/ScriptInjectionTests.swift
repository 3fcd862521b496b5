import Foundation
import ServerTestSupport
import Testing

/// What a running `rabbitChat` writes into HTML and scripts: a chat frame holding markup comes
/// back through `htmlfile` and `jsonp` as escaped string data, never as live markup; every
/// response says `nosniff`; HTML responses carry their CSP.
@Suite("rabbitChat script transports and security headers", .serialized)
struct ScriptInjectionTests {
    static let markup = "</script><img src=x onerror=alert(document.domain)><script>alert(1)</script><!--"

    /// The `htmlfile` stream's script blocks after the prelude, each the JavaScript string
    /// literal it passes to `p(...)`; throws if anything else is in the stream.
    static func htmlfileLiterals(_ stream: String) throws -> [String] {
        guard let preludeEnd = stream.range(of: "</script>") else { throw TestSocketError("no prelude") }
        var rest = stream[preludeEnd.upperBound...].drop { $0.isWhitespace }  // "\r\n" is one Character
        var literals: [String] = []
        while !rest.isEmpty {
            guard rest.hasPrefix("<script>\np("), let end = rest.range(of: ");\n</script>\r\n") else {
                throw TestSocketError("not a frame block: \(rest.prefix(200))")
            }
            literals.append(String(rest[rest.index(rest.startIndex, offsetBy: 11)..<end.lowerBound]))
            rest = rest[end.upperBound...]
        }
        return literals
    }

    /// The chat messages in one JavaScript string literal holding a SockJS frame.
    static func chatFrames(literal: String) throws -> [[String: Any]] {
        let frame = try #require(try JSONSerialization.jsonObject(with: Data(literal.utf8), options: .fragmentsAllowed) as? String)
        guard frame.hasPrefix("a") else { return [] }
        let texts = try #require(try JSONSerialization.jsonObject(with: Data(frame.dropFirst().utf8)) as? [String])
        return try texts.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    static func send(port: Int, session: String, _ frame: [String: Any]) throws {
        let text = String(decoding: try JSONSerialization.data(withJSONObject: frame), as: UTF8.self)
        let body = String(decoding: try JSONSerialization.data(withJSONObject: [text]), as: UTF8.self)
        let answer = try TestHTTP.request(
            port: port, method: "POST", path: "/chat/000/\(session)/xhr_send", body: body,
            headers: ["Content-Type": "text/plain"])
        guard answer.status == 204 else { throw TestSocketError("xhr_send answered \(answer.status): \(answer.text)") }
    }

    @Test("a say whose id and text hold </script> and <img onerror> comes back through htmlfile as escaped data")
    func htmlfile() async throws {
        let server = try await LiveServer.start()
        defer { server.stopBlocking() }
        let session = "mallory" + UUID().uuidString.prefix(6).lowercased()
        let stream = try TestSocket(port: server.port, timeout: .seconds(1))
        try stream.write("GET /chat/000/\(session)/htmlfile?c=_jp.a1 HTTP/1.0\r\nHost: 127.0.0.1:\(server.port)\r\n\r\n")
        var received: [UInt8] = []
        func readUntil(_ needle: String) throws {
            let deadline = ContinuousClock.now + .seconds(20)
            while !String(decoding: received, as: UTF8.self).contains(needle) {
                guard ContinuousClock.now < deadline else { throw TestSocketError("no \(needle) in: \(String(decoding: received.suffix(500), as: UTF8.self))") }
                if let bytes = try? stream.read() { received += bytes }
            }
        }
        try readUntil("p(\"o\")")
        try Self.send(port: server.port, session: session, ["type": "join", "nick": "mallory"])
        try readUntil("welcome")
        try Self.send(port: server.port, session: session, ["type": "say", "id": Self.markup, "text": Self.markup])
        // Until both the `sent` (with the id) and the room's `message` (with the text) came.
        var literals: [String] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let text = String(decoding: received, as: UTF8.self)
            let body = String(text[text.range(of: "\r\n\r\n")!.upperBound...])
            if body.hasSuffix("</script>\r\n"), let all = try? Self.htmlfileLiterals(body) {
                literals = all
                let types = Set(try all.flatMap(Self.chatFrames).compactMap { $0["type"] as? String })
                if types.contains("sent") && types.contains("message") { break }
            }
            guard ContinuousClock.now < deadline else { throw TestSocketError("no sent and message in: \(body.suffix(800))") }
            if let bytes = try? stream.read() { received += bytes }
        }
        for literal in literals {
            for forbidden in ["<", ">", "&", "\u{2028}", "\u{2029}"] {
                #expect(!literal.contains(forbidden), "markup in a script block: \(literal.prefix(300))")
            }
        }
        let frames = try literals.flatMap(Self.chatFrames)
        #expect(frames.contains { $0["type"] as? String == "sent" && $0["id"] as? String == Self.markup }, "the id reads back intact")
        #expect(frames.contains { $0["type"] as? String == "message" && $0["text"] as? String == Self.markup }, "the text reads back intact")
    }

    @Test("the same through jsonp: one escaped string per poll")
    func jsonp() async throws {
        let server = try await LiveServer.start()
        defer { server.stopBlocking() }
        let session = "mallory" + UUID().uuidString.prefix(6).lowercased()
        func poll() throws -> String {
            let answer = try TestHTTP.request(port: server.port, path: "/chat/000/\(session)/jsonp?c=_jp.a2")
            #expect(answer.status == 200)
            #expect(answer.headers["content-type"] == "application/javascript; charset=UTF-8")
            #expect(answer.headers["x-content-type-options"] == "nosniff")
            let text = answer.text
            guard text.hasPrefix("/**/_jp.a2(\""), text.hasSuffix("\");\r\n") else { throw TestSocketError("not a jsonp answer: \(text.prefix(200))") }
            return String(text.dropFirst("/**/_jp.a2(".count).dropLast(");\r\n".count))
        }
        #expect(try poll() == "\"o\"")
        try Self.send(port: server.port, session: session, ["type": "join", "nick": "mallory-j"])
        var frames: [[String: Any]] = []
        var sentSay = false
        let deadline = ContinuousClock.now + .seconds(30)
        while !(frames.contains { $0["type"] as? String == "sent" } && frames.contains { $0["type"] as? String == "message" }) {
            guard ContinuousClock.now < deadline else { throw TestSocketError("no sent and message frames: \(frames)") }
            let literal = try poll()
            for forbidden in ["<", ">", "&", "\u{2028}", "\u{2029}"] {
                #expect(!literal.contains(forbidden), "markup in the script: \(literal.prefix(300))")
            }
            frames += try Self.chatFrames(literal: literal)
            if !sentSay, frames.contains(where: { $0["type"] as? String == "welcome" }) {
                try Self.send(port: server.port, session: session, ["type": "say", "id": Self.markup, "text": Self.markup + "\u{2028}&amp;"])
                sentSay = true
            }
        }
        #expect(frames.contains { $0["type"] as? String == "sent" && $0["id"] as? String == Self.markup })
        #expect(frames.contains { $0["type"] as? String == "message" && $0["text"] as? String == Self.markup + "\u{2028}&amp;" })
    }

    @Test("every kind of response says nosniff once; the page, iframe.html and htmlfile carry their CSP")
    func headersOnEveryResponse() async throws {
        let server = try await LiveServer.start(["--sockjs-test-services"])
        defer { server.stopBlocking() }
        let port = server.port
        let h = "Host: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        let page = try RawExchange.send(port: port, "GET / HTTP/1.1\r\n\(h)\r\n")
        let etag = try #require(page.headers["etag"])
        let requests: [(String, String, Int)] = [
            ("page", "GET / HTTP/1.1\r\n\(h)\r\n", 200),
            ("page 304", "GET / HTTP/1.1\r\n\(h)If-None-Match: \(etag)\r\n\r\n", 304),
            ("page HEAD", "HEAD /index.html HTTP/1.1\r\n\(h)\r\n", 200),
            ("page POST", "POST / HTTP/1.1\r\n\(h)Content-Length: 0\r\n\r\n", 405),
            ("app.js", "GET /app.js HTTP/1.1\r\n\(h)\r\n", 200),
            ("app.css", "GET /app.css HTTP/1.1\r\n\(h)\r\n", 200),
            ("favicon", "GET /favicon.svg HTTP/1.1\r\n\(h)\r\n", 200),
            ("sockjs.min.js", "GET /sockjs.min.js HTTP/1.1\r\n\(h)\r\n", 200),
            ("healthz", "GET /healthz HTTP/1.1\r\n\(h)\r\n", 200),
            ("metrics", "GET /metrics HTTP/1.1\r\n\(h)\r\n", 200),
            ("404", "GET /nothing HTTP/1.1\r\n\(h)\r\n", 404),
            ("greeting", "GET /chat HTTP/1.1\r\n\(h)\r\n", 200),
            ("info", "GET /chat/info HTTP/1.1\r\n\(h)\r\n", 200),
            ("iframe.html", "GET /chat/iframe.html HTTP/1.1\r\n\(h)\r\n", 200),
            ("405", "PUT /chat/info HTTP/1.1\r\n\(h)Content-Length: 0\r\n\r\n", 405),
            ("403 origin", "GET /chat/info HTTP/1.1\r\n\(h)Origin: http://evil.example\r\n\r\n", 403),
            ("403 host", "GET /chat/info HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n", 403),
            ("413", "POST /chat/000/big/xhr HTTP/1.1\r\n\(h)Content-Length: 99999999\r\n\r\n", 413),
            ("431", "GET / HTTP/1.1\r\n\(h)X-Big: \(String(repeating: "a", count: 20_000))\r\n\r\n", 431),
            ("400 websocket", "GET /chat/000/x/websocket HTTP/1.1\r\n\(h)\r\n", 400),
            ("500 callback", "GET /chat/000/x/jsonp HTTP/1.1\r\n\(h)\r\n", 500),
            ("xhr", "POST /chat/000/hx/xhr HTTP/1.1\r\n\(h)Content-Length: 0\r\n\r\n", 200),
            ("xhr_streaming", "POST /chat/000/hs/xhr_streaming HTTP/1.1\r\n\(h)Content-Length: 0\r\n\r\n", 200),
            ("eventsource", "GET /chat/000/he/eventsource HTTP/1.1\r\n\(h)\r\n", 200),
            ("htmlfile", "GET /chat/000/hf/htmlfile?c=cb HTTP/1.1\r\n\(h)\r\n", 200),
            ("jsonp", "GET /chat/000/hj/jsonp?c=cb HTTP/1.1\r\n\(h)\r\n", 200),
            ("OPTIONS", "OPTIONS /chat/000/hx/xhr HTTP/1.1\r\n\(h)\r\n", 204),
            ("echo test service", "GET /echo/info HTTP/1.1\r\n\(h)Origin: http://evil.example\r\n\r\n", 200),
        ]
        for (name, raw, status) in requests {
            let answer = try RawExchange.send(port: port, raw)
            #expect(answer.status == status, "\(name): \(answer.head)")
            #expect(answer.headers["x-content-type-options"] == "nosniff", "\(name): \(answer.head)")
            #expect(answer.count(of: "X-Content-Type-Options") == 1, "\(name): once")
        }

        let pageCSP = try #require(page.headers["content-security-policy"])
        #expect(
            pageCSP
                == "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'; object-src 'none'"
        )
        #expect(page.headers["referrer-policy"] == "same-origin", "same-origin: a form POST (jsonp_send) still carries its Origin")
        let iframe = try RawExchange.send(port: port, "GET /chat/iframe.html HTTP/1.1\r\n\(h)\r\n")
        #expect(iframe.headers["content-security-policy"]?.contains("frame-ancestors 'self';") == true)
        #expect(iframe.headers["content-security-policy"]?.contains("connect-src 'self';") == true)
        #expect(iframe.headers["content-security-policy"]?.contains("script-src 'self' 'sha256-") == true)
        let htmlfile = try RawExchange.send(port: port, "GET /chat/000/hf2/htmlfile?c=cb HTTP/1.1\r\n\(h)\r\n")
        #expect(
            htmlfile.headers["content-security-policy"]
                == "default-src 'none'; script-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
        let echo = try RawExchange.send(port: port, "GET /echo/info HTTP/1.1\r\n\(h)Origin: http://evil.example\r\n\r\n")
        #expect(echo.headers["access-control-allow-origin"] == "http://evil.example", "the protocol suite's services keep reflecting")
    }
}

import NIOCore
import NIOEmbedded
import Testing

@testable import SockJS

/// The connection handler with an Origin and a Host policy, on embedded connections: every
/// transport refuses a foreign origin before doing anything, and every response says `nosniff`.
@Suite("Origin and Host policy in the connection handler")
struct OriginEnforcementTests {
    static let allowed = WebOrigin("https://intranet.example")!

    static func server(policy: Bool = true) -> EmbeddedServer {
        var options = SockJSOptions()
        options.sockjsURL = "/sockjs.min.js"
        if policy { options.originPolicy = OriginPolicy(allowedOrigins: [allowed], allowOption: "--allow-origin") }
        var configuration = SockJSServerConfiguration()
        configuration.hostPolicy = HostPolicy(names: ["box"], allowOption: "--allow-host")
        return EmbeddedServer(options: options, configuration: configuration)
    }

    /// One request per transport (and the endpoint's other URLs), as a browser would send it.
    static func requests(origin: String?, host: String = "127.0.0.1:9191") -> [(name: String, raw: String)] {
        let o = origin.map { "Origin: \($0)\r\n" } ?? ""
        let h = "Host: \(host)\r\n"
        let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        return [
            ("greeting", "GET /echo HTTP/1.1\r\n\(h)\(o)\r\n"),
            ("info", "GET /echo/info HTTP/1.1\r\n\(h)\(o)\r\n"),
            ("info preflight", "OPTIONS /echo/info HTTP/1.1\r\n\(h)\(o)Access-Control-Request-Method: GET\r\n\r\n"),
            ("iframe", "GET /echo/iframe.html HTTP/1.1\r\n\(h)\(o)\r\n"),
            ("websocket", "GET /echo/000/w/websocket HTTP/1.1\r\n\(h)\(o)\(upgrade)\r\n"),
            ("raw websocket", "GET /echo/websocket HTTP/1.1\r\n\(h)\(o)\(upgrade)\r\n"),
            ("xhr", "POST /echo/000/x/xhr HTTP/1.1\r\n\(h)\(o)Content-Length: 0\r\n\r\n"),
            ("xhr preflight", "OPTIONS /echo/000/x/xhr HTTP/1.1\r\n\(h)\(o)Access-Control-Request-Method: POST\r\n\r\n"),
            ("xhr_send", "POST /echo/000/x/xhr_send HTTP/1.1\r\n\(h)\(o)Content-Length: 5\r\n\r\n[\"a\"]"),
            ("xhr_streaming", "POST /echo/000/s/xhr_streaming HTTP/1.1\r\n\(h)\(o)Content-Length: 0\r\n\r\n"),
            ("eventsource", "GET /echo/000/e/eventsource HTTP/1.1\r\n\(h)\(o)\r\n"),
            ("htmlfile", "GET /echo/000/f/htmlfile?c=cb HTTP/1.1\r\n\(h)\(o)\r\n"),
            ("jsonp", "GET /echo/000/j/jsonp?c=cb HTTP/1.1\r\n\(h)\(o)\r\n"),
            (
                "jsonp_send",
                "POST /echo/000/j/jsonp_send HTTP/1.1\r\n\(h)\(o)Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 15\r\n\r\nd=%5B%22a%22%5D"
            ),
        ]
    }

    static let corsAnswered: Set = [
        "info", "info preflight", "xhr", "xhr preflight", "xhr_send", "xhr_streaming", "eventsource", "htmlfile", "jsonp", "jsonp_send",
    ]

    private static func status(_ response: String) -> Int? {
        let line = response.prefix { $0 != "\r" }.split(separator: " ")
        return line.count >= 2 ? Int(line[1]) : nil
    }

    @Test(
        "a foreign, null or doubled Origin gets 403 and a reason on every transport, with no CORS answer",
        arguments: ["http://evil.example", "null", "http://127.0.0.1:9192", "https://127.0.0.1:9191", "http://intranet.example"])
    func foreignOriginRefusedEverywhere(origin: String) throws {
        let server = Self.server()
        for (name, raw) in Self.requests(origin: origin) {
            let c = try server.connect()
            try c.send(raw)
            let response = try c.text()
            #expect(Self.status(response) == 403, "\(name): \(response.prefix(200))")
            #expect(response.contains("X-Content-Type-Options: nosniff\r\n"), "\(name)")
            #expect(!response.contains("Access-Control-Allow-Origin"), "\(name)")
            #expect(response.hasSuffix(".\n"), "\(name): one line of reason")
        }
        #expect(server.service.events.isEmpty, "no session was opened")
    }

    @Test(
        "no Origin, the server's own and an allowed one are served on every transport",
        arguments: [nil, "http://127.0.0.1:9191", "https://intranet.example"] as [String?])
    func ownAndAllowedServed(origin: String?) throws {
        let server = Self.server()
        // xhr_send and jsonp_send need their sessions: the xhr and jsonp polls open them first.
        for (name, raw) in Self.requests(origin: origin) {
            let c = try server.connect()
            try c.send(raw)
            let response = try c.text()
            let code = Self.status(response)
            #expect(code == 200 || code == 204 || code == 101, "\(name): \(response.prefix(300))")
            if let origin, Self.corsAnswered.contains(name) {
                #expect(
                    response.contains("\r\nAccess-Control-Allow-Origin: \(origin)\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n"), "\(name)")
            }
        }
    }

    @Test("two Origin headers are refused")
    func doubledOrigin() throws {
        let server = Self.server()
        let c = try server.connect()
        try c.send("GET /echo/info HTTP/1.1\r\nHost: 127.0.0.1:9191\r\nOrigin: http://127.0.0.1:9191\r\nOrigin: http://evil.example\r\n\r\n")
        let response = try c.text()
        #expect(response.hasPrefix("HTTP/1.1 403 Forbidden\r\n"))
        #expect(response.hasSuffix("\r\n\r\nA request with more than one Origin header is refused.\n"))
    }

    @Test("a Host that is not this server's gets 403 before anything else, own origin or not")
    func foreignHostRefused() throws {
        let server = Self.server()
        for host in ["evil.example:9191", "localhost.:9191", "box.evil.example"] {
            // DNS rebinding: the page's own origin is the foreign name, so Origin matches Host.
            for (name, raw) in Self.requests(origin: "http://\(host)", host: host) + Self.requests(origin: nil, host: host) {
                let c = try server.connect()
                try c.send(raw)
                let response = try c.text()
                #expect(Self.status(response) == 403, "\(host) \(name)")
                #expect(response.contains("is not a name of this server"), "\(host) \(name)")
            }
        }
        for host in ["localhost:9191", "box", "[::1]:9191", "192.168.1.20:9191"] {
            let c = try server.connect()
            try c.send("GET /echo/info HTTP/1.1\r\nHost: \(host)\r\n\r\n")
            #expect(Self.status(try c.text()) == 200, "\(host)")
        }
        let c = try server.connect()
        try c.send("GET /nothing HTTP/1.1\r\nHost: evil.example\r\n\r\n")
        #expect(Self.status(try c.text()) == 403, "paths outside the endpoints too")
    }

    @Test("under a policy, htmlfile is served into a frame, not as a window another site opens")
    func htmlfileOnlyFramed() throws {
        let server = Self.server()
        for (destination, status) in [("document", 403), ("script", 403), ("iframe", 200), ("frame", 200), (nil, 200)] as [(String?, Int)] {
            let c = try server.connect()
            let dest = destination.map { "Sec-Fetch-Dest: \($0)\r\n" } ?? ""
            try c.send("GET /echo/000/d\(destination ?? "none")/htmlfile?c=opener.x HTTP/1.1\r\nHost: 127.0.0.1\r\n\(dest)\r\n")
            let response = try c.text()
            #expect(Self.status(response) == status, "\(destination ?? "none")")
        }
        let open = Self.server(policy: false)
        let c = try open.connect()
        try c.send("GET /echo/000/d/htmlfile?c=x HTTP/1.1\r\nHost: 127.0.0.1\r\nSec-Fetch-Dest: document\r\n\r\n")
        #expect(Self.status(try c.text()) == 200, "the protocol suite's services keep serving it")
    }

    @Test("without a policy (the protocol suite's test services) any origin is reflected with credentials")
    func openEndpointReflects() throws {
        let server = Self.server(policy: false)
        for origin in ["http://evil.example", "null"] {
            let c = try server.connect()
            try c.send("GET /echo/info HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: \(origin)\r\n\r\n")
            let response = try c.text()
            #expect(response.contains("\r\nAccess-Control-Allow-Origin: \(origin)\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n"))
        }
    }

    @Test("every kind of response says nosniff: fixed, streamed, errors")
    func nosniffEverywhere() throws {
        let server = Self.server()
        var raws = Self.requests(origin: nil).map(\.raw)
        raws += [
            "GET /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",  // 404
            "PUT /echo/info HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",  // 405
            "GET /echo/000/j/jsonp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",  // 500 callback
            "GET /echo/000/w/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",  // 400
            "POST /echo/000/none/xhr_send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\n[\"a\"]",  // 404 session
            "POST /echo/000/x/xhr HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 999999999\r\n\r\n",  // 413
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX: \(String(repeating: "a", count: 20_000))\r\n\r\n",  // 431
            "BROKEN\r\n\r\n",  // 400
        ]
        for raw in raws {
            let c = try server.connect()
            try c.send(raw)
            let response = try c.text()
            let code = Self.status(response)
            guard code != 101 else { continue }
            #expect(response.contains("\r\nX-Content-Type-Options: nosniff\r\n"), "\(raw.prefix(60)) -> \(response.prefix(200))")
            #expect(response.components(separatedBy: "X-Content-Type-Options").count == 2, "once")
        }
    }

    @Test("iframe.html and htmlfile carry a CSP: framed only by this server and the allowed origins, talking only to it")
    func contentSecurityPolicies() throws {
        let server = Self.server()
        var c = try server.connect()
        try c.send("GET /echo/iframe.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let iframe = try c.text()
        let iframeBody = String(iframe[iframe.range(of: "\r\n\r\n")!.upperBound...])
        let hash = SockJSEndpoint.inlineScriptHash(iframeBody)
        #expect(hash.hasPrefix("sha256-") && hash.count == 7 + 44)
        #expect(
            iframe.contains(
                "\r\nContent-Security-Policy: default-src 'none'; script-src 'self' '\(hash)'; connect-src 'self'; frame-src 'self'; frame-ancestors 'self' https://intranet.example; base-uri 'none'; form-action 'self'\r\n"
            ))

        c = try server.connect()
        try c.send("GET /echo/000/f/htmlfile?c=cb HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(
            try c.text().contains(
                "\r\nContent-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'self' https://intranet.example; base-uri 'none'; form-action 'none'\r\n"
            ))

        let open = Self.server(policy: false)
        c = try open.connect()
        try c.send("GET /echo/iframe.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(try c.text().contains("frame-ancestors *;"), "the protocol suite's services may be framed by anyone, as SockJS intends")
    }

    @Test("the iframe's script source follows sockjsURL")
    func iframeScriptSource() {
        #expect(SockJSEndpoint.scriptSource(sockjsURL: "/sockjs.min.js") == "'self'")
        #expect(SockJSEndpoint.scriptSource(sockjsURL: "https://cdn.jsdelivr.net/npm/sockjs-client@1/dist/sockjs.min.js") == "https://cdn.jsdelivr.net")
        #expect(SockJSEndpoint.scriptSource(sockjsURL: "//cdn.example:8443/s.js") == "cdn.example:8443")
        #expect(
            SockJSEndpoint.scriptSource(sockjsURL: "https://a.example/x'; script-src *") == "https://a.example", "nothing after the host reaches the policy")
    }

    @Test("htmlfile and jsonp refuse a callback that is not [a-zA-Z0-9_.-]+")
    func callbackValidation() throws {
        let server = Self.server()
        for callback in ["%3Cscript%3E", "a%3Cb", "%22", "a(", "x%0Ay", "a%20b", "%E2%80%A8", "alert(1)//", "a;b"] {
            for transport in ["htmlfile", "jsonp"] {
                let c = try server.connect()
                try c.send("GET /echo/000/cb/\(transport)?c=\(callback) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                let response = try c.text()
                #expect(response.hasPrefix("HTTP/1.1 500 "), "\(transport) \(callback)")
                #expect(response.hasSuffix("invalid \"callback\" parameter"))
            }
        }
    }
}

import Foundation
import ServerTestSupport
import Testing

/// The Origin and Host policy of a running `rabbitChat`, table-driven: every transport of `/chat`
/// (and `/info`, `iframe.html`, the raw websocket) under every kind of `Origin` and `Host`.
@Suite("rabbitChat Origin and Host policy", .serialized)
struct OriginHostPolicyTests {
    static let arguments = [
        "--allow-origin", "https://intranet.example", "--allow-origin", "http://10.9.8.7:8080",
        "--allow-host", "chat.example",
    ]

    /// The requests a browser makes on each transport, in an order where `xhr_send` and
    /// `jsonp_send` find the sessions that `xhr` and `jsonp` opened.
    static func requests(origin: String?, host: String) -> [(name: String, raw: String)] {
        let session = UUID().uuidString.prefix(8).lowercased()
        let o = origin.map { "Origin: \($0)\r\n" } ?? ""
        let h = "Host: \(host)\r\n"
        let close = "Connection: close\r\n"
        let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        let join = "[\"{\\\"type\\\":\\\"ping\\\"}\"]"
        let form = "d=" + (join.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        return [
            ("info", "GET /chat/info HTTP/1.1\r\n\(h)\(o)\(close)\r\n"),
            ("info preflight", "OPTIONS /chat/info HTTP/1.1\r\n\(h)\(o)Access-Control-Request-Method: GET\r\n\(close)\r\n"),
            ("iframe.html", "GET /chat/iframe.html HTTP/1.1\r\n\(h)\(o)\(close)\r\n"),
            ("websocket", "GET /chat/000/\(session)w/websocket HTTP/1.1\r\n\(h)\(o)\(upgrade)\r\n"),
            ("raw websocket", "GET /chat/websocket HTTP/1.1\r\n\(h)\(o)\(upgrade)\r\n"),
            ("xhr", "POST /chat/000/\(session)x/xhr HTTP/1.1\r\n\(h)\(o)Content-Length: 0\r\n\(close)\r\n"),
            ("xhr preflight", "OPTIONS /chat/000/\(session)x/xhr_send HTTP/1.1\r\n\(h)\(o)Access-Control-Request-Method: POST\r\n\(close)\r\n"),
            (
                "xhr_send",
                "POST /chat/000/\(session)x/xhr_send HTTP/1.1\r\n\(h)\(o)Content-Type: text/plain\r\nContent-Length: \(join.utf8.count)\r\n\(close)\r\n\(join)"
            ),
            ("xhr_streaming", "POST /chat/000/\(session)s/xhr_streaming HTTP/1.1\r\n\(h)\(o)Content-Length: 0\r\n\r\n"),
            ("eventsource", "GET /chat/000/\(session)e/eventsource HTTP/1.1\r\n\(h)\(o)\r\n"),
            ("htmlfile", "GET /chat/000/\(session)f/htmlfile?c=_jp.a1 HTTP/1.1\r\n\(h)\(o)\r\n"),
            ("jsonp", "GET /chat/000/\(session)j/jsonp?c=_jp.a2 HTTP/1.1\r\n\(h)\(o)\(close)\r\n"),
            (
                "jsonp_send",
                "POST /chat/000/\(session)j/jsonp_send HTTP/1.1\r\n\(h)\(o)Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(form.utf8.count)\r\n\(close)\r\n\(form)"
            ),
        ]
    }

    static let corsAnswered: Set = [
        "info", "info preflight", "xhr", "xhr preflight", "xhr_send", "xhr_streaming", "eventsource", "htmlfile", "jsonp", "jsonp_send",
    ]

    enum Expected: CustomStringConvertible {
        case served, refused
        var description: String { self == .served ? "served" : "refused" }
    }

    /// (what it stands for, Origin, Host, expected), `P` standing for the port.
    static let table: [(case: String, origin: String?, host: String, expected: Expected)] = [
        ("no Origin (LoadTester, sockjs-client under Node)", nil, "127.0.0.1:P", .served),
        ("the page's own origin", "http://127.0.0.1:P", "127.0.0.1:P", .served),
        ("own origin by the name localhost", "http://localhost:P", "localhost:P", .served),
        ("own origin by IPv6 loopback", "http://[::1]:P", "[::1]:P", .served),
        ("own origin under an --allow-host name", "http://chat.example:P", "chat.example:P", .served),
        ("an --allow-origin origin", "https://intranet.example", "127.0.0.1:P", .served),
        ("another --allow-origin origin with a port", "http://10.9.8.7:8080", "127.0.0.1:P", .served),
        ("no Origin under the machine's name", nil, "\(ProcessInfo.processInfo.hostName.lowercased()):P", .served),
        ("a foreign page", "http://evil.example", "127.0.0.1:P", .refused),
        ("Origin null (sandboxed frame, file:)", "null", "127.0.0.1:P", .refused),
        ("a page on another port of this host", "http://127.0.0.1:1", "127.0.0.1:P", .refused),
        ("an https page when the server is http", "https://127.0.0.1:P", "127.0.0.1:P", .refused),
        ("own host under another name (127.0.0.1 page to localhost)", "http://127.0.0.1:P", "localhost:P", .refused),
        ("an allowed host but an http page where https is allowed", "http://intranet.example", "127.0.0.1:P", .refused),
        ("DNS rebinding: a foreign name that resolves here, same-origin to itself", "http://evil.example:P", "evil.example:P", .refused),
        ("a foreign Host without Origin", nil, "evil.example:P", .refused),
        ("a Host that ends like an allowed one", nil, "chat.example.evil.example", .refused),
    ]

    @Test("every transport under every Origin and Host: served, or 403 with one line and no CORS")
    func table() async throws {
        let server = try await LiveServer.start(Self.arguments)
        defer { server.stopBlocking() }
        let port = server.port
        var failures: [String] = []
        for row in Self.table {
            let origin = row.origin?.replacingOccurrences(of: ":P", with: ":\(port)")
            let host = row.host.replacingOccurrences(of: ":P", with: ":\(port)")
            for (name, raw) in Self.requests(origin: origin, host: host) {
                let answer = try RawExchange.send(port: port, raw)
                let place = "\(row.case) / \(name): \(answer.status) \(answer.text.prefix(200))"
                #expect(answer.headers["x-content-type-options"] == "nosniff", "\(place)")
                switch row.expected {
                case .served:
                    if ![200, 204, 101].contains(answer.status) { failures.append(place) }
                    if let origin, Self.corsAnswered.contains(name) {
                        #expect(answer.headers["access-control-allow-origin"] == origin, "\(place)")
                        #expect(answer.headers["access-control-allow-credentials"] == "true", "\(place)")
                    }
                    if origin == nil, Self.corsAnswered.contains(name) {
                        #expect(answer.headers["access-control-allow-origin"] == "*", "\(place)")
                        #expect(answer.headers["access-control-allow-credentials"] == nil, "\(place)")
                    }
                case .refused:
                    if answer.status != 403 { failures.append(place) }
                    #expect(answer.headers["access-control-allow-origin"] == nil, "\(place)")
                    #expect(answer.text.hasSuffix(".\n") && answer.text.filter { $0 == "\n" }.count == 1, "\(place)")
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    @Test("a foreign Host is refused on the page, its files and /metrics too (no DNS-rebinding reads)")
    func routesCheckHost() async throws {
        let server = try await LiveServer.start(Self.arguments)
        defer { server.stopBlocking() }
        for path in ["/", "/app.js", "/sockjs.min.js", "/healthz", "/metrics", "/nothing"] {
            let bad = try RawExchange.send(port: server.port, "GET \(path) HTTP/1.1\r\nHost: evil.example:\(server.port)\r\nConnection: close\r\n\r\n")
            #expect(bad.status == 403, "\(path)")
            #expect(
                bad.text
                    == "Host evil.example is not a name of this server; open it by its IP address, as localhost or by its machine name, or start the server with --allow-host evil.example.\n"
            )
            let good = try RawExchange.send(port: server.port, "GET \(path) HTTP/1.1\r\nHost: chat.example:\(server.port)\r\nConnection: close\r\n\r\n")
            #expect(good.status == (path == "/nothing" ? 404 : 200), "\(path)")
        }
        let foreign = try RawExchange.send(
            port: server.port, "GET /chat/info HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\nOrigin: http://evil.example\r\nConnection: close\r\n\r\n")
        #expect(
            foreign.text
                == "Origin http://evil.example may not use this service: it is not this server's own origin (http://127.0.0.1:\(server.port)) nor an allowed one; start the server with --allow-origin http://evil.example to allow it.\n"
        )
    }

    @Test(
        "--allow-origin and --allow-host refuse what they cannot mean, in one sentence",
        arguments: [
            ["--allow-origin", "null"], ["--allow-origin", "intranet.example"], ["--allow-origin", "https://a.example/path"],
            ["--allow-host", "chat.example:8080"], ["--allow-host", "a/b"], ["--tls-cert", "/nonexistent"],
        ])
    func badOptions(arguments: [String]) async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let server = try ServerProcess(["--port", "0", "--secret-file", folder.path + "/secret"] + arguments)
        let status = await server.waitForExit(timeout: .seconds(20))
        #expect(status == 64, "a command-line mistake; stderr: \(server.standardError)")
        let error = server.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(error.hasPrefix("rabbitChat: --") && !error.contains("\n"), "\(error)")
        await server.stop()
    }
}

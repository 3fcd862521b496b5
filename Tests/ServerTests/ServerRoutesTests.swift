import Foundation
import ServerTestSupport
import Testing

/// The HTTP routes next to `/chat`, on a running `rabbitChat` with its built-in broker.
@Suite("rabbitChat routes", .serialized)
struct ServerRoutesTests {
    @Test("/, the page's files, /sockjs.min.js, /healthz, /metrics and /chat/info answer as documented")
    func routes() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (server, port) = try await ServerLifecycleTests.startServer(folder: folder)

        let page = try TestHTTP.request(port: port, path: "/")
        #expect(page.status == 200)
        #expect(page.headers["content-type"]?.hasPrefix("text/html") == true)
        #expect(page.text.contains(#"<script src="/sockjs.min.js"></script>"#))
        #expect(!page.text.contains("//cdn"), "nothing from the internet")
        for file in ["/app.js", "/app.css", "/favicon.svg"] {
            #expect(try TestHTTP.request(port: port, path: file).status == 200, "\(file)")
        }
        let etag = try #require(page.headers["etag"])
        #expect(try TestHTTP.request(port: port, path: "/", headers: ["If-None-Match": etag]).status == 304)
        #expect(try TestHTTP.request(port: port, path: "/nope.txt").status == 404)

        let client = try TestHTTP.request(port: port, path: "/sockjs.min.js")
        #expect(client.status == 200)
        let debian = try Data(contentsOf: URL(fileURLWithPath: "/usr/share/nodejs/sockjs-client/dist/sockjs.min.js"))
        #expect(client.body == Array(debian), "the Debian package's file, byte for byte")

        #expect(await TestHTTP.waitForStatus(200, port: port, path: "/healthz"), "healthy once the node is connected")

        let info = try TestHTTP.request(port: port, path: "/chat/info")
        #expect(info.status == 200)
        #expect(info.text.contains(#""websocket":true"#))

        // Some traffic, so the chat's instruments have values.
        let alice = try TestChatClient(port: port)
        try alice.send(["type": "join", "nick": "metrics-alice"])
        _ = try alice.waitFor { $0["type"] as? String == "welcome" }
        try alice.send(["type": "say", "id": "m1", "text": "hello"])
        _ = try alice.waitFor { $0["type"] as? String == "sent" }

        // The node hands a room's messages to its sessions in batches (every 5 ms): the message
        // may go out just after `sent`.
        var metrics = try TestHTTP.request(port: port, path: "/metrics")
        for _ in 0..<40 where !metrics.text.contains(#"rabbitchat_messages_out_total{kind="message"} 1"#) {
            try await Task.sleep(for: .milliseconds(50))
            metrics = try TestHTTP.request(port: port, path: "/metrics")
        }
        #expect(metrics.status == 200)
        #expect(metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
        let text = metrics.text
        #expect(text.contains(#"rabbitchat_sessions{transport="xhr-streaming"} 1"#), "\(text)")
        #expect(text.contains(#"rabbitchat_messages_out_total{kind="welcome"} 1"#))
        #expect(text.contains(#"rabbitchat_messages_out_total{kind="sent"} 1"#))
        #expect(text.contains(#"rabbitchat_messages_out_total{kind="message"} 1"#))
        #expect(text.contains(#"rabbitchat_messages_in_total{kind="say"} 1"#))
        #expect(text.contains("rabbitchat_deliveries_total"))
        #expect(text.contains("rabbitchat_confirm_seconds"))
        #expect(text.contains("rabbitchat_broker_reconnects_total"))
        await server.stop()
    }

    @Test("the page loads /app.js as an ES module; it and every module it imports answer as JavaScript, from 'self'")
    func pageModules() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (server, port) = try await ServerLifecycleTests.startServer(folder: folder)
        do {
            let page = try TestHTTP.request(port: port, path: "/")
            #expect(page.text.contains(#"<script type="module" src="/app.js"></script>"#))
            // Module scripts load only from 'self' and only with a JavaScript type (nosniff is on).
            #expect(page.headers["content-security-policy"]?.hasPrefix("default-src 'self';") == true)
            var toLoad = ["/app.js"]
            var loaded: Set<String> = []
            while let path = toLoad.popLast() {
                guard loaded.insert(path).inserted else { continue }
                let module = try TestHTTP.request(port: port, path: path)
                #expect(module.status == 200, "\(path)")
                #expect(module.headers["content-type"] == "application/javascript; charset=utf-8", "\(path)")
                for match in module.text.matches(of: /from "\.(\/[A-Za-z0-9_-]+\.js)"/) {
                    toLoad.append(String(match.output.1))
                }
            }
            #expect(loaded == ["/app.js", "/protocol.js", "/connection.js", "/view.js", "/format.js", "/attention.js"])
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test("--sockjs-test-services mounts /echo, /close, /disabled_websocket_echo and /cookie_needed_echo")
    func testServices() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (server, port) = try await ServerLifecycleTests.startServer(["--sockjs-test-services"], folder: folder)
        for prefix in ["/echo", "/close", "/disabled_websocket_echo", "/cookie_needed_echo"] {
            let info = try TestHTTP.request(port: port, path: prefix + "/info")
            #expect(info.status == 200, "\(prefix)/info")
        }
        #expect(try TestHTTP.request(port: port, path: "/disabled_websocket_echo/info").text.contains(#""websocket":false"#))
        #expect(try TestHTTP.request(port: port, path: "/cookie_needed_echo/info").text.contains(#""cookie_needed":true"#))
        await server.stop()

        let plain = try await ServerLifecycleTests.startServer(folder: folder)
        #expect(try TestHTTP.request(port: plain.1, path: "/echo/info").status == 404)
        await plain.0.stop()
    }
}

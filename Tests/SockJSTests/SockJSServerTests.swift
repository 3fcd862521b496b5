import Logging
import NIOCore
import NIOPosix
import ServerTestSupport
import Testing

@testable import SockJS

@Suite("Server over real sockets on 127.0.0.1")
struct SockJSServerTests {
    func makeServer(_ service: RecordingService, options: SockJSOptions = SockJSOptions()) -> SockJSServer {
        let server = SockJSServer(
            configuration: .init {
                $0.logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
                $0.shutdownGracePeriod = .seconds(2)
            })
        server.mount("/echo", options: options, service: service)
        server.route("/healthz") { request in
            SockJSHTTPResponse(status: 200, text: "ok \(request.head.method)\n")
        }
        return server
    }

    @Test("plain routes answer next to a mounted service; unknown paths get 404")
    func plainRoutes() async throws {
        let server = makeServer(RecordingService())
        let port = try await server.start()
        let client = try await RawClient.connect(port: port)
        try await client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        try await eventually("the 404 answer", timeout: .seconds(5)) { client.received.text.contains("HTTP/1.1 404") }
        let text = client.received.text
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(text.contains("ok GET\n"))
        await client.close()
        await server.shutdown()
    }

    @Test("shutdown closes every session with c[3000,\"Go away!\"] and then the connections")
    func shutdownSaysGoAway() async throws {
        let service = RecordingService()
        let server = makeServer(service)
        let port = try await server.start()
        let stream = try await RawClient.connect(port: port)
        try await stream.send("POST /echo/000/x/xhr_streaming HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        let ws = try await RawClient.webSocket(port: port)
        try await eventually("both sessions to open", timeout: .seconds(5)) {
            stream.received.text.contains("o\n") && ws.received.bytes.suffix(3) == [0x81, 0x01, UInt8(ascii: "o")]
        }
        #expect(server.sessionCount == 2)

        await server.shutdown()

        try await eventually("both connections to close", timeout: .seconds(5)) { stream.received.closed && ws.received.closed }
        #expect(stream.received.text.contains("c[3000,\"Go away!\"]\n"))
        #expect(ws.received.text.contains("c[3000,\"Go away!\"]"))
        #expect(
            service.events.filter {
                if case .closed(_, .serverShutdown) = $0 { return true }
                return false
            }.count == 2)
        #expect(server.sessionCount == 0)
        await stream.close()
        await ws.close()
    }

    @Test("broadcast writes the same frame to every session once")
    func broadcast() async throws {
        let service = RecordingService(echo: false)
        let server = makeServer(service)
        let port = try await server.start()
        var clients: [RawClient] = []
        for i in 0..<6 {
            clients.append(try await RawClient.webSocket(port: port, path: "/echo/000/b\(i)/websocket"))
        }
        let openFrame: [UInt8] = [0x81, 0x01, UInt8(ascii: "o")]
        try await eventually("six open sessions", timeout: .seconds(5)) {
            service.sessions.count == 6 && clients.allSatisfy { $0.received.bytes.suffix(3) == openFrame }
        }
        let opened = clients.map { $0.received.bytes.count }
        SockJSServer.broadcast(SockJSPreparedMessage("to all"), to: service.sessions)
        let payload = Array("a[\"to all\"]".utf8)
        let frame: [UInt8] = [0x81, UInt8(payload.count)] + payload
        for (client, before) in zip(clients, opened) {
            try await eventually("the broadcast frame at every client", timeout: .seconds(5)) { Array(client.received.bytes.dropFirst(before)) == frame }
        }
        for c in clients { await c.close() }
        await server.shutdown()
    }

    @Test("a client that never reads is closed with 4002 while a reading one keeps getting messages")
    func slowReaderOverSockets() async throws {
        var options = SockJSOptions()
        options.maxQueuedBytes = 64 * 1024
        let service = RecordingService(echo: false)
        let server = makeServer(service, options: options)
        let port = try await server.start()
        let slow = try await RawClient.webSocket(port: port, path: "/echo/000/slow/websocket", autoRead: false)
        let fast = try await RawClient.webSocket(port: port, path: "/echo/000/fast/websocket")
        try await eventually("two sessions", timeout: .seconds(5)) { service.sessions.count == 2 }
        let slowSession = try #require(service.sessions.first { $0.id == "slow" })
        let fastSession = try #require(service.sessions.first { $0.id == "fast" })
        let chunk = SockJSPreparedMessage(String(repeating: "z", count: 16 * 1024))
        // Socket buffers on loopback hold a few MiB; 64 MiB overflows any of them.
        for _ in 0..<4096 {
            slowSession.send(chunk)
            if service.events.contains(.closed("slow", .tooSlow)) { break }
            try await Task.sleep(for: .microseconds(50))
        }
        try await eventually("the slow reader to be closed as too slow", timeout: .seconds(5)) { service.events.contains(.closed("slow", .tooSlow)) }
        fastSession.send("after")
        try await eventually("the fast reader to get the message after", timeout: .seconds(5)) { fast.received.text.hasSuffix("a[\"after\"]") }
        await slow.close()
        await fast.close()
        await server.shutdown()
    }
}

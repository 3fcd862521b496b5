import NIOCore
import NIOEmbedded
import Testing

@testable import SockJS

@Suite("Connection handler on a virtual clock")
struct SockJSConnectionHandlerTests {
    static let streamingRequest = "POST /echo/000/s1/xhr_streaming HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"

    @Test("info without an Origin header allows any origin with '*' and no credentials")
    func corsStarWithoutOrigin() throws {
        let server = EmbeddedServer()
        let c = try server.connect()
        try c.send("GET /echo/info HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = try c.text()
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(response.contains("\r\nAccess-Control-Allow-Origin: *\r\n"))
        #expect(!response.contains("Access-Control-Allow-Credentials"))
        #expect(response.contains("\"origins\":[\"*:*\"]"))
    }

    @Test("info with an Origin echoes it and allows credentials")
    func corsEchoOrigin() throws {
        let server = EmbeddedServer()
        let c = try server.connect()
        try c.send("GET /echo/info HTTP/1.1\r\nOrigin: http://example.test\r\n\r\n")
        let response = try c.text()
        #expect(response.contains("\r\nAccess-Control-Allow-Origin: http://example.test\r\n"))
        #expect(response.contains("\r\nAccess-Control-Allow-Credentials: true\r\n"))
    }

    @Test("an idle streaming receiver gets 'h' exactly when the heartbeat interval has passed")
    func heartbeatOnStream() throws {
        var options = SockJSOptions()
        options.heartbeatInterval = .seconds(25)
        let server = EmbeddedServer(options: options)
        let c = try server.connect()
        try c.send(Self.streamingRequest)
        let start = try c.text()
        #expect(start.contains("Transfer-Encoding: chunked"))
        #expect(start.hasSuffix("2\r\no\n\r\n"))
        server.loop.advanceTime(by: .seconds(24))
        #expect(try c.text().isEmpty)
        server.loop.advanceTime(by: .seconds(1))
        #expect(try c.text() == "2\r\nh\n\r\n")
        server.loop.advanceTime(by: .seconds(25))
        #expect(try c.text() == "2\r\nh\n\r\n")
        #expect(server.service.events == [.opened("s1")])
    }

    @Test("a waiting poll is answered with 'h' after the heartbeat interval")
    func heartbeatOnPoll() throws {
        let server = EmbeddedServer()
        let c = try server.connect()
        try c.send("POST /echo/000/p/xhr HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        #expect(try c.text().hasSuffix("\r\n\r\no\n"))
        try c.send("POST /echo/000/p/xhr HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        #expect(try c.text().isEmpty)
        server.loop.advanceTime(by: .seconds(25))
        #expect(try c.text().hasSuffix("Content-Length: 2\r\n\r\nh\n"))
    }

    @Test("a session without a receiving connection times out, the service is told, and the session is forgotten")
    func sessionTimeout() throws {
        var options = SockJSOptions()
        options.disconnectDelay = .seconds(5)
        let server = EmbeddedServer(options: options)
        let c = try server.connect()
        try c.send("POST /echo/000/t/xhr HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        #expect(try c.text().hasSuffix("o\n"))
        #expect(server.endpoint.session(id: "t") != nil)
        server.loop.advanceTime(by: .milliseconds(4999))
        #expect(server.endpoint.session(id: "t") != nil)
        server.loop.advanceTime(by: .milliseconds(1))
        #expect(server.endpoint.session(id: "t") == nil)
        #expect(server.service.events == [.opened("t"), .closed("t", .timedOut)])
        #expect(server.shared.registry.count == 0)
        try c.send("POST /echo/000/t/xhr_send HTTP/1.1\r\nContent-Length: 5\r\n\r\n[\"x\"]")
        #expect(try c.text().hasPrefix("HTTP/1.1 404 "))
    }

    @Test("a closed session keeps answering its close frame, then is forgotten after the delay")
    func closedSessionCleanup() throws {
        let server = EmbeddedServer()
        let c = try server.connect()
        try c.send("POST /echo/000/k/xhr HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        _ = try c.text()
        server.service.sessions[0].close(code: 3001, reason: "bye")
        try c.send("POST /echo/000/k/xhr HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        #expect(try c.text().hasSuffix("c[3001,\"bye\"]\n"))
        server.loop.advanceTime(by: .seconds(5))
        #expect(server.endpoint.session(id: "k") == nil)
    }

    @Test("messages posted with xhr_send reach the service in order and echo on the next poll")
    func xhrSendOrder() throws {
        let server = EmbeddedServer()
        let c = try server.connect()
        try c.send("POST /echo/000/m/xhr HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        _ = try c.text()
        try c.send("POST /echo/000/m/xhr_send HTTP/1.1\r\nContent-Length: 9\r\n\r\n[\"1\",\"2\"]")
        #expect(try c.text().hasPrefix("HTTP/1.1 204 No Content\r\n"))
        try c.send("POST /echo/000/m/xhr HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        #expect(try c.text().hasSuffix("a[\"1\",\"2\"]\n"))
        #expect(server.service.events == [.opened("m"), .message("m", "1"), .message("m", "2")])
    }

    @Test("a websocket session echoes and answers pings")
    func webSocketEcho() throws {
        let server = EmbeddedServer()
        let c = try server.connect()
        try c.send(
            "GET /echo/000/w/websocket HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        let handshake = try c.output()
        let text = String(decoding: handshake, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        #expect(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
        #expect(Array(handshake.suffix(3)) == [0x81, 0x01, UInt8(ascii: "o")])
        try c.send(maskedText("[\"hi\"]"))
        #expect(try c.output() == [0x81, 0x07] + Array("a[\"hi\"]".utf8))
        try c.send(clientFrame(opcode: 9, payload: [7, 7]))
        #expect(try c.output() == [0x8A, 0x02, 7, 7])
    }

    @Test("pings read together get one pong, for the newest; a ping before a close gets none after it")
    func webSocketPingsCoalesce() throws {
        let server = EmbeddedServer()
        let c = try server.connect()
        try c.send(
            "GET /echo/000/wp/websocket HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        _ = try c.output()
        var flood = ByteBuffer()
        for n in 0..<1000 {
            var frame = clientFrame(opcode: 9, payload: [UInt8(n % 256), UInt8(n / 256)])
            flood.writeBuffer(&frame)
        }
        try c.send(flood)
        #expect(try c.output() == [0x8A, 0x02, UInt8(999 % 256), UInt8(999 / 256)])
        var pingThenClose = clientFrame(opcode: 9, payload: [1])
        var close = clientFrame(opcode: 8, payload: [0x03, 0xE8])
        pingThenClose.writeBuffer(&close)
        try c.send(pingThenClose)
        let bye = try c.output()
        #expect(bye.first == 0x88, "the close answer, and no pong after it: \(bye)")
        #expect(!bye.contains(0x8A))
    }

    @Test("a websocket client that does not read is closed with 4002; another session is unaffected")
    func slowReaderOverflow() throws {
        var options = SockJSOptions()
        options.maxQueuedBytes = 1000
        let server = EmbeddedServer(options: options)
        let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        let slow = try server.connect()
        try slow.send("GET /echo/000/slow/websocket HTTP/1.1\r\n" + upgrade)
        let fast = try server.connect()
        try fast.send("GET /echo/000/fast/websocket HTTP/1.1\r\n" + upgrade)
        _ = try slow.output()
        _ = try fast.output()
        let sessions = server.service.sessions
        let slowSession = try #require(sessions.first { $0.id == "slow" })
        let fastSession = try #require(sessions.first { $0.id == "fast" })

        slow.channel.isWritable = false
        slow.channel.pipeline.fireChannelWritabilityChanged()
        let chunk = String(repeating: "x", count: 100)
        for _ in 0..<9 { slowSession.send(chunk) }
        #expect(slow.isActive)
        #expect(try slow.output().isEmpty)
        slowSession.send(chunk)
        #expect(!slow.isActive)
        #expect(String(decoding: try slow.output(), as: UTF8.self).contains("c[4002,\"too slow\"]"))
        #expect(server.service.events.contains(.closed("slow", .tooSlow)))

        fastSession.send("still fine")
        #expect(String(decoding: try fast.output(), as: UTF8.self).hasSuffix("a[\"still fine\"]"))
        #expect(fast.isActive)
    }

    @Test("a request head over the limit gets 431 and the connection is closed")
    func oversizeHead() throws {
        let server = EmbeddedServer(configuration: .init { $0.maxRequestHeadBytes = 1024 })
        let c = try server.connect()
        try c.send("GET /echo HTTP/1.1\r\n" + String(repeating: "X-Pad: 0123456789\r\n", count: 100))
        #expect(try c.text().hasPrefix("HTTP/1.1 431 "))
        #expect(!c.isActive)
    }

    @Test("a 100 MB POST gets 413 from its Content-Length alone and the connection is closed")
    func oversizeBody() throws {
        let server = EmbeddedServer()
        let c = try server.connect()
        try c.send("POST /echo/000/b/xhr_send HTTP/1.1\r\nContent-Length: 104857600\r\n\r\n" + String(repeating: "[", count: 1000))
        #expect(try c.text().hasPrefix("HTTP/1.1 413 "))
        #expect(!c.isActive)
    }

    @Test("a request head that trickles in (slowloris) gets 408 after the request timeout and is closed")
    func slowloris() throws {
        let server = EmbeddedServer(configuration: .init { $0.requestTimeout = .seconds(10) })
        let c = try server.connect()
        try c.send("GET /echo HTTP/1.1\r\nX-A: 1\r\n")
        server.loop.advanceTime(by: .seconds(5))
        try c.send("X-B: 2\r\n")
        #expect(c.isActive)
        server.loop.advanceTime(by: .seconds(5))
        #expect(try c.text().hasPrefix("HTTP/1.1 408 "))
        #expect(!c.isActive)
    }

    @Test("an idle keep-alive connection is closed after the idle timeout")
    func idleTimeout() throws {
        let server = EmbeddedServer(configuration: .init { $0.idleTimeout = .seconds(30) })
        let c = try server.connect()
        try c.send("GET /echo HTTP/1.1\r\n\r\n")
        #expect(try c.text().hasSuffix("Welcome to SockJS!\n"))
        server.loop.advanceTime(by: .seconds(29))
        #expect(c.isActive)
        server.loop.advanceTime(by: .seconds(1))
        #expect(!c.isActive)
    }

    @Test("an HTTP/1.0 stream is close-delimited: no chunking, Connection: close, closed after the close frame")
    func http10Stream() throws {
        let server = EmbeddedServer()
        let c = try server.connect()
        try c.send("POST /echo/000/h/xhr_streaming HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")
        let head = try c.text()
        #expect(!head.contains("Transfer-Encoding"))
        #expect(head.contains("Connection: close\r\n"))
        #expect(head.hasSuffix("o\n"))
        server.service.sessions[0].close()
        #expect(try c.text() == "c[3000,\"Go away!\"]\n")
        #expect(!c.isActive)
    }

    @Test("a websocket heartbeat carries 'h' and a ping; a client that stops answering is dropped after two intervals")
    func webSocketHalfOpen() throws {
        let server = EmbeddedServer()
        let c = try server.connect()
        try c.send(
            "GET /echo/000/ho/websocket HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        _ = try c.output()
        server.loop.advanceTime(by: .seconds(25))
        #expect(try c.output() == [0x81, 0x01, UInt8(ascii: "h"), 0x89, 0x00])
        try c.send(clientFrame(opcode: 0xA, payload: []))
        server.loop.advanceTime(by: .seconds(25))
        #expect(try c.output() == [0x81, 0x01, UInt8(ascii: "h"), 0x89, 0x00])
        #expect(c.isActive)
        // The ping at 50 s goes unanswered: at 75 s the peer was silent for two intervals.
        server.loop.advanceTime(by: .seconds(25))
        #expect(!c.isActive)
        #expect(server.service.events == [.opened("ho"), .closed("ho", .interrupted)])
    }

    @Test("a client that expects 100-continue gets it before sending its body")
    func expectContinue() throws {
        let server = EmbeddedServer()
        let c = try server.connect()
        try c.send("POST /echo/000/e/xhr HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        _ = try c.output()
        try c.send("POST /echo/000/e/xhr_send HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        #expect(try c.text() == "HTTP/1.1 100 Continue\r\n\r\n")
        try c.send("[\"x\"]")
        #expect(try c.text().hasPrefix("HTTP/1.1 204 No Content\r\n"))
        #expect(server.service.events.contains(.message("e", "x")))
    }

    @Test("hixie-76: the 101 head goes out before the nonce, then the MD5 answer, 'o', and echoes")
    func hixie76() throws {
        let server = EmbeddedServer()
        let c = try server.connect()
        try c.send(
            "GET /echo/000/hx/websocket HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\nOrigin: http://127.0.0.1:8081\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\nSec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n\r\n"
        )
        let head = try c.text()
        #expect(head.hasPrefix("HTTP/1.1 101 "))
        #expect(head.contains("Sec-WebSocket-Location: ws://127.0.0.1:8081/echo/000/hx/websocket\r\n"))
        #expect(head.contains("Sec-WebSocket-Origin: http://127.0.0.1:8081\r\n"))
        #expect(head.hasSuffix("\r\n\r\n"))
        try c.send("aaaaaaaa")
        let answer: [UInt8] = [0xCA, 0x34, 0x00, 0xD8, 0xA5, 0x08, 0x47, 0x97, 0x2C, 0xD5, 0x71, 0x5A, 0xBA, 0xBF, 0x43, 0x7B]
        #expect(try c.output() == answer + [0x00, UInt8(ascii: "o"), 0xFF])
        try c.send(ByteBuffer(bytes: [0x00] + Array("[\"x\"]".utf8) + [0xFF]))
        #expect(try c.output() == [0x00] + Array("a[\"x\"]".utf8) + [0xFF])
    }

    @Test("raw websocket carries plain text both ways and closes with a websocket close frame")
    func rawWebSocket() throws {
        let server = EmbeddedServer()
        let c = try server.connect()
        try c.send(
            "GET /echo/websocket HTTP/1.1\r\n"
                + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        #expect(try c.text().hasSuffix("\r\n\r\n"))
        try c.send(maskedText("plain [text]"))
        #expect(try c.output() == [0x81, 12] + Array("plain [text]".utf8))
        server.service.sessions[0].close(code: 3000, reason: "Go away!")
        #expect(try c.output() == [0x88, 10, 0x0B, 0xB8] + Array("Go away!".utf8))
        #expect(server.service.events.last == .closed("raw", .closedByServer(.goAway)))
    }
}

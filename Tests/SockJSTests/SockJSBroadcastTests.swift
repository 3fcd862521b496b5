import NIOCore
import NIOEmbedded
import Testing

@testable import SockJS

/// Counts flushes that reach the socket end of a pipeline.
final class FlushCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var flushes = 0
    func flush(context: ChannelHandlerContext) {
        flushes += 1
        context.flush()
    }
}

@Suite("Broadcast")
struct SockJSBroadcastTests {
    static let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

    @Test("a burst of broadcasts writes every frame but flushes each connection once")
    func burstSharesOneFlush() throws {
        let server = EmbeddedServer(echo: false)
        var connections: [(EmbeddedConnection, FlushCounter)] = []
        for i in 0..<3 {
            let c = try server.connect()
            let counter = FlushCounter()
            try c.channel.pipeline.syncOperations.addHandler(counter, position: .first)
            try c.send("GET /echo/000/b\(i)/websocket HTTP/1.1\r\n" + Self.upgrade)
            _ = try c.output()
            connections.append((c, counter))
        }
        let before = connections.map { $0.1.flushes }
        let sessions = server.service.sessions
        #expect(sessions.count == 3)
        for text in ["one", "two", "three"] {
            SockJSServer.broadcast(SockJSPreparedMessage(text), to: sessions)
        }
        server.loop.run()
        for ((c, counter), flushesBefore) in zip(connections, before) {
            #expect(counter.flushes - flushesBefore == 1)
            let expected: [UInt8] = ["one", "two", "three"].flatMap { text -> [UInt8] in
                let payload = Array("a[\"\(text)\"]".utf8)
                return [0x81, UInt8(payload.count)] + payload
            }
            #expect(try c.output() == expected)
        }
    }

    @Test("broadcast reaches polling and streaming sessions in their own framing")
    func mixedTransports() throws {
        let server = EmbeddedServer(echo: false)
        let stream = try server.connect()
        try stream.send("POST /echo/000/s/xhr_streaming HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        _ = try stream.output()
        let poll = try server.connect()
        try poll.send("POST /echo/000/p/xhr HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        _ = try poll.output()
        let ws = try server.connect()
        try ws.send("GET /echo/000/w/websocket HTTP/1.1\r\n" + Self.upgrade)
        _ = try ws.output()

        SockJSServer.broadcast(SockJSPreparedMessage("hi"), to: server.service.sessions)
        server.loop.run()

        #expect(try stream.text() == "8\r\na[\"hi\"]\n\r\n")
        #expect(try ws.output() == [0x81, 7] + Array("a[\"hi\"]".utf8))
        try poll.send("POST /echo/000/p/xhr HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        #expect(try poll.text().hasSuffix("\r\n\r\na[\"hi\"]\n"))
    }
}

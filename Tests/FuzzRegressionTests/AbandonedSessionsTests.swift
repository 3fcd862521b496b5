import NIOCore
import NIOEmbedded
import Testing

@testable import FuzzChecks
@testable import SockJS

/// Thousands of sessions opened and abandoned, on every transport family, free everything they
/// held, and a bystander's session keeps working throughout (issue 8, point 2).
@Suite("Abandoned SockJS sessions")
struct AbandonedSessionsTests {
    static let upgrade =
        "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

    func bytes(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var out: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out += buffer.readableBytesView }
        return out
    }

    func text(_ channel: EmbeddedChannel) throws -> String {
        String(decoding: try bytes(channel), as: UTF8.self)
    }

    @Test func thousandsOfAbandonedSessionsAreAllFreedAndABystanderIsUnaffected() throws {
        let server = SockJSConnectionChecks.Server()
        defer { server.recorder.forgetSessions() }
        let bystander = try #require(server.connect())
        try bystander.writeInbound(ByteBuffer(string: "GET /echo/000/bystander/websocket HTTP/1.1\r\n" + Self.upgrade))
        #expect(try bytes(bystander).suffix(3) == [0x81, 0x01, UInt8(ascii: "o")], "the open frame")

        for n in 0..<2000 {
            let channel = try #require(server.connect())
            switch n % 3 {
            case 0:
                try channel.writeInbound(ByteBuffer(string: "POST /echo/000/poll\(n)/xhr HTTP/1.1\r\nContent-Length: 0\r\n\r\n"))
            case 1:
                try channel.writeInbound(ByteBuffer(string: "POST /echo/000/stream\(n)/xhr_streaming HTTP/1.1\r\nContent-Length: 0\r\n\r\n"))
            default:
                // A websocket whose client vanishes without a close frame (a half-open socket the OS reported).
                try channel.writeInbound(ByteBuffer(string: "GET /echo/000/ws\(n)/websocket HTTP/1.1\r\n" + Self.upgrade))
            }
            _ = try channel.close().wait()
            if n % 500 == 0 {
                try bystander.writeInbound(ByteBuffer(bytes: SockJSConnectionRegressionTests.clientFrame(opcode: 1, Array("[\"still \(n)\"]".utf8))))
                #expect(try text(bystander).contains("a[\"still \(n)\"]"))
            }
        }
        #expect(server.shared.openConnections.count == 1)
        // Past the disconnect delay of the HTTP sessions (5 s); the bystander answers heartbeats meanwhile.
        server.loop.advanceTime(by: .seconds(6))
        #expect(server.shared.registry.count == 1, "only the bystander's session is left")
        #expect(server.recorder.problems() == ["1 sessions were opened and never closed"])
        try bystander.writeInbound(ByteBuffer(bytes: SockJSConnectionRegressionTests.clientFrame(opcode: 1, Array("[\"done\"]".utf8))))
        #expect(try text(bystander).contains("a[\"done\"]"))
        _ = try bystander.close().wait()
        server.loop.run()
        #expect(server.shared.registry.count == 0)
        #expect(server.shared.openConnections.isEmpty)
        #expect(server.recorder.problems().isEmpty)
    }
}

import NIOCore
import NIOEmbedded
import Testing

@testable import FuzzChecks
@testable import SockJS

/// Inputs the connection fuzzer (and its seed replay) found broken, each pinned down here.
@Suite("SockJS connection regressions")
struct SockJSConnectionRegressionTests {
    static let upgrade =
        "GET /echo/000/w1/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

    /// A masked client frame.
    static func clientFrame(opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let mask: [UInt8] = [1, 2, 3, 4]
        return [0x80 | opcode, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
    }

    /// Found by the seed replay: the handler answered a client's close frame and closed the
    /// connection, but set its state to closing first, so `channelInactive` no longer told the
    /// session; the session stayed registered and the service never heard `sessionClosed`.
    @Test func aClientsWebSocketCloseFrameEndsItsSession() throws {
        let server = SockJSConnectionChecks.Server()
        defer { server.recorder.forgetSessions() }
        let channel = try #require(server.connect())
        try channel.writeInbound(ByteBuffer(string: Self.upgrade))
        try channel.writeInbound(ByteBuffer(bytes: Self.clientFrame(opcode: 1, Array(#"["hi"]"#.utf8))))
        #expect(server.shared.registry.count == 1)
        try channel.writeInbound(ByteBuffer(bytes: Self.clientFrame(opcode: 8, [0x03, 0xE8])))
        server.loop.run()
        #expect(!channel.isActive)
        #expect(server.shared.registry.count == 0)
        #expect(server.recorder.problems().isEmpty, "\(server.recorder.problems())")
    }

    /// The same for hixie-76, whose close is the two bytes `FF 00`.
    @Test func aHixieClientsCloseEndsItsSession() throws {
        let server = SockJSConnectionChecks.Server()
        defer { server.recorder.forgetSessions() }
        let channel = try #require(server.connect())
        let head =
            "GET /echo/000/h7/websocket HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nHost: x\r\nOrigin: http://x\r\n"
            + "Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\nSec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n\r\n^n:ds[4U"
        try channel.writeInbound(ByteBuffer(string: head))
        #expect(server.shared.registry.count == 1)
        try channel.writeInbound(ByteBuffer(bytes: [0xFF, 0x00]))
        server.loop.run()
        #expect(!channel.isActive)
        #expect(server.shared.registry.count == 0)
        #expect(server.recorder.problems().isEmpty, "\(server.recorder.problems())")
    }

    /// A streaming receiver whose connection the server drops (the client pipelined more than a
    /// request's worth of bytes behind it) is lost to its session too, which then times out.
    @Test func aStreamDroppedByTheServerIsLostToItsSession() throws {
        let server = SockJSConnectionChecks.Server()
        defer { server.recorder.forgetSessions() }
        let channel = try #require(server.connect())
        try channel.writeInbound(ByteBuffer(string: "POST /echo/000/s9/xhr_streaming HTTP/1.1\r\nContent-Length: 0\r\n\r\n"))
        #expect(server.shared.registry.count == 1)
        try channel.writeInbound(ByteBuffer(repeating: UInt8(ascii: "x"), count: 8 * 1024))
        server.loop.run()
        #expect(!channel.isActive)
        server.loop.advanceTime(by: .seconds(30))
        #expect(server.shared.registry.count == 0)
        #expect(server.recorder.problems().isEmpty, "\(server.recorder.problems())")
    }
}

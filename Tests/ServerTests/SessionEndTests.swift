import Foundation
import ServerTestSupport
import Testing

/// A browser that goes away ends its chat session: the others see it offline and the session
/// gauge comes back down. Browsers close a page's websocket with a close frame; a network
/// failure just drops the TCP connection. Both must end the session.
@Suite("rabbitChat sessions end with their client", .serialized)
struct SessionEndTests {
    enum Ending: String, CaseIterable, CustomTestStringConvertible {
        case closeFrame = "a websocket close frame"
        case droppedConnection = "a dropped TCP connection"
        var testDescription: String { rawValue }
    }

    @Test("A websocket client that leaves is shown offline and its session ends", arguments: Ending.allCases)
    func websocketClientLeaves(ending: Ending) async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (server, port) = try await ServerLifecycleTests.startServer(folder: folder)
        let watcher = try TestChatClient(port: port)
        try watcher.join("watcher")

        let socket = try TestSocket(port: port)
        try socket.write(
            "GET /chat/000/leaver01/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        var received: [UInt8] = []
        while !String(decoding: received, as: UTF8.self).contains("\r\n\r\n") { received += try socket.read() }
        #expect(String(decoding: received, as: UTF8.self).hasPrefix("HTTP/1.1 101"))
        try socket.write(Self.maskedText(#"["{\"type\":\"join\",\"nick\":\"leaver\"}"]"#))
        let online = try watcher.waitFor { $0["type"] as? String == "presence" && ($0["online"] as? [String])?.contains("leaver") == true }
        #expect(online != nil, "the others see the leaver come online")

        switch ending {
        case .closeFrame:
            try socket.write([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xE8 ^ 2])  // close 1000, masked
        case .droppedConnection:
            socket.closeNow()
        }
        let offline = try watcher.waitFor(timeout: .seconds(15)) {
            $0["type"] as? String == "presence" && ($0["offline"] as? [String])?.contains("leaver") == true
        }
        #expect(offline != nil, "the others see the leaver go offline")
        let metrics = try TestHTTP.request(port: port, path: "/metrics").text
        #expect(metrics.contains(#"rabbitchat_sessions{transport="websocket"} 0"#), "no websocket session left")
        await server.stop()
    }

    /// A client-to-server text frame (masked, as RFC 6455 requires of clients).
    static func maskedText(_ text: String) -> [UInt8] {
        let payload = Array(text.utf8)
        precondition(payload.count < 126)
        let mask: [UInt8] = [9, 8, 7, 6]
        return [0x81, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }
}

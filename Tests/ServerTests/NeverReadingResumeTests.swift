import Foundation
import ServerTestSupport
import Testing

/// A client that resumes a room full of large messages and asks for it again and again with
/// `history` `after`, and never reads (Specs/bounds.md, "a session's outbound queue"): the
/// bound that applies is its SockJS session's outbound queue, 1 MiB (`SockJSOptions.maxQueuedBytes`,
/// behind the connection's 256 KiB write buffer and the kernel's socket buffers). Past it the
/// session is closed with 4002 "too slow" and a log line naming its transport, on websocket and
/// on xhr-streaming alike (there the frames queue once the unread response stalls); the other
/// users of the node go on, and every message they were told is `sent` reaches them.
@Suite("A client that never reads while a resume is pushed", .serialized, .timeLimit(.minutes(3)))
struct NeverReadingResumeTests {
    enum Transport: String, CaseIterable, Sendable, CustomStringConvertible {
        case websocket
        case xhrStreaming
        var description: String { rawValue }
    }

    /// Chat frames as one SockJS websocket message (a JSON array of strings), masked as a
    /// client sends it (RFC 6455 5.3): the server reads them in one go.
    static func maskedTextFrame(_ frames: [[String: Any]]) throws -> [UInt8] {
        let texts = try frames.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        let payload = Array(try JSONSerialization.data(withJSONObject: texts))
        var bytes: [UInt8] = [0x81]
        if payload.count < 126 {
            bytes.append(0x80 | UInt8(payload.count))
        } else {
            precondition(payload.count <= 0xFFFF, "one test message stays under 64 KiB")
            bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        let mask: [UInt8] = [0x5A, 0x3C, 0x96, 0x0F]
        bytes += mask
        bytes += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return bytes
    }

    /// On the built-in broker: the bound is the SockJS session's, whatever the broker.
    @Test(arguments: Transport.allCases)
    func aNeverReadingResumerIsClosedAtItsQueueBoundAndNoOneElseIsAffected(_ transport: Transport) async throws {
        let server = try await LiveServer.start()
        defer { _ = server.stopBlocking(grace: .seconds(10)) }
        let run = UUID().uuidString.prefix(6).lowercased()

        // A room of 40 messages of 4000 characters: about 170 KB per `history` answer.
        let talker = try TestChatClient(port: server.port, reopens: true)
        try talker.join("talk\(run)")
        let text = String(repeating: "x", count: 4000)
        for n in 0..<40 { try talker.send(["type": "say", "id": "s\(n)", "text": text]) }
        let lastSent = try talker.waitFor { $0["type"] as? String == "sent" && $0["id"] as? String == "s39" }
        #expect(lastSent != nil)
        let bystander = try TestChatClient(port: server.port, reopens: true)
        try bystander.join("by\(run)")
        let sessionsBefore = try server.metric("rabbitchat_sessions") ?? 0

        // The never-reader: a resume from the room's start, then 45 pages asked for at once
        // (within the rate's burst of 50): about 8 MB offered to a client that reads nothing.
        let join: [String: Any] = ["type": "join", "nick": "slow\(run)", "resume": ["rooms": ["lobby": 0]]]
        let page: [String: Any] = ["type": "history", "room": "lobby", "after": 0, "limit": 100]
        var keepAlive: AnyObject?
        switch transport {
        case .websocket:
            let socket = try TestSocket(port: server.port, receiveBuffer: 4096)
            try socket.write(
                "GET /chat/000/\(run)slow/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            try socket.write(try Self.maskedTextFrame([join] + Array(repeating: page, count: 45)))
            keepAlive = socket
        case .xhrStreaming:
            let slow = try TestChatClient(port: server.port, receiveBuffer: 4096)
            try slow.send(join)
            for _ in 0..<45 { try slow.send(page) }
            keepAlive = slow
        }

        let label = transport == .websocket ? "websocket" : "xhr-streaming"
        try await eventually("the never-reader's session to be closed", timeout: .seconds(30), interval: .milliseconds(100)) {
            (try server.metric("rabbitchat_sessions", labels: "transport=\"\(label)\"") ?? 0) <= (label == "xhr-streaming" ? 2 : 0)
        }
        #expect(server.log.contains("SockJS session closed with 4002"), "\(server.log.suffix(2000))")
        #expect(server.log.contains("\"transport\": \"\(label)\"") || server.log.contains("transport=\(label)"), "\(server.log.suffix(2000))")
        #expect((try server.metric("rabbitchat_sessions") ?? 0) <= sessionsBefore)
        withExtendedLifetime(keepAlive) {}

        // The node goes on: a public and a private message, each `sent` and received, between
        // two users who join now. (The talker and bystander above read only inside `waitFor`,
        // so their ended xhr-streaming responses stay unopened while the never-reader is
        // closed; on a loaded machine SockJS's disconnect delay then ended their sessions too,
        // which is the test client's limit, not the node's.)
        // They meet in a room of their own, so their welcomes do not carry the lobby's 170 KB.
        let talker2 = try TestChatClient(port: server.port, reopens: true)
        try talker2.send(["type": "join", "nick": "talk2\(run)", "rooms": ["after\(run)"]])
        #expect(try talker2.waitFor { $0["type"] as? String == "welcome" } != nil)
        let bystander2 = try TestChatClient(port: server.port, reopens: true)
        try bystander2.send(["type": "join", "nick": "by2\(run)", "rooms": ["after\(run)"]])
        #expect(try bystander2.waitFor { $0["type"] as? String == "welcome" } != nil)
        try talker2.send(["type": "say", "id": "after", "room": "after\(run)", "text": "after the never-reader"])
        #expect(try bystander2.waitFor { $0["type"] as? String == "message" && $0["text"] as? String == "after the never-reader" } != nil)
        try bystander2.send(["type": "tell", "id": "p1", "to": "talk2\(run)", "text": "still here"])
        #expect(try bystander2.waitFor { $0["type"] as? String == "sent" && $0["id"] as? String == "p1" } != nil)
        #expect(try talker2.waitFor { $0["type"] as? String == "message" && $0["text"] as? String == "still here" } != nil)
        #expect(server.isRunning)
    }
}

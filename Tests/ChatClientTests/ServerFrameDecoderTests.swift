import Chat
import Foundation
import Testing

@testable import ChatClient

/// The fast decoder must read every frame exactly as `Chat` itself does.
@Suite struct ServerFrameDecoderTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Specs/examples")

    static var serverExamples: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: examples.path)) ?? [])
            .filter { $0.hasPrefix("server-") && $0.hasSuffix(".json") }.sorted()
    }

    @Test func theGoldenServerFramesExist() {
        #expect(Self.serverExamples.count >= 10)
    }

    @Test(arguments: serverExamples)
    func decodesEachGoldenFrameAsChatDoes(file: String) throws {
        let text = try String(contentsOf: Self.examples.appendingPathComponent(file), encoding: .utf8)
        #expect(try ServerFrameDecoder.decode(text) == ChatFrameCodec.decodeServerFrame(text))
    }

    @Test func theFrequentFramesTakeTheFastPath() {
        let frames: [ServerFrame] = [
            .message(ChatMessage(msgId: "m1", from: "ann", room: "lobby", text: "hi \"you\" \\ / 😀 \u{2028} \n", ts: 1_700_000_000_000, seq: 42)),
            .message(ChatMessage(msgId: "m2", from: "ann", to: "bob", text: "psst", ts: 1)),
            .sent(Sent(id: "7", msgId: "m1", ts: 3)),
            .delivered(Delivered(msgId: "m2", to: "bob", ts: 4)),
        ]
        for frame in frames {
            let text = ChatFrameCodec.encode(frame)
            #expect(ServerFrameDecoder.decodeFlat(text) == frame, "\(text)")
        }
    }

    @Test func anythingElseFallsBackToChatsDecoder() throws {
        let welcome = ServerFrame.welcome(
            Welcome(nick: "ann", token: "t", users: [UserStatus(nick: "ann", online: true)], rooms: [], entered: ["lobby"], history: ["lobby": []])
        )
        let text = ChatFrameCodec.encode(welcome)
        #expect(ServerFrameDecoder.decodeFlat(text) == nil)
        #expect(try ServerFrameDecoder.decode(text) == welcome)
        // A required field of the wrong type is left to Chat's decoder, which rejects it.
        let broken = #"{"type":"sent","id":7,"msgId":"m","ts":1}"#
        #expect(ServerFrameDecoder.decodeFlat(broken) == nil)
        #expect(throws: (any Error).self) { try ServerFrameDecoder.decode(broken) }
        #expect(ServerFrameDecoder.decodeFlat(#"{"type":"message","msgId":"m","from":"a","text":"x","ts":1.5}"#) == nil)
    }
}

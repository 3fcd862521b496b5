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

/// The one-pass reader of `welcome` and `presence` must give exactly what `Chat` decodes, and
/// leave to `Chat` whatever it does not fully understand.
@Suite("Server frame decoder: nested frames")
struct ServerFrameDecoderNestedTests {
    static let frames: [ServerFrame] = [
        .presence(Presence(online: ["ann", "bob"], offline: ["cy"], ts: 1_700_000_000_000)),
        .presence(Presence(online: [], offline: [], ts: 0)),
        .welcome(Welcome(
            nick: "ann", token: "t0k", users: (0..<50).map { UserStatus(nick: "u\($0)", online: $0 % 3 == 0) },
            rooms: ["dev", "lobby"], entered: ["lobby", "dev"],
            history: [
                "lobby": [ChatMessage(msgId: "m1", from: "bob", room: "lobby", text: "hi \"there\" \\ 😀 \u{2028}", ts: 5, seq: 9)],
                "dev": [],
            ]
        )),
    ]

    @Test(arguments: frames)
    func aNestedFrameDecodesToWhatItWasEncodedFrom(_ frame: ServerFrame) throws {
        let text = ChatFrameCodec.encode(frame)
        #expect(ServerFrameDecoder.decodeNested(text) == frame)
        #expect(try ServerFrameDecoder.decode(text) == ChatFrameCodec.decodeServerFrame(text))
    }

    @Test(arguments: [
        #"{"type":"presence","online":["a"],"offline":[1],"ts":1}"#,
        #"{"type":"presence","online":["a"],"offline":[],"ts":01}"#,
        #"{"type":"presence","online":["a"],"offline":[],"ts":1.5}"#,
        #"{"type":"presence","online":["a"],"ts":1}"#,
        #"{"type":"presence","online":["a"],"offline":[],"ts":99999999999999999999}"#,
        #"{"type":"welcome","nick":"a","token":"t","users":[{"nick":"a"}],"rooms":[],"entered":[],"history":{}}"#,
        #"{"type":"welcome","nick":"a","token":"t","users":[],"rooms":[],"entered":[],"history":{"r":[{"msgId":"m"}]}}"#,
        #"{"type":"presence","online":["a"],"offline":[],"ts":1} x"#,
        #"[[[[[[[[[[[[]]]]]]]]]]]]"#,
    ])
    func whatItRefusesFailsOrDecodesExactlyAsChatDoes(_ text: String) {
        #expect(ServerFrameDecoder.decodeNested(text) == nil)
        let fast = try? ServerFrameDecoder.decode(text)
        let slow = try? ChatFrameCodec.decodeServerFrame(text)
        #expect(fast == slow)
    }

    @Test(arguments: [
        #"{"type":"message","msgId":"m","from":"a","room":"r","text":"x","ts":1,"seq":2}"#,
        #"{"ty\u0070e":"message","msgId":"m","from":"a","room":"r","text":"x","ts":1}"#,
        #"{"types":"message","type":"sent","id":"1","msgId":"m","ts":1}"#,
        #"{"t":"x","type":"delivered","msgId":"m","to":"b","ts":1}"#,
        #"{"type":"message","msgId":"m","from":"a","room":"r","text":"x","ts":1,"seqs":2}"#,
        #"{"type":"message","msgId":"m","from":"a","ro":"r","text":"x","ts":1}"#,
        #"{"type":"message","msgId":"m","from":"a","room":"r","text":"x","ts":1,"to"#,
    ])
    func keysThatLookLikeTheFrequentOnesAreReadExactlyAsChatReadsThem(_ text: String) {
        let fast = try? ServerFrameDecoder.decode(text)
        let slow = try? ChatFrameCodec.decodeServerFrame(text)
        #expect(fast == slow)
    }

    @Test func unknownFieldsAndNullOptionalsAreReadAsChatReadsThem() throws {
        let text = #"{"type":"welcome","extra":{"deep":[1,2]},"nick":"a","token":"t","users":[{"nick":"a","online":true,"x":null}],"rooms":["r"],"entered":["r"],"history":{"r":[{"msgId":"m","from":"b","room":"r","to":null,"text":"x","ts":-3,"seq":null}]}}"#
        #expect(ServerFrameDecoder.decodeNested(text) == (try ChatFrameCodec.decodeServerFrame(text)))
    }
}

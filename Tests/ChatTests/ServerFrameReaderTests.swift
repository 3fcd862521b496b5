import Chat
import ChatProtocol
import Foundation
import Testing

/// What `JSONDecoder` reads `text` as: the reference every hand-written read must match.
private func reference(_ text: String) -> ServerFrame? {
    try? JSONDecoder().decode(ServerFrame.self, from: Data(text.utf8))
}

/// The one hand-written decoder of server frames (`ServerFrameReader`, which
/// `ChatFrameCodec.decodeServerFrame` and every client use) must read every frame exactly as
/// `JSONDecoder` does, or leave it to `JSONDecoder`.
@Suite struct ServerFrameReaderTests {
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
    func readsEachGoldenFrameAsJSONDecoderDoes(file: String) throws {
        let text = try String(contentsOf: Self.examples.appendingPathComponent(file), encoding: .utf8)
        let expected = try #require(reference(text))
        #expect(try ChatFrameCodec.decodeServerFrame(text) == expected)
        if let read = ServerFrameReader.read(text) { #expect(read == expected) }
    }

    @Test func theFrequentFramesTakeTheFastPath() {
        let frames: [ServerFrame] = [
            .message(ChatMessage(msgId: "m1", from: "ann", room: "lobby", text: "hi \"you\" \\ / 😀 \u{2028} \n", ts: 1_700_000_000_000, seq: 42)),
            .message(ChatMessage(msgId: "m2", from: "ann", to: "bob", text: "psst", ts: 1)),
            .sent(Sent(id: "7", msgId: "m1", ts: 3)),
            .delivered(Delivered(msgId: "m2", to: "bob", ts: 4)),
            .typing(Typing(from: "ann", room: "lobby")),
            .left(Left(room: "lobby")),
            .entered(Entered(room: "dev", history: [ChatMessage(msgId: "m3", from: "cy", room: "dev", text: "x", ts: 2, seq: 1)])),
            .history(History(room: "dev", messages: [])),
        ]
        for frame in frames {
            let text = ChatFrameCodec.encode(frame)
            #expect(ServerFrameReader.read(text) == frame, "\(text)")
            #expect(reference(text) == frame, "\(text)")
        }
    }

    @Test func whatTheReaderLeavesAloneFallsBackToJSONDecoder() throws {
        // An error frame is rare: JSONDecoder reads it (its code is an enum).
        let error = ServerFrame.error(ErrorFrame(code: .badRequest, message: "no", id: "1"))
        let text = ChatFrameCodec.encode(error)
        #expect(ServerFrameReader.read(text) == nil)
        #expect(try ChatFrameCodec.decodeServerFrame(text) == error)
        // A required field of the wrong type is left to JSONDecoder, which rejects it.
        let broken = #"{"type":"sent","id":7,"msgId":"m","ts":1}"#
        #expect(ServerFrameReader.read(broken) == nil)
        #expect(throws: (any Error).self) { try ChatFrameCodec.decodeServerFrame(broken) }
        #expect(ServerFrameReader.read(#"{"type":"message","msgId":"m","from":"a","text":"x","ts":1.5}"#) == nil)
    }
}

/// The one-pass read of `welcome` and `presence` must give exactly what `JSONDecoder` reads,
/// and leave to it whatever the reader does not fully understand.
@Suite("Server frame reader: nested frames")
struct ServerFrameReaderNestedTests {
    static let frames: [ServerFrame] = [
        .presence(Presence(online: ["ann", "bob"], offline: ["cy"], ts: 1_700_000_000_000)),
        .presence(Presence(online: [], offline: [], ts: 0)),
        .welcome(
            Welcome(
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
        #expect(ServerFrameReader.read(text) == frame)
        #expect(reference(text) == frame)
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
    func whatItRefusesFailsOrDecodesExactlyAsJSONDecoderDoes(_ text: String) {
        #expect(ServerFrameReader.read(text) == nil)
        #expect((try? ChatFrameCodec.decodeServerFrame(text)) == reference(text))
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
    func keysThatLookLikeTheFrequentOnesAreReadExactlyAsJSONDecoderReadsThem(_ text: String) {
        #expect((try? ChatFrameCodec.decodeServerFrame(text)) == reference(text))
        if let read = ServerFrameReader.read(text) { #expect(read == reference(text)) }
    }

    @Test func unknownFieldsAndNullOptionalsAreReadAsJSONDecoderReadsThem() throws {
        let text =
            #"{"type":"welcome","extra":{"deep":[1,2]},"nick":"a","token":"t","users":[{"nick":"a","online":true,"x":null}],"rooms":["r"],"entered":["r"],"history":{"r":[{"msgId":"m","from":"b","room":"r","to":null,"text":"x","ts":-3,"seq":null}]}}"#
        #expect(ServerFrameReader.read(text) == reference(text))
        #expect(reference(text) != nil)
    }
}

/// Found while merging the client's and the chat's flat readers: `JSONDecoder` takes the first
/// of duplicate keys, both hand-written readers took the last.
@Test func duplicateKeysAreReadAsJSONDecoderReadsThem() throws {
    let text = #"{"type":"left","room":"a","room":"b"}"#
    #expect(reference(text) == .left(Left(room: "a")))
    #expect(ServerFrameReader.read(text) == .left(Left(room: "a")))
    #expect(try ChatFrameCodec.decodeServerFrame(text) == .left(Left(room: "a")))
}

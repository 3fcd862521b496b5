import Chat
import FoundationEssentials
import Testing

/// The hand-written decoder of flat server frames must read exactly what `JSONDecoder` reads,
/// and leave everything it does not take to `JSONDecoder`.
@Suite("Flat server frame decoding")
struct FlatFrameDecodingTests {
    static let frames: [ServerFrame] = [
        .message(ChatMessage(msgId: "m1", from: "alice", room: "lobby", text: "plain", ts: 1_700_000_000_000, seq: 0)),
        .message(ChatMessage(msgId: "m2", from: "bob", to: "alice", text: "quote \" backslash \\ slash / tab \t nl \n cr \r", ts: -5)),
        .message(ChatMessage(msgId: "m3", from: "c", room: "r", text: "\u{1}\u{1f} é 中文 🐇 \u{2028}", ts: Int64.max, seq: Int64.max)),
        .message(ChatMessage(msgId: "m4", from: "d", room: "r", text: "", ts: Int64.min)),
        .sent(Sent(id: "client-1", msgId: "m1", ts: 3)),
        .delivered(Delivered(msgId: "m1", to: "bob", ts: 4)),
        .typing(Typing(from: "alice", room: "lobby")),
        .typing(Typing(from: "alice", to: "bob")),
        .left(Left(room: "lobby")),
    ]

    @Test(arguments: frames)
    func aFlatFrameDecodesToWhatItWasEncodedFrom(_ frame: ServerFrame) throws {
        #expect(try ChatFrameCodec.decodeServerFrame(ChatFrameCodec.encode(frame)) == frame)
    }

    @Test func escapesAndSurrogatePairsReadAsJSONDecoderReadsThem() throws {
        let text = #"{"type":"message","msgId":"m","from":"a","room":"r","text":"\u00e9\ud83d\udc07\/\b\f\u0041","ts":7,"seq":null}"#
        let fast = try ChatFrameCodec.decodeServerFrame(text)
        let slow = try JSONDecoder().decode(ServerFrame.self, from: Data(text.utf8))
        #expect(fast == slow)
        #expect(fast == .message(ChatMessage(msgId: "m", from: "a", room: "r", text: "é🐇/\u{8}\u{c}A", ts: 7)))
    }

    @Test func whitespaceAndUnknownFieldsAreAccepted() throws {
        let text = " { \"type\" : \"delivered\" ,\n\"extra\": true, \"msgId\":\"m\", \"to\":\"n\", \"ts\": 12 } "
        #expect(try ChatFrameCodec.decodeServerFrame(text) == .delivered(Delivered(msgId: "m", to: "n", ts: 12)))
    }

    @Test(arguments: [
        #"{"type":"message","msgId":"m","from":"a","text":"t","ts":1.5}"#,
        #"{"type":"message","msgId":"m","from":"a","text":"t"}"#,
        #"{"type":"message","msgId":"m","from":"a","text":"t","ts":1,"room":5}"#,
        #"{"type":"presence","nick":"n","online":"yes","ts":1}"#,
        #"{"type":"sent","id":"i","msgId":"m","ts":01}"#,
        #"{"type":"message","msgId":"m","from":"a","text":"\ud800","ts":1}"#,
        #"{"type":"delivered","msgId":"m","to":"b","ts":1} x"#,
        #"{"type":"nope"}"#,
        "not json",
    ])
    func whatTheFlatParserRefusesFailsOrDecodesExactlyAsJSONDecoder(_ text: String) {
        let fast = try? ChatFrameCodec.decodeServerFrame(text)
        let slow = try? JSONDecoder().decode(ServerFrame.self, from: Data(text.utf8))
        #expect(fast == slow)
    }

    @Test func nestedFramesStillDecode() throws {
        let frame = ServerFrame.history(History(room: "r", messages: [ChatMessage(msgId: "m", from: "a", room: "r", text: "x", ts: 1, seq: 2)]))
        #expect(try ChatFrameCodec.decodeServerFrame(ChatFrameCodec.encode(frame)) == frame)
    }
}

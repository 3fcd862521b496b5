import Chat
import Testing

@Suite("Client frame validation")
struct FrameValidationTests {
    let limits = ChatLimits()

    func code(_ text: String, limits: ChatLimits = ChatLimits()) -> ChatErrorCode? {
        do {
            _ = try ChatFrameCodec.decodeClientFrame(text, limits: limits)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func aClientSentFromIsIgnoredNotTrusted() throws {
        let frame = try ChatFrameCodec.decodeClientFrame(#"{"type":"say","id":"1","text":"hi","from":"mallory"}"#, limits: limits)
        #expect(frame == .say(SayRequest(id: "1", text: "hi")))
    }

    @Test func unknownFieldsAreIgnored() throws {
        let frame = try ChatFrameCodec.decodeClientFrame(#"{"type":"enter","room":"dev","colour":"blue"}"#, limits: limits)
        #expect(frame == .enter(RoomRequest(room: "dev")))
    }

    @Test func frameOverTheByteLimitIsTooLarge() {
        let small = ChatLimits(maxFrameBytes: 100)
        #expect(code(#"{"type":"say","id":"1","text":""# + String(repeating: "x", count: 200) + #""}"#, limits: small) == .tooLarge)
    }

    @Test func textLimitCountsUnicodeScalarsNotBytes() {
        let fourThousandEmoji = String(repeating: "👋", count: 4000)
        #expect(code(#"{"type":"say","id":"1","text":"\#(fourThousandEmoji)"}"#) == nil)
        #expect(code(#"{"type":"say","id":"1","text":"\#(fourThousandEmoji)x"}"#) == .tooLarge)
    }

    @Test func newlinesAndTabsAreAllowedOtherControlCharactersAreNot() {
        #expect(code(#"{"type":"say","id":"1","text":"a\nb\tc"}"#) == nil)
        #expect(code(#"{"type":"say","id":"1","text":"a\u0007b"}"#) == .badRequest)
        #expect(code(#"{"type":"say","id":"1","text":"a\u007fb"}"#) == .badRequest)
    }

    @Test func errorsCarryTheIdOfTheFrameTheyAnswer() {
        do {
            _ = try ChatFrameCodec.decodeClientFrame(#"{"type":"say","id":"abc","room":"b d","text":"hi"}"#, limits: limits)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidRoom)
            #expect(error.id == "abc")
        }
    }

    @Test func deeplyNestedJSONIsRefusedWithoutCrashing() {
        let nested = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(code(#"{"type":"say","id":"1","text":"hi","x":\#(nested)}"#) != nil)
        #expect(code(nested) != nil)
    }

    @Test(arguments: ["alice", "a", "A_b.c-9", String(repeating: "x", count: 32)])
    func validNames(_ name: String) {
        #expect(ChatName.isValid(name))
    }

    @Test(arguments: ["", " ", "bad nick", "ü", "a/b", "a#b", "a*b", String(repeating: "x", count: 33)])
    func invalidNames(_ name: String) {
        #expect(!ChatName.isValid(name))
    }

    @Test func historyLimitMustBeBetweenOneAndAHundred() {
        #expect(code(#"{"type":"history","room":"lobby","limit":0}"#) == .badRequest)
        #expect(code(#"{"type":"history","room":"lobby","limit":100}"#) == nil)
    }

    @Test func ackWithTooManyIdsIsRefused() {
        let ids = (0...ClientFrame.maxAckIds).map { "\"m\($0)\"" }.joined(separator: ",")
        #expect(code(#"{"type":"ack","msgIds":[\#(ids)]}"#) == .badRequest)
    }

    @Test func aReadNamesOneValidRoomAndAPositionOfZeroOrMore() {
        #expect(code(#"{"type":"read","room":"lobby","upTo":0}"#) == nil)
        #expect(code(#"{"type":"read","room":"lobby","upTo":-1}"#) == .badRequest)
        #expect(code(#"{"type":"read","room":"no spaces","upTo":3}"#) == .invalidRoom)
        #expect(code(#"{"type":"read","upTo":3}"#) == .badRequest)
        #expect(code(#"{"type":"read","room":"lobby"}"#) == .badRequest)
        #expect(code(#"{"type":"read","room":"lobby","upTo":1.5}"#) == .badRequest)
        #expect(code(#"{"type":"read","with":"bob","upTo":3}"#) == .badRequest)
        #expect(code(#"{"type":"settings","privateReceipts":"no"}"#) == .badRequest)
        #expect(code(#"{"type":"settings"}"#) == .badRequest)
    }
}

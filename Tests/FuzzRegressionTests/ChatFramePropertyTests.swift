import Chat
import FoundationEssentials
import PropertyBased
import SockJSWire
import Testing

@testable import FuzzChecks
@testable import SockJS

/// Property-based tests of the chat frame codec: round trips for every valid frame, the error
/// rules for invalid ones, and "any input gives a value or an error".
@Suite("Chat frame properties")
struct ChatFramePropertyTests {
    let limits = ChatLimits()

    @Test func everyValidClientFrameSurvivesEncodeAndDecode() async {
        await propertyCheck(count: 500, input: Generators.clientFrame) { frame in
            await Task.yield()
            let text = ChatFrameCodec.encode(frame)
            #expect(throws: Never.self) { try ChatFrameCodec.decodeClientFrame(text, limits: limits) }
            #expect((try? ChatFrameCodec.decodeClientFrame(text, limits: limits)) == frame, "\(text)")
        }
    }

    @Test func everyServerFrameSurvivesEncodeAndDecodeAndEncodesToTheSameBytes() async {
        await propertyCheck(count: 300, input: Generators.serverFrame) { frame in
            await Task.yield()
            let text = ChatFrameCodec.encode(frame)
            let decoded = try? ChatFrameCodec.decodeServerFrame(text)
            #expect(decoded == frame, "\(text)")
            #expect(decoded.map(ChatFrameCodec.encode) == text)
        }
    }

    /// The whole inbound path: the browser's sockjs-client puts the frame text in a JSON array,
    /// SockJS decodes it, the chat decodes the frame.
    @Test func aClientFrameCrossesSockJSUnchanged() async {
        await propertyCheck(count: 300, input: Generators.clientFrame) { frame in
            await Task.yield()
            let text = ChatFrameCodec.encode(frame)
            let payload = Array(SockJSFrameChecks.encodeArray([text]).utf8)
            let messages = try? SockJSJSON.decodeMessages(payload, allowSingleString: false)
            #expect(messages == [text])
            #expect((try? ChatFrameCodec.decodeClientFrame(messages?.first ?? "", limits: limits)) == frame)
        }
    }

    /// The outbound path: a server frame quoted by SockJS reads back, by SockJS's own decoder and
    /// by a standard JSON parser (what the browser does), as the same frame text.
    @Test func aServerFrameCrossesSockJSEscapingUnchanged() async {
        await propertyCheck(count: 300, input: Generators.serverFrame) { frame in
            await Task.yield()
            let text = ChatFrameCodec.encode(frame)
            let quoted = Array(SockJSJSON.quoted(text).readableBytesView)
            #expect((try? JSONDecoder().decode(String.self, from: Data(quoted))) == text)
            #expect((try? SockJSJSON.decodeMessages(quoted, allowSingleString: true)) == [text])
        }
    }

    @Test func aTextWithAControlCharacterIsRefusedWithTheFramesId() async {
        let input = zip(Generators.text, Gen<Unicode.Scalar?>.element(of: Generators.refusedControls).map { $0! }, Generators.id, Gen.bool)
        await propertyCheck(count: 300, input: input) { text, control, id, tell in
            await Task.yield()
            var scalars = Array(text.unicodeScalars)
            scalars.insert(control, at: scalars.count / 2)
            let bad = String(String.UnicodeScalarView(scalars))
            let frame: ClientFrame = tell ? .tell(TellRequest(id: id, to: "bob", text: bad)) : .say(SayRequest(id: id, text: bad))
            do {
                _ = try ChatFrameCodec.decodeClientFrame(ChatFrameCodec.encode(frame), limits: limits)
                Issue.record("a text with U+\(String(control.value, radix: 16)) was accepted")
            } catch let error as ChatProtocolError {
                #expect(error.code == .badRequest)
                #expect(error.id == id)
            }
        }
    }

    @Test func aTextOverTheLimitIsTooLargeAndOneAtTheLimitIsAccepted() async {
        let small = ChatLimits(maxTextScalars: 50)
        await propertyCheck(count: 200, input: Generators.text, Generators.text) { a, b in
            await Task.yield()
            let scalars = Array((a + b + a + b).unicodeScalars)
            let text = String(String.UnicodeScalarView(scalars.prefix(51)))
            let frame = ClientFrame.say(SayRequest(id: "1", text: text))
            let result = Result { () throws(ChatProtocolError) in try ChatFrameCodec.decodeClientFrame(ChatFrameCodec.encode(frame), limits: small) }
            if scalars.count > 50 {
                #expect(throws: ChatProtocolError.self) { try result.get() }
                #expect((try? result.get()) == nil)
                if case .failure(let error) = result { #expect(error.code == .tooLarge) }
                let fits = ClientFrame.say(SayRequest(id: "1", text: String(String.UnicodeScalarView(scalars.prefix(50)))))
                #expect((try? ChatFrameCodec.decodeClientFrame(ChatFrameCodec.encode(fits), limits: small)) == fits)
            }
        }
    }

    @Test func aNameOutsideTheAlphabetIsRefused() async {
        await propertyCheck(count: 300, input: Generators.name, Generators.scalar(controls: true)) { name, scalar in
            await Task.yield()
            let outside = !Generators.nameCharacters.contains(Character(scalar))
            let changed = name + String(Character(scalar))
            #expect(ChatName.isValid(changed) == (!outside && changed.utf8.count <= ChatName.maxLength))
            let frame = ClientFrame.enter(RoomRequest(room: changed))
            let result = Result { () throws(ChatProtocolError) in try ChatFrameCodec.decodeClientFrame(ChatFrameCodec.encode(frame), limits: limits) }
            if case .failure(let error) = result { #expect(error.code == .invalidRoom) }
        }
    }

    /// Any bytes at all (as the SockJS layer hands them over, invalid UTF-8 replaced) give a
    /// frame or an error frame with a sentence, and the fuzz checks hold for them.
    @Test func anyBytesGiveAFrameOrAnError() async {
        await propertyCheck(count: 500, input: Generators.bytes) { bytes in
            await Task.yield()
            #expect(FuzzTarget.chatFrames.check(bytes) == [])
        }
        await propertyCheck(count: 500, input: Generators.jsonishBytes) { bytes in
            await Task.yield()
            #expect(FuzzTarget.chatFrames.check(bytes) == [])
        }
    }

    @Test func anythingThatIsNotJSONIsBadJSON() async {
        await propertyCheck(count: 300, input: Generators.anyText) { text in
            await Task.yield()
            let input = "{" + text + "\u{1}"
            do {
                _ = try ChatFrameCodec.decodeClientFrame(input, limits: limits)
                Issue.record("\(input) was accepted")
            } catch let error as ChatProtocolError {
                #expect(error.code == .badJSON)
            }
        }
    }
}

import Chat
import ChatClient
import Testing

@testable import FuzzChecks
@testable import SockJS

/// Inputs libFuzzer found that broke a check, each replayed through its fuzzer's checks and
/// pinned down with the behaviour decided for it.
@Suite("libFuzzer findings")
struct FuzzFindingsTests {
    /// FuzzChatFrames, 16 s in: a frame with an empty `id` and no `type`. The error echoes the
    /// id as sent (""); the check had wrongly demanded a non-empty one.
    @Test func anEmptyIdIsEchoedInTheError() {
        let input = #"{"id":"","msgId":"5f2b0c:e8d7a6b5c4d3e2f1a0b9c8d7e","Js":170000000000123,"4ype":"sent"}"#
        #expect(FuzzTarget.chatFrames.check(Array(input.utf8)) == [])
        do {
            _ = try ChatFrameCodec.decodeClientFrame(input, limits: ChatLimits())
            Issue.record("a frame without a type was accepted")
        } catch {
            #expect(error.code == .badRequest)
            #expect(error.id == "")
        }
    }

    /// FuzzSockJSFrames, 20 s in: Foundation's JSONDecoder reads `[ "x" , ]` as ["x"], but it is
    /// not JSON (the browser's JSON.parse refuses it) and SockJS refuses it too.
    @Test func aTrailingCommaIsBrokenJSON() {
        let input = Array(" [ \"x\" , ] \r\n".utf8)
        #expect(FuzzTarget.sockJSFrames.check(input) == [])
        #expect(throws: SockJSJSON.DecodingError.broken) {
            _ = try SockJSJSON.decodeMessages(input, allowSingleString: false)
        }
    }
}

extension FuzzFindingsTests {
    /// FuzzChatFrames, 160 s and 200,285 inputs in: a `say` whose id is 338 bytes (invalid UTF-8
    /// turned into U+FFFD) was refused, but the error echoed that id, over the 128-byte limit:
    /// an error frame could carry up to 64 KiB of the client's bytes back.
    @Test func anOverlongIdIsNotEchoedInItsError() {
        let id = "c" + String(repeating: "\u{FFFD}", count: 112) + "1"
        let input = #"{"id":"\#(id)","room":"lobby","text":"Helorl/ ün","type":"say"}"#
        #expect(FuzzTarget.chatFrames.check(Array(input.utf8)) == [])
        do {
            _ = try ChatFrameCodec.decodeClientFrame(input, limits: ChatLimits())
            Issue.record("an id of \(id.utf8.count) bytes was accepted")
        } catch {
            #expect(error.code == .badRequest)
            #expect(error.id == nil)
        }
    }
}

extension FuzzFindingsTests {
    /// FuzzClientFrames, in the CI run of ed78d51: `a["…",]` from a server. Foundation's
    /// JSONDecoder reads it; it is not JSON, sockjs-client's `JSON.parse` refuses it, and so does
    /// the Swift client. The check had used JSONDecoder as its reference without that exception.
    @Test func aServerFrameWithATrailingCommaIsRefusedByTheClient() throws {
        let input = Array(
            #"o\#nh\#na["{\"type\":\"message\",\"msgId\":\"m1\",\"from\":\"bob\",\"room\":\"lobby\",\"text\":\"hi\",\"ts\":1700000000000,\"seq\":5}",]\#n"#.utf8
        )
        #expect(FuzzTarget.clientFrames.check(input) == [])
        #expect(throws: (any Error).self) {
            _ = try ChatClient.SockJSFrame.parse(#"a["x",]"#)
        }
    }
}

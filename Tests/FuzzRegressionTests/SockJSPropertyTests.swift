import FoundationEssentials
import NIOCore
import PropertyBased
import SockJSWire
import Testing

@testable import FuzzChecks
@testable import SockJS

/// Property-based tests of SockJS's JSON rules and parsers.
@Suite("SockJS codec properties")
struct SockJSPropertyTests {
    /// The server escapes what JSON requires plus what browsers and proxies mangle; whatever
    /// the string, a JSON parser and SockJS's own decoder read the escaped form back unchanged.
    @Test func anyStringSurvivesTheServersEscaping() async {
        await propertyCheck(count: 500, input: Generators.anyText) { text in
            await Task.yield()
            let quoted = Array(SockJSJSON.quoted(text).readableBytesView)
            #expect(!quoted.contains { $0 < 0x20 }, "raw control byte in \(quoted)")
            let raw = String(decoding: quoted, as: UTF8.self)
            #expect(!raw.unicodeScalars.contains(where: { SockJSFrameChecks.isEscapedByRule($0) }), "unescaped code point in \(raw)")
            #expect((try? JSONDecoder().decode(String.self, from: Data(quoted))) == text)
            #expect((try? SockJSJSON.decodeMessages(quoted, allowSingleString: true)) == [text])
        }
    }

    @Test func theEscapedFormUsesLowercaseFourDigitEscapesForTheMangledCodePoints() {
        let quoted = String(buffer: SockJSJSON.quoted("a\u{2028}b\u{200C}\u{FFFF}\u{1}"))
        #expect(quoted == #""a\u2028b\u200c\uffff\u0001""#)
    }

    @Test func anArrayOfStringsSurvivesEncodingAndDecoding() async {
        await propertyCheck(count: 300, input: Generators.anyText.array(of: 0...6)) { messages in
            await Task.yield()
            let payload = Array(SockJSFrameChecks.encodeArray(messages).utf8)
            #expect((try? SockJSJSON.decodeMessages(payload, allowSingleString: false)) == messages)
            #expect((try? JSONDecoder().decode([String].self, from: Data(payload))) == messages)
        }
    }

    /// What a JSON library writes for an array of strings (its own escaping choices, `\/` and
    /// surrogate pairs included) SockJS reads the same way.
    @Test func whatAJSONEncoderWritesSockJSReads() async {
        await propertyCheck(count: 300, input: Generators.anyText.array(of: 0...6)) { messages in
            await Task.yield()
            let encoded = try JSONEncoder().encode(messages)
            #expect((try? SockJSJSON.decodeMessages(Array(encoded), allowSingleString: false)) == messages)
        }
    }

    @Test func escapedSurrogatePairsDecodeToOneScalarAndLoneOnesToTheReplacementCharacter() throws {
        let pair = try SockJSJSON.decodeMessages(Array(#"["\ud83d\udc4b","\ud800","x\udc00","\ud800\ud83d\udc4b"]"#.utf8), allowSingleString: false)
        #expect(pair == ["\u{1F44B}", "\u{FFFD}", "x\u{FFFD}", "\u{FFFD}\u{1F44B}"])
    }

    /// Any bytes as a payload, a websocket stream, an HTTP request or a form: the fuzz checks
    /// (no crash, same result in pieces, round trips) hold.
    @Test(arguments: [FuzzTarget.sockJSFrames, .webSocketFrames, .httpHead])
    func anyBytesPassTheFuzzChecks(_ target: FuzzTarget) async {
        await propertyCheck(count: 400, input: Generators.bytes) { bytes in
            await Task.yield()
            #expect(target.check(bytes) == [])
        }
        await propertyCheck(count: 400, input: Generators.jsonishBytes) { bytes in
            await Task.yield()
            #expect(target.check(bytes) == [])
        }
    }

    /// Well-formed requests with generated paths, header values and bodies parse back to what
    /// was written, at once or in pieces.
    @Test func generatedRequestsParseToWhatWasWritten() async {
        let segment = Gen<Character?>.element(of: Array("abcXYZ019_-.~%")).map { $0! }.array(of: 1...12).map { String($0) }
        let input = zip(segment, segment, Generators.anyText, Gen<UInt8>.value(in: 0...255).array(of: 0...200), Gen.bool)
        await propertyCheck(count: 300, input: input) { server, session, value, body, chunked in
            await Task.yield()
            let headerValue = String(value.unicodeScalars.filter { $0 != "\r" && $0 != "\n" && $0 != " " && $0 != "\t" }.map(Character.init))
            var request = "POST /echo/\(server)/\(session)/xhr_send HTTP/1.1\r\nHost: x\r\nX-Value: \(headerValue)\r\n"
            request += chunked ? "Transfer-Encoding: chunked\r\n\r\n" : "Content-Length: \(body.count)\r\n\r\n"
            var bytes = Array(request.utf8)
            if chunked {
                if !body.isEmpty { bytes += Array("\(String(body.count, radix: 16))\r\n".utf8) + body + Array("\r\n".utf8) }
                bytes += Array("0\r\n\r\n".utf8)
            } else {
                bytes += body
            }
            var parser = HTTPRequestParser(limits: .init(maxHeadBytes: 16 * 1024, maxBodyBytes: 1024))
            var buffer = ByteBuffer(bytes: bytes)
            let parsed = try parser.next(from: &buffer)
            #expect(parsed?.head.header("X-Value") == headerValue)
            #expect(parsed.map { Array($0.body.readableBytesView) } == body)
            #expect(parsed?.head.path == "/echo/\(server)/\(session)/xhr_send")
            #expect(HTTPHeadChecks.check(bytes) == [])
        }
    }
}

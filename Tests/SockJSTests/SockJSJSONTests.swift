import NIOCore
import SockJSWire
import Testing

@testable import SockJS

@Suite("SockJS JSON encoding and decoding")
struct SockJSJSONTests {
    private func quoted(_ s: String) -> String {
        String(buffer: SockJSJSON.quoted(s))
    }

    @Test("plain ASCII is quoted without escapes")
    func plainASCII() {
        #expect(quoted("hello world") == "\"hello world\"")
    }

    @Test("quotes, backslashes and control characters are escaped as JSON.stringify does")
    func controlCharacters() {
        #expect(quoted("a\"b\\c") == #""a\"b\\c""#)
        #expect(quoted("  \u{0}\n\r ") == #""  \u0000\n\r ""#)
        #expect(quoted("\t\u{8}\u{c}\u{1f}") == #""\t\b\f\u001f""#)
    }

    @Test(
        "code points browsers mangle are escaped with lower-case \\u escapes",
        arguments: [
            (Unicode.Scalar(0x200C)!, "\\u200c"), (Unicode.Scalar(0x2028)!, "\\u2028"), (Unicode.Scalar(0x202F)!, "\\u202f"),
            (Unicode.Scalar(0x2060)!, "\\u2060"), (Unicode.Scalar(0x206F)!, "\\u206f"), (Unicode.Scalar(0xFFF0)!, "\\ufff0"),
            (Unicode.Scalar(0xFFFF)!, "\\uffff"),
        ])
    func serverEscapes(scalar: Unicode.Scalar, escaped: String) {
        #expect(quoted(String(scalar)) == "\"\(escaped)\"")
    }

    @Test("a long text mixing plain runs and escapes encodes as escaping each scalar alone would")
    func longMixedText() {
        let pieces = ["plain ", "\"", "\\", "\n", "\u{1}", "é", "\u{2028}", "✓", "\u{FFF5}", "😀", "\u{2061}", "\u{2000}", "\u{E000}", "tail"]
        var text = ""
        var expected = "\""
        for n in 0..<400 {
            let piece = pieces[n % pieces.count]
            text += piece
            expected += String(quoted(piece).dropFirst().dropLast())
        }
        expected += "\""
        #expect(quoted(text) == expected)
    }

    @Test("other non-ASCII text is sent verbatim as UTF-8")
    func verbatimUnicode() {
        #expect(quoted("ünï ✓ 😀 \u{2000}") == "\"ünï ✓ 😀 \u{2000}\"")
    }

    @Test("an array of strings decodes to the messages in order")
    func decodesArray() throws {
        let messages = try SockJSJSON.decodeMessages(Array(#" [ "a" , "b\"c" ,"\u00e9\n" ] "#.utf8), allowSingleString: false)
        #expect(messages == ["a", "b\"c", "é\n"])
    }

    @Test("an empty array decodes to no messages")
    func emptyArray() throws {
        #expect(try SockJSJSON.decodeMessages(Array("[]".utf8), allowSingleString: false).isEmpty)
    }

    @Test("a single string is accepted only where allowed (websocket)")
    func singleString() throws {
        #expect(try SockJSJSON.decodeMessages(Array(#""x""#.utf8), allowSingleString: true) == ["x"])
        #expect(throws: SockJSJSON.DecodingError.broken) {
            try SockJSJSON.decodeMessages(Array(#""x""#.utf8), allowSingleString: false)
        }
    }

    @Test("surrogate pairs decode to one scalar; a lone surrogate becomes U+FFFD")
    func surrogates() throws {
        #expect(try SockJSJSON.decodeMessages(Array(#"["\ud83d\ude00"]"#.utf8), allowSingleString: false) == ["😀"])
        #expect(try SockJSJSON.decodeMessages(Array(#"["\ud800x"]"#.utf8), allowSingleString: false) == ["\u{FFFD}x"])
        #expect(try SockJSJSON.decodeMessages(Array(#"["\udc00"]"#.utf8), allowSingleString: false) == ["\u{FFFD}"])
    }

    @Test("an empty payload is 'Payload expected'", arguments: ["", "  \n"])
    func emptyPayload(payload: String) {
        #expect(throws: SockJSJSON.DecodingError.empty) {
            try SockJSJSON.decodeMessages(Array(payload.utf8), allowSingleString: false)
        }
    }

    @Test("broken JSON is refused", arguments: [#"["x"#, #"["a",]"#, "[1]", #"{"a":1}"#, #"["a"] x"#, "[\"\u{1}\"]", #"["\q"]"#, #"["\u12"]"#])
    func brokenPayload(payload: String) {
        #expect(throws: SockJSJSON.DecodingError.broken) {
            try SockJSJSON.decodeMessages(Array(payload.utf8), allowSingleString: true)
        }
    }

    @Test("what the server encodes decodes back to the same text")
    func roundTrip() throws {
        let samples = ["", "plain", "\u{0}\u{1f}\"\\/", "\u{2028}\u{2029}\u{FFFE}", "😀 ünï", String(repeating: "x", count: 5000)]
        for s in samples {
            var buffer = ByteBuffer(staticString: "[")
            SockJSJSON.appendQuoted(s, to: &buffer)
            buffer.writeStaticString("]")
            #expect(try SockJSJSON.decodeMessages(buffer, allowSingleString: false) == [s])
        }
    }
}

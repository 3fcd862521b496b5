import Foundation
import NIOCore
import Testing

@testable import SockJS

/// `htmlfile` writes frames into `<script>` blocks of an HTML page and `jsonp` into a script a
/// page includes: every character class, byte for byte, and no frame can end the block.
@Suite("htmlfile and jsonp escaping")
struct ScriptTransportEscapingTests {
    let allocator = ByteBufferAllocator()

    private func htmlfile(_ frame: SockJSFrame) -> String {
        String(buffer: SockJSFrameFlavour.htmlfile.wrap(frame, allocator: allocator) ?? ByteBuffer())
    }

    private func jsonp(_ frame: SockJSFrame) -> String {
        String(buffer: SockJSFrameFlavour.jsonp(callback: "_jp.a1b2c3").wrap(frame, allocator: allocator) ?? ByteBuffer())
    }

    /// Golden wire text: the message, then the JavaScript string literal both transports carry
    /// (the frame `a["…"]` quoted once more), exactly.
    static let golden: [(name: String, text: String, literal: String)] = [
        ("plain ASCII", "hello, world", #"a[\"hello, world\"]"#),
        ("quote", #"say "hi""#, #"a[\"say \\\"hi\\\"\"]"#),
        ("backslash", #"a\b"#, #"a[\"a\\\\b\"]"#),
        ("newline and tab", "a\nb\tc", #"a[\"a\\nb\\tc\"]"#),
        ("other controls", "\u{0}\u{1}\u{1F}\u{7F}", #"a[\"\\u0000\\u0001\\u001f"# + "\u{7F}" + #"\"]"#),
        (
            "closing script tag", "</script><img src=x onerror=alert(1)>",
            #"a[\"\u003c/script\u003e\u003cimg src=x onerror=alert(1)\u003e\"]"#
        ),
        ("upper-case closing tag", "</SCRIPT >", #"a[\"\u003c/SCRIPT \u003e\"]"#),
        ("comment open and close", "<!-- x -->", #"a[\"\u003c!-- x --\u003e\"]"#),
        ("CDATA end", "]]>", #"a[\"]]\u003e\"]"#),
        ("ampersand and entity", "&amp; &lt;", #"a[\"\u0026amp; \u0026lt;\"]"#),
        ("line and paragraph separators", "a\u{2028}b\u{2029}c", #"a[\"a\\u2028b\\u2029c\"]"#),
        ("zero-width and specials", "\u{200C}\u{FEFF}\u{FFFF}", #"a[\"\\u200c"# + "\u{FEFF}" + #"\\uffff\"]"#),
        ("apostrophe, slash, backtick", "'/`${x}", #"a[\"'/`${x}\"]"#),
        ("non-ASCII and astral", "é日本😀", #"a[\"é日本😀\"]"#),
    ]

    @Test("every character class, byte for byte, through htmlfile and jsonp", arguments: 0..<golden.count)
    func goldenBytes(index: Int) {
        let (name, text, literal) = Self.golden[index]
        let frame = SockJSFrame.messages([SockJSPreparedMessage(text)])
        #expect(htmlfile(frame) == "<script>\np(\"" + literal + "\");\n</script>\r\n", "\(name)")
        #expect(jsonp(frame) == "/**/_jp.a1b2c3(\"" + literal + "\");\r\n", "\(name)")
    }

    @Test("a close frame's reason is escaped the same way")
    func closeReason() {
        let frame = SockJSFrame.close(SockJSCloseFrame(code: 3000, reason: "</script>&"))
        #expect(htmlfile(frame) == "<script>\np(\"c[3000,\\\"\\u003c/script\\u003e\\u0026\\\"]\");\n</script>\r\n")
        #expect(jsonp(frame) == "/**/_jp.a1b2c3(\"c[3000,\\\"\\u003c/script\\u003e\\u0026\\\"]\");\r\n")
    }

    @Test("a batch of messages and the open and heartbeat frames")
    func otherFrames() {
        #expect(htmlfile(.open) == "<script>\np(\"o\");\n</script>\r\n")
        #expect(jsonp(.heartbeat) == "/**/_jp.a1b2c3(\"h\");\r\n")
        let batch = SockJSPreparedMessage(batch: ["<b>", "&"])
        #expect(htmlfile(.messages([batch])) == #"<script>"# + "\n" + #"p("a[\"\u003cb\u003e\",\"\u0026\"]");"# + "\n</script>\r\n")
    }

    /// Every scalar up to U+30FF and a few beyond: nothing between `p(` and `);` can end the
    /// script block or a JavaScript line, and the script reads back exactly the frame.
    @Test("no character can leave the string, and the string reads back as the frame")
    func everyCharacter() throws {
        var text = ""
        for value in UInt32(0)...0x30FF {
            if let scalar = Unicode.Scalar(value) { text.unicodeScalars.append(scalar) }
        }
        text += "\u{FFF0}\u{FFFD}\u{10FFFF}😀"
        let prepared = SockJSPreparedMessage(text)
        for flavour in [SockJSFrameFlavour.htmlfile, .jsonp(callback: "cb")] {
            let wire = String(buffer: prepared.frame(for: flavour, allocator: allocator))
            let (open, close) = flavour == .htmlfile ? ("<script>\np(", ");\n</script>\r\n") : ("/**/cb(", ");\r\n")
            #expect(wire.hasPrefix(open) && wire.hasSuffix(close))
            let literal = String(wire.dropFirst(open.count).dropLast(close.count))
            for forbidden in ["<", ">", "&", "\u{2028}", "\u{2029}", "\n", "\r"] {
                #expect(!literal.contains(forbidden), "\(flavour) leaks \(forbidden.unicodeScalars.first!.value)")
            }
            // The literal is a JSON string: decode it, then the frame, as the browser does.
            let frame = try #require(try JSONSerialization.jsonObject(with: Data(literal.utf8), options: .fragmentsAllowed) as? String)
            #expect(frame.hasPrefix("a["))
            let messages = try #require(try JSONSerialization.jsonObject(with: Data(frame.dropFirst().utf8)) as? [String])
            #expect(messages == [text])
        }
    }

    @Test("other transports keep the protocol's escaping: < > & stay as they are")
    func otherTransportsUnchanged() {
        let frame = SockJSFrame.messages([SockJSPreparedMessage("<a&b>")])
        #expect(String(buffer: SockJSFrameFlavour.newline.wrap(frame, allocator: allocator)!) == "a[\"<a&b>\"]\n")
        #expect(String(buffer: SockJSFrameFlavour.eventSource.wrap(frame, allocator: allocator)!) == "data: a[\"<a&b>\"]\r\n\r\n")
    }
}

import SockJSWire
import Testing

@Suite struct SockJSFrameTests {
    @Test func parsesEveryFrameType() throws {
        #expect(try SockJSFrame.parse("o") == .open)
        #expect(try SockJSFrame.parse("h") == .heartbeat)
        #expect(try SockJSFrame.parse(#"a["x","y"]"#) == .messages(["x", "y"]))
        #expect(
            try SockJSFrame.parse(#"c[2010,"Another connection still open"]"#)
                == .close(code: 2010, reason: "Another connection still open"))
    }

    @Test func treatsTheXHRStreamingPreludeAsAHeartbeat() throws {
        #expect(try SockJSFrame.parse(String(repeating: "h", count: 2048)) == .heartbeat)
    }

    @Test func rejectsWhatNoServerSends() {
        #expect(throws: SockJSFrame.ParseError.empty) { try SockJSFrame.parse("") }
        #expect(throws: SockJSFrame.ParseError.unknownType(UInt8(ascii: "x"))) { try SockJSFrame.parse("x") }
        #expect(throws: SockJSFrame.ParseError.unknownType(UInt8(ascii: "o"))) { try SockJSFrame.parse("oo") }
        #expect(throws: SockJSFrame.ParseError.badBody(.unexpectedEnd)) { try SockJSFrame.parse("a[") }
    }

    @Test(
        "a frame's text parses back to the frame",
        arguments: [
            SockJSFrame.open, .heartbeat, .messages([]), .messages(["x", "q\"\\ \u{2028} 😀 \u{1}"]),
            .close(code: 3000, reason: "Go away!"), .close(code: -7, reason: "\u{FFFF}<>&"),
        ])
    func textRoundTrips(_ frame: SockJSFrame) throws {
        #expect(try SockJSFrame.parse(utf8: frame.text) == frame)
    }

    @Test func closeTextIsWhatTheServerSends() {
        #expect(String(decoding: SockJSFrame.closeText(code: 3000, reason: "Go away!"), as: UTF8.self) == #"c[3000,"Go away!"]"#)
        #expect(String(decoding: SockJSFrame.close(code: 1002, reason: "a\u{2028}b").text, as: UTF8.self) == #"c[1002,"a\u2028b"]"#)
    }
}

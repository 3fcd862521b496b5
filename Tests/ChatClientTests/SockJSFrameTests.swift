import Testing

@testable import ChatClient

@Suite struct SockJSFrameTests {
    @Test func parsesEveryFrameType() throws {
        #expect(try SockJSFrame.parse("o") == .open)
        #expect(try SockJSFrame.parse("h") == .heartbeat)
        #expect(try SockJSFrame.parse(#"a["x","y"]"#) == .messages(["x", "y"]))
        #expect(try SockJSFrame.parse(#"c[2010,"Another connection still open"]"#)
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
}

import Testing

@testable import ChatClient

@Suite struct SockJSJSONTests {
    @Test func parsesAnArrayOfPlainStrings() throws {
        #expect(try SockJSJSON.parseStringArray(#"["a","bc", "" ]"#) == ["a", "bc", ""])
        #expect(try SockJSJSON.parseStringArray("[]") == [])
    }

    @Test func decodesEveryEscapeIncludingSurrogatePairs() throws {
        let parsed = try SockJSJSON.parseStringArray(#"["q\"b\\s\/n\nr\rt\tb\bf\f","\u00e9\u2028","\ud83d\ude00"]"#)
        #expect(parsed == ["q\"b\\s/n\nr\rt\tb\u{08}f\u{0C}", "é\u{2028}", "😀"])
    }

    @Test func keepsMultibyteUTF8Intact() throws {
        #expect(try SockJSJSON.parseStringArray(#"["żółw 🐢","{\"type\":\"say\"}"]"#) == ["żółw 🐢", #"{"type":"say"}"#])
    }

    @Test func rejectsMalformedArrays() {
        #expect(throws: SockJSJSON.ParseError.unexpectedEnd) { try SockJSJSON.parseStringArray(#"["a""#) }
        #expect(throws: SockJSJSON.ParseError.unexpectedByte(offset: 5)) { try SockJSJSON.parseStringArray(#"["a" "b"]"#) }
        #expect(throws: SockJSJSON.ParseError.badEscape(offset: 2)) { try SockJSJSON.parseStringArray(#"["\x"]"#) }
        #expect(throws: SockJSJSON.ParseError.badEscape(offset: 2)) { try SockJSJSON.parseStringArray(#"["\ud83d"]"#) }
        #expect(throws: SockJSJSON.ParseError.unexpectedByte(offset: 5)) { try SockJSJSON.parseStringArray(#"["a"]x"#) }
    }

    @Test func parsesCloseBodies() throws {
        let (code, reason) = try SockJSJSON.parseClose(#"[3000,"Go away!"]"#)
        #expect(code == 3000)
        #expect(reason == "Go away!")
    }

    @Test func encodingRoundTripsThroughTheParser() throws {
        let strings = ["plain", "quote \" backslash \\ slash /", "ctl \u{01}\u{1F} nl \n", "sep \u{2028}\u{2029}", "😀 żółw", ""]
        let encoded = SockJSJSON.encodeStringArray(strings)
        #expect(!encoded.contains("\u{2028}"))
        #expect(try SockJSJSON.parseStringArray(encoded) == strings)
    }
}

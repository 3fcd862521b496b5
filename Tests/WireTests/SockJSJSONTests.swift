import SockJSWire
import Testing

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
        #expect(throws: SockJSJSON.ParseError.unexpectedByte(offset: 3)) { try SockJSJSON.parseStringArray("[\"a\u{01}\"]") }
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

    /// A SockJS message is a JavaScript string, which may hold a lone UTF-16 surrogate: both
    /// sides read one as U+FFFD instead of refusing the whole frame (the server always did).
    @Test func loneSurrogatesReadAsTheReplacementCharacter() throws {
        #expect(try SockJSJSON.parseStringArray(#"["\ud83d"]"#) == ["\u{FFFD}"])
        #expect(try SockJSJSON.parseStringArray(#"["\ud83dx\udc00"]"#) == ["\u{FFFD}x\u{FFFD}"])
        #expect(try SockJSJSON.decodeMessages(Array(#"["\ud83d\ud83d\ude00"]"#.utf8), allowSingleString: false) == ["\u{FFFD}😀"])
    }

    @Test func clientAndServerEscapeAlike() {
        // One escaper: what a client posts is what a server would write for the same strings.
        let strings = ["\u{8}\u{C}\u{7F}\u{80}\u{9F}", "\u{200C}\u{FEFF}\u{FFF0}", "<script>&"]
        #expect(SockJSJSON.encodeStringArray(strings) == #"["\b\f\#u{7F}\#u{80}\#u{9F}","\u200c\#u{FEFF}\ufff0","<script>&"]"#)
        var scriptSafe: [UInt8] = []
        SockJSJSON.appendQuoted("</script>", to: &scriptSafe, forScript: true)
        #expect(String(decoding: scriptSafe, as: UTF8.self) == #""\u003c/script\u003e""#)
    }

    @Test func decodeMessagesSaysEmptyOrBroken() throws {
        #expect(throws: SockJSJSON.DecodingError.empty) { try SockJSJSON.decodeMessages(Array(" \n".utf8), allowSingleString: true) }
        #expect(throws: SockJSJSON.DecodingError.broken) { try SockJSJSON.decodeMessages(Array(#"["a",]"#.utf8), allowSingleString: false) }
        #expect(throws: SockJSJSON.DecodingError.broken) { try SockJSJSON.decodeMessages(Array(#""a" x"#.utf8), allowSingleString: true) }
        #expect(try SockJSJSON.decodeMessages(Array(#" "a" "#.utf8), allowSingleString: true) == ["a"])
    }
}

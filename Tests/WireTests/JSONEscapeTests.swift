import Testing
import WireJSON

/// The one JSON escape decoder that every hand-written JSON reader (``JSONReader``) shares.
@Suite("JSON string escapes")
struct JSONEscapeTests {
    /// Decodes the escape in `text` (which starts right after a backslash).
    static func decode(_ text: String, loneSurrogate: Unicode.Scalar? = nil) -> (JSONEscape.Outcome, String, Int) {
        let bytes = Array(text.utf8)
        var index = 0
        var out: [UInt8] = []
        let outcome = JSONEscape.decode(bytes, at: &index, into: &out, loneSurrogate: loneSurrogate)
        return (outcome, String(decoding: out, as: UTF8.self), index)
    }

    @Test(arguments: [
        ("n", "\n"), ("t", "\t"), ("\"", "\""), ("\\", "\\"), ("/", "/"), ("b", "\u{8}"), ("f", "\u{C}"), ("r", "\r"),
        ("u00e9", "é"), ("u20AC", "€"), ("ud83d\\ude00", "😀"),
    ])
    func everyJSONEscapeDecodesToItsCharacter(_ escape: String, _ expected: String) {
        let (outcome, text, index) = Self.decode(escape + "rest")
        #expect(outcome == .decoded)
        #expect(text == expected)
        #expect(index == escape.utf8.count)
    }

    @Test func anEscapeCutShortIsTruncated() {
        for text in ["", "u00", "ud83d\\u12"] {
            #expect(Self.decode(text).0 == .truncated, "\(text)")
        }
    }

    @Test func badEscapesAreInvalid() {
        for text in ["x", "u12g4", "ud83dx", "ud83d\\u0041", "ude00"] {
            #expect(Self.decode(text).0 == .invalid, "\(text)")
        }
    }

    @Test func aLoneLowSurrogateBecomesTheReplacementWhenOneIsGiven() {
        let (outcome, text, _) = Self.decode("ude00", loneSurrogate: "\u{FFFD}")
        #expect(outcome == .decoded)
        #expect(text == "\u{FFFD}")
    }

    @Test(
        "a lone high surrogate becomes the replacement and leaves what follows it to the next escape",
        arguments: ["ud83dx", "ud83d\\u0041", "ud83d\\ud83d\\ude00", "ud83d\\n"])
    func aLoneHighSurrogateBecomesTheReplacementWhenOneIsGiven(_ escape: String) {
        let (outcome, text, index) = Self.decode(escape, loneSurrogate: "\u{FFFD}")
        #expect(outcome == .decoded)
        #expect(text == "\u{FFFD}")
        #expect(index == 5)
    }

    @Test func aBrokenEscapeAfterAHighSurrogateIsStillAnError() {
        #expect(Self.decode("ud83d\\u12g4", loneSurrogate: "\u{FFFD}").0 == .invalid)
        #expect(Self.decode("ud83d\\u12", loneSurrogate: "\u{FFFD}").0 == .truncated)
    }
}

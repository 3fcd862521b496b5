import WireJSON

/// The JSON of SockJS framing, one codec for the server and the client: a JSON array of
/// strings (what a client sends, the body of `a[...]`), one string (what a websocket client
/// may send), and `[code,"reason"]` (the body of `c[...]`).
///
/// SockJS carries application messages as JSON strings. Outbound, more is escaped than JSON
/// requires: control characters and the code points that browsers or proxies mangle
/// (U+200C–U+200F, U+2028–U+202F, U+2060–U+206F, U+FFF0–U+FFFF). Inbound, lone surrogates in
/// `\u` escapes become U+FFFD (a Swift `String` holds Unicode scalars only).
///
/// Hand-written, not `JSONDecoder`/`JSONEncoder`: every message crosses it, and these shapes are
/// all that SockJS framing uses (Specs/sockjs.md, "The wire codec"). Pure functions, no state,
/// no SwiftNIO: the server writes the escaped form straight into its buffers through
/// ``quotedCount(utf8:forScript:)`` and ``writeQuoted(utf8:forScript:into:)``.
public enum SockJSJSON {
    /// Why a payload a client sent was refused (the server's two answers).
    public enum DecodingError: Error, Equatable, Sendable {
        /// The payload was empty (`Payload expected.` in the protocol's words).
        case empty
        /// The payload was not a JSON string or array of strings.
        case broken
    }

    /// Errors from parsing a frame body, with the offset where it went wrong.
    public typealias ParseError = JSONReader.Error

    // MARK: Reading

    /// Decodes a payload sent by a client: a JSON array of strings, or (websocket only, when
    /// `allowSingleString`) one string.
    public static func decodeMessages(_ bytes: [UInt8], allowSingleString: Bool) throws(DecodingError) -> [String] {
        var reader = JSONReader(bytes: bytes, loneSurrogates: .replace)
        guard !reader.atEnd() else { throw .empty }
        do {
            if allowSingleString, try reader.peek() == UInt8(ascii: "\"") {
                let message = try reader.string()
                try reader.expectEnd()
                return [message]
            }
            return try reader.stringArray()
        } catch {
            throw .broken
        }
    }

    /// Parses a JSON array of strings, such as the body of an `a[...]` frame.
    public static func parseStringArray(_ text: some StringProtocol) throws(ParseError) -> [String] {
        try parseStringArray(utf8: Array(text.utf8), from: 0)
    }

    /// Parses a JSON array of strings from UTF-8 bytes, starting at `start`.
    public static func parseStringArray(utf8 bytes: [UInt8], from start: Int) throws(ParseError) -> [String] {
        var reader = JSONReader(bytes: bytes, index: start, loneSurrogates: .replace)
        return try reader.stringArray()
    }

    /// Parses the body of a close frame, `[3000,"Go away!"]`.
    public static func parseClose(_ text: some StringProtocol) throws(ParseError) -> (code: Int, reason: String) {
        try parseClose(utf8: Array(text.utf8), from: 0)
    }

    /// Parses the body of a close frame from UTF-8 bytes, starting at `start`.
    public static func parseClose(utf8 bytes: [UInt8], from start: Int) throws(ParseError) -> (code: Int, reason: String) {
        var reader = JSONReader(bytes: bytes, index: start, loneSurrogates: .replace)
        try reader.expect(UInt8(ascii: "["))
        let codeStart = reader.index
        let code = try reader.integer()
        guard let fitting = Int(exactly: code) else { throw .unexpectedByte(offset: codeStart) }
        try reader.expect(UInt8(ascii: ","))
        let reason = try reader.string()
        try reader.expect(UInt8(ascii: "]"))
        try reader.expectEnd()
        return (fitting, reason)
    }

    // MARK: Writing

    /// Encodes strings as a JSON array, the body a client POSTs or writes to a websocket.
    public static func encodeStringArray<S: Sequence<String>>(_ strings: S) -> String {
        var out: [UInt8] = [UInt8(ascii: "[")]
        var first = true
        for string in strings {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            appendQuoted(string, to: &out)
        }
        out.append(UInt8(ascii: "]"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `text` as a quoted, escaped JSON string.
    public static func appendQuoted(_ text: String, to out: inout String) {
        var bytes: [UInt8] = []
        appendQuoted(text, to: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `text` as a quoted, escaped JSON string.
    public static func appendQuoted(_ text: String, to out: inout [UInt8], forScript: Bool = false) {
        var text = text
        text.withUTF8 { utf8 in
            let size = quotedCount(utf8: utf8, forScript: forScript)
            let start = out.count
            out.append(contentsOf: repeatElement(0, count: size))
            out.withUnsafeMutableBytes { all in
                _ = writeQuoted(utf8: utf8, forScript: forScript, into: UnsafeMutableRawBufferPointer(rebasing: all[start...]))
            }
        }
    }

    /// How many bytes the quoted, escaped form of `utf8` takes, quotes included. With
    /// `forScript`, `<`, `>` and `&` are escaped too (`\u003c` ...), so the string is safe
    /// inside an HTML `<script>` block and in a script a page includes (`htmlfile`, `jsonp`):
    /// no frame can close the script (`</script>`), open a comment (`<!--`) or end one (`-->`).
    public static func quotedCount(utf8 bytes: UnsafeBufferPointer<UInt8>, forScript: Bool) -> Int {
        var size = 2
        var index = 0
        while index < bytes.count {
            let (width, consumed) = escapedWidth(bytes, at: index, forScript: forScript)
            size += width
            index += consumed
        }
        return size
    }

    /// Writes the quoted, escaped form of `utf8` at the start of `out`, which holds at least
    /// ``quotedCount(utf8:forScript:)`` bytes; returns how many bytes it wrote. Two passes (this
    /// and the count) and one copy, not a write call per run: a large frame (a welcome with a
    /// big roster, a quote every few bytes) costs two scans.
    @discardableResult
    public static func writeQuoted(utf8 bytes: UnsafeBufferPointer<UInt8>, forScript: Bool, into out: UnsafeMutableRawBufferPointer) -> Int {
        out[0] = UInt8(ascii: "\"")
        var written = 1
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            let (width, consumed) = escapedWidth(bytes, at: index, forScript: forScript)
            if width == consumed {
                // Verbatim (plain ASCII or any UTF-8 sequence that needs no escape).
                for offset in 0..<consumed { out[written + offset] = bytes[index + offset] }
            } else if width == 2 {
                out[written] = UInt8(ascii: "\\")
                switch byte {
                case 0x22: out[written + 1] = UInt8(ascii: "\"")
                case 0x5C: out[written + 1] = UInt8(ascii: "\\")
                case 0x0A: out[written + 1] = UInt8(ascii: "n")
                case 0x0D: out[written + 1] = UInt8(ascii: "r")
                case 0x09: out[written + 1] = UInt8(ascii: "t")
                case 0x08: out[written + 1] = UInt8(ascii: "b")
                default: out[written + 1] = UInt8(ascii: "f")
                }
            } else {
                let v = consumed == 1 ? UInt32(byte) : scalar3(bytes, at: index)
                out[written] = UInt8(ascii: "\\")
                out[written + 1] = UInt8(ascii: "u")
                out[written + 2] = hex[Int((v >> 12) & 0xF)]
                out[written + 3] = hex[Int((v >> 8) & 0xF)]
                out[written + 4] = hex[Int((v >> 4) & 0xF)]
                out[written + 5] = hex[Int(v & 0xF)]
            }
            written += width
            index += consumed
        }
        out[written] = UInt8(ascii: "\"")
        return written + 1
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// How many bytes the escaped form of the input at `index` takes, and how many input bytes
    /// it stands for. Escaped: `"`, `\`, control characters, `<` `>` `&` `forScript`, and the code points SockJS names
    /// (U+200C–U+200F, U+2028–U+202F, U+2060–U+206F, U+FFF0–U+FFFF: three-byte sequences led
    /// by E2 or EF). Everything else is copied verbatim.
    @inline(__always)
    private static func escapedWidth(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int, forScript: Bool) -> (width: Int, consumed: Int) {
        let byte = bytes[index]
        switch byte {
        case 0x22, 0x5C, 0x0A, 0x0D, 0x09, 0x08, 0x0C: return (2, 1)
        case 0x00..<0x20: return (6, 1)
        case 0x3C, 0x3E, 0x26: return forScript ? (6, 1) : (1, 1)
        case 0x20..<0x80: return (1, 1)
        case 0xE2, 0xEF:
            guard index + 2 < bytes.count else { return (1, 1) }
            switch scalar3(bytes, at: index) {
            case 0x200C...0x200F, 0x2028...0x202F, 0x2060...0x206F, 0xFFF0...0xFFFF: return (6, 3)
            default: return (3, 3)
            }
        default:
            // Another lead byte or a continuation byte: copied as is.
            return (1, 1)
        }
    }

    /// The code point of the three-byte UTF-8 sequence at `index`.
    @inline(__always)
    private static func scalar3(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> UInt32 {
        (UInt32(bytes[index] & 0x0F) << 12) | (UInt32(bytes[index + 1] & 0x3F) << 6) | UInt32(bytes[index + 2] & 0x3F)
    }
}

import NIOCore

/// JSON string encoding and message-array decoding, exactly as SockJS needs them.
///
/// SockJS carries application messages as JSON strings. Outbound, the server must escape
/// more than JSON requires: control characters and the code points that browsers or
/// proxies mangle (U+200C–U+200F, U+2028–U+202F, U+2060–U+206F, U+FFF0–U+FFFF).
/// Inbound, a client sends a JSON array of strings (or a single string on websocket).
enum SockJSJSON {
    /// Why an inbound payload was refused.
    enum DecodingError: Error, Equatable {
        /// The payload was empty (`Payload expected.` in the protocol's words).
        case empty
        /// The payload was not a JSON string or array of strings.
        case broken
    }

    /// Appends `text` as a quoted, escaped JSON string to `buffer`.
    static func appendQuoted(_ text: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x80 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            buffer.writeString(text)
        } else {
            appendEscaped(text, to: &buffer)
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    /// The quoted, escaped JSON form of `text` as a byte buffer.
    static func quoted(_ text: String, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: text.utf8.count + 2)
        appendQuoted(text, to: &buffer)
        return buffer
    }

    /// Appends the bytes of `raw` (already UTF-8 text, e.g. an encoded frame) as a quoted JSON string.
    static func appendQuoted(bytes raw: ByteBuffer, to buffer: inout ByteBuffer) {
        appendQuoted(String(buffer: raw), to: &buffer)
    }

    /// Appends the bytes of `raw` as a quoted string that is safe inside an HTML `<script>`
    /// block and in a script a page includes (`htmlfile`, `jsonp`): besides what
    /// ``appendQuoted(_:to:)`` escapes, `<`, `>` and `&` become `\u003c`, `\u003e`, `\u0026`, so
    /// no frame can close the script (`</script>`), open a comment (`<!--`) or end one (`-->`).
    /// U+2028 and U+2029 (line terminators to older JavaScript) are escaped as always.
    /// The script reads the same string either way.
    static func appendScriptQuoted(bytes raw: ByteBuffer, to buffer: inout ByteBuffer) {
        let text = String(buffer: raw)
        buffer.writeInteger(UInt8(ascii: "\""))
        appendEscaped(text, to: &buffer, forScript: true)
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Escapes in two passes over the UTF-8 bytes: the first measures the output, the second
    /// writes it straight into the buffer's memory. A large frame (a welcome with a big roster,
    /// a quote every few bytes) then costs two scans and one copy, not a write call per run.
    private static func appendEscaped(_ text: String, to buffer: inout ByteBuffer, forScript: Bool = false) {
        var text = text
        text.withUTF8 { bytes in
            var size = 0
            var index = 0
            while index < bytes.count {
                let (width, consumed) = escapedWidth(bytes, at: index, forScript: forScript)
                size += width
                index += consumed
            }
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                var written = 0
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
                return written
            }
        }
    }

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

    /// Decodes a payload sent by a client: a JSON array of strings, or (websocket only) one string.
    ///
    /// Lone surrogates in `\u` escapes become U+FFFD: a Swift `String` holds Unicode scalars only.
    static func decodeMessages(_ bytes: ByteBuffer, allowSingleString: Bool) throws(DecodingError) -> [String] {
        let view = bytes.readableBytesView
        return try decodeMessages(Array(view), allowSingleString: allowSingleString)
    }

    /// Decodes a payload given as bytes; see ``decodeMessages(_:allowSingleString:)``.
    static func decodeMessages(_ bytes: [UInt8], allowSingleString: Bool) throws(DecodingError) -> [String] {
        var parser = Parser(bytes: bytes)
        parser.skipWhitespace()
        guard !parser.atEnd else { throw .empty }
        var result: [String] = []
        if parser.peek == UInt8(ascii: "[") {
            parser.index += 1
            parser.skipWhitespace()
            if parser.peek == UInt8(ascii: "]") {
                parser.index += 1
            } else {
                while true {
                    parser.skipWhitespace()
                    result.append(try parser.parseString())
                    parser.skipWhitespace()
                    guard let next = parser.peek else { throw .broken }
                    parser.index += 1
                    if next == UInt8(ascii: "]") { break }
                    guard next == UInt8(ascii: ",") else { throw .broken }
                }
            }
        } else if allowSingleString, parser.peek == UInt8(ascii: "\"") {
            result.append(try parser.parseString())
        } else {
            throw .broken
        }
        parser.skipWhitespace()
        guard parser.atEnd else { throw .broken }
        return result
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        var atEnd: Bool { index >= bytes.count }
        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func parseString() throws(DecodingError) -> String {
            guard peek == UInt8(ascii: "\"") else { throw .broken }
            index += 1
            var out: [UInt8] = []
            out.reserveCapacity(16)
            var pendingHigh: UInt32? = nil
            func flushHigh(_ out: inout [UInt8]) {
                if pendingHigh != nil {
                    appendScalar(0xFFFD, to: &out)
                    pendingHigh = nil
                }
            }
            while true {
                guard index < bytes.count else { throw .broken }
                let b = bytes[index]
                index += 1
                switch b {
                case UInt8(ascii: "\""):
                    flushHigh(&out)
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { throw .broken }
                    let e = bytes[index]
                    index += 1
                    if e == UInt8(ascii: "u") {
                        let unit = try parseHex4()
                        if (0xD800...0xDBFF).contains(unit) {
                            flushHigh(&out)
                            pendingHigh = unit
                        } else if (0xDC00...0xDFFF).contains(unit) {
                            if let high = pendingHigh {
                                let scalar = 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00)
                                appendScalar(scalar, to: &out)
                                pendingHigh = nil
                            } else {
                                appendScalar(0xFFFD, to: &out)
                            }
                        } else {
                            flushHigh(&out)
                            appendScalar(unit, to: &out)
                        }
                        continue
                    }
                    flushHigh(&out)
                    switch e {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    default: throw .broken
                    }
                case 0x00..<0x20:
                    throw .broken
                default:
                    flushHigh(&out)
                    out.append(b)
                }
            }
        }

        mutating func parseHex4() throws(DecodingError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw .broken }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[index]
                index += 1
                let digit: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw .broken
                }
                value = value << 4 | digit
            }
            return value
        }

        func appendScalar(_ value: UInt32, to out: inout [UInt8]) {
            let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
            out.append(contentsOf: String(scalar).utf8)
        }
    }
}

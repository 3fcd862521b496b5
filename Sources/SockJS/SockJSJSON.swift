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

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Escapes by runs: bytes that need no escape are copied in one write per run, so a large
    /// frame (a welcome with a big roster) costs little more than a copy.
    private static func appendEscaped(_ text: String, to buffer: inout ByteBuffer) {
        var text = text
        text.withUTF8 { bytes in
            buffer.reserveCapacity(minimumWritableBytes: bytes.count + 16)
            var runStart = 0
            var index = 0
            let count = bytes.count
            func flushRun(upTo end: Int) {
                if end > runStart { buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[runStart..<end]))) }
            }
            while index < count {
                let byte = bytes[index]
                if byte >= 0x80 {
                    // Multi-byte UTF-8 (the string is valid, so a lead byte has its continuation
                    // bytes). Only three-byte sequences of E2 80/81 and EF BF hold code points
                    // that SockJS escapes.
                    let scalar: UInt32
                    if (byte == 0xE2 || byte == 0xEF) && index + 2 < count {
                        scalar = (UInt32(byte & 0x0F) << 12) | (UInt32(bytes[index + 1] & 0x3F) << 6) | UInt32(bytes[index + 2] & 0x3F)
                    } else {
                        scalar = 0
                    }
                    switch scalar {
                    case 0x200C...0x200F, 0x2028...0x202F, 0x2060...0x206F, 0xFFF0...0xFFFF:
                        flushRun(upTo: index)
                        writeUnicodeEscape(scalar, to: &buffer)
                        index += 3
                        runStart = index
                    default:
                        index += 1
                    }
                    continue
                }
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C else {
                    index += 1
                    continue
                }
                flushRun(upTo: index)
                switch byte {
                case 0x22: buffer.writeStaticString("\\\"")
                case 0x5C: buffer.writeStaticString("\\\\")
                case 0x0A: buffer.writeStaticString("\\n")
                case 0x0D: buffer.writeStaticString("\\r")
                case 0x09: buffer.writeStaticString("\\t")
                case 0x08: buffer.writeStaticString("\\b")
                case 0x0C: buffer.writeStaticString("\\f")
                default: writeUnicodeEscape(UInt32(byte), to: &buffer)
                }
                index += 1
                runStart = index
            }
            flushRun(upTo: count)
        }
    }

    private static func writeUnicodeEscape(_ v: UInt32, to buffer: inout ByteBuffer) {
        buffer.writeStaticString("\\u")
        buffer.writeInteger(hex[Int((v >> 12) & 0xF)])
        buffer.writeInteger(hex[Int((v >> 8) & 0xF)])
        buffer.writeInteger(hex[Int((v >> 4) & 0xF)])
        buffer.writeInteger(hex[Int(v & 0xF)])
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

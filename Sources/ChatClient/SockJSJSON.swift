import Chat

/// The little JSON that SockJS framing needs: an array of strings (`a[...]`, and what a client
/// sends), and `[code,"reason"]` (`c[...]`).
///
/// Hand-written rather than `JSONDecoder` because a load client parses every frame it receives
/// and these two shapes are all that SockJS framing uses; the chat payload inside each string is
/// decoded separately. Pure functions, no state.
public enum SockJSJSON {
    /// Errors from parsing a SockJS frame body.
    public enum ParseError: Error, Equatable, Sendable {
        /// The input ended inside a value.
        case unexpectedEnd
        /// A byte that cannot appear where it was found, at this UTF-8 offset.
        case unexpectedByte(offset: Int)
        /// A `\u` escape that is not four hex digits or a broken surrogate pair.
        case badEscape(offset: Int)
    }

    /// Parses a JSON array of strings, such as the body of an `a[...]` frame.
    public static func parseStringArray(_ text: some StringProtocol) throws(ParseError) -> [String] {
        try parseStringArray(utf8: Array(text.utf8), from: 0)
    }

    /// Parses a JSON array of strings from UTF-8 bytes, starting at `start`.
    public static func parseStringArray(utf8 bytes: [UInt8], from start: Int) throws(ParseError) -> [String] {
        var parser = Parser(bytes: bytes, index: start)
        return try parser.stringArray()
    }

    /// Parses the body of a close frame, `[3000,"Go away!"]`.
    public static func parseClose(_ text: some StringProtocol) throws(ParseError) -> (code: Int, reason: String) {
        try parseClose(utf8: Array(text.utf8), from: 0)
    }

    /// Parses the body of a close frame from UTF-8 bytes, starting at `start`.
    public static func parseClose(utf8 bytes: [UInt8], from start: Int) throws(ParseError) -> (code: Int, reason: String) {
        var parser = Parser(bytes: bytes, index: start)
        try parser.expect(UInt8(ascii: "["))
        let code = try parser.integer()
        try parser.expect(UInt8(ascii: ","))
        let reason = try parser.string()
        try parser.expect(UInt8(ascii: "]"))
        try parser.expectEnd()
        return (code, reason)
    }

    /// Encodes strings as a JSON array, the body a client POSTs or writes to a websocket.
    public static func encodeStringArray<S: Sequence<String>>(_ strings: S) -> String {
        var out = "["
        var first = true
        for string in strings {
            if !first { out.append(",") }
            first = false
            appendQuoted(string, to: &out)
        }
        out.append("]")
        return out
    }

    /// Appends `string` as a JSON string literal. Escapes what JSON requires, plus the
    /// characters that SockJS servers expect escaped (U+2028, U+2029 and other invisible ones
    /// are passed as `\u` escapes so no proxy or JavaScript parser mangles them).
    public static func appendQuoted(_ string: String, to out: inout String) {
        out.append("\"")
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
                || (0x200C...0x200F).contains(scalar.value) || (0x2028...0x202F).contains(scalar.value)
                || (0x2060...0x206F).contains(scalar.value) || (0xFFF0...0xFFFF).contains(scalar.value)
                || (0xD800...0xDFFF).contains(scalar.value):
                out.append("\\u")
                let hex = String(scalar.value, radix: 16)
                out.append(String(repeating: "0", count: 4 - hex.count))
                out.append(hex)
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out.append("\"")
    }

    struct Parser {
        let bytes: [UInt8]
        var index: Int

        init(bytes: [UInt8], index: Int = 0) {
            self.bytes = bytes
            self.index = index
        }

        mutating func skipSpace() {
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): index += 1
                default: return
                }
            }
        }

        mutating func expect(_ byte: UInt8) throws(ParseError) {
            skipSpace()
            guard index < bytes.count else { throw .unexpectedEnd }
            guard bytes[index] == byte else { throw .unexpectedByte(offset: index) }
            index += 1
        }

        mutating func expectEnd() throws(ParseError) {
            skipSpace()
            guard index == bytes.count else { throw .unexpectedByte(offset: index) }
        }

        mutating func peek() throws(ParseError) -> UInt8 {
            skipSpace()
            guard index < bytes.count else { throw .unexpectedEnd }
            return bytes[index]
        }

        mutating func stringArray() throws(ParseError) -> [String] {
            try expect(UInt8(ascii: "["))
            var result: [String] = []
            if try peek() == UInt8(ascii: "]") {
                index += 1
                try expectEnd()
                return result
            }
            while true {
                result.append(try string())
                let next = try peek()
                index += 1
                if next == UInt8(ascii: "]") { break }
                guard next == UInt8(ascii: ",") else { throw .unexpectedByte(offset: index - 1) }
            }
            try expectEnd()
            return result
        }

        mutating func integer() throws(ParseError) -> Int {
            skipSpace()
            let start = index
            var negative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
                negative = true
                index += 1
            }
            var value = 0
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                let (scaled, overflow) = value.multipliedReportingOverflow(by: 10)
                let (sum, carry) = scaled.addingReportingOverflow(Int(bytes[index] - UInt8(ascii: "0")))
                guard !overflow, !carry else { throw .unexpectedByte(offset: index) }
                value = sum
                index += 1
            }
            guard index > start + (negative ? 1 : 0) else {
                if index >= bytes.count { throw .unexpectedEnd }
                throw .unexpectedByte(offset: index)
            }
            return negative ? -value : value
        }

        mutating func string() throws(ParseError) -> String {
            try expect(UInt8(ascii: "\""))
            // Every message a load client receives passes through here (a chat frame inside a
            // SockJS string is full of escaped quotes), so it works on raw memory: one scan finds
            // the closing quote (and whether anything is escaped), then the common escapes are
            // decoded straight into the new string's storage; `\u` escapes take the general path.
            let start = index
            let scan: (close: Int, escaped: Bool)? = bytes.withUnsafeBufferPointer { buffer in
                var at = start
                var escaped = false
                while at < buffer.count {
                    switch buffer[at] {
                    case UInt8(ascii: "\""): return (at, escaped)
                    case UInt8(ascii: "\\"):
                        escaped = true
                        at += 2
                    default: at += 1
                    }
                }
                return nil
            }
            guard let scan else { throw .unexpectedEnd }
            if !scan.escaped {
                index = scan.close + 1
                return bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[start..<scan.close]), as: UTF8.self) }
            }
            var simple = true
            let decoded = bytes.withUnsafeBufferPointer { buffer in
                String(unsafeUninitializedCapacity: scan.close - start) { out in
                    var count = 0
                    var at = start
                    while at < scan.close {
                        var byte = buffer[at]
                        if byte == UInt8(ascii: "\\") {
                            at += 1
                            switch buffer[at] {
                            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): byte = buffer[at]
                            case UInt8(ascii: "n"): byte = 0x0A
                            case UInt8(ascii: "t"): byte = 0x09
                            case UInt8(ascii: "r"): byte = 0x0D
                            case UInt8(ascii: "b"): byte = 0x08
                            case UInt8(ascii: "f"): byte = 0x0C
                            default:
                                simple = false
                                return 0
                            }
                        }
                        out[count] = byte
                        count += 1
                        at += 1
                    }
                    return count
                }
            }
            if simple {
                index = scan.close + 1
                return decoded
            }
            return try escapedString(from: start)
        }

        /// The general path for a string with `\u` escapes, from just after its opening quote.
        private mutating func escapedString(from start: Int) throws(ParseError) -> String {
            index = start
            var out: [UInt8] = []
            while index < bytes.count {
                let runStart = index
                while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\") { index += 1 }
                if index > runStart { out.append(contentsOf: bytes[runStart..<index]) }
                guard index < bytes.count else { break }
                if bytes[index] == UInt8(ascii: "\"") {
                    index += 1
                    return String(decoding: out, as: UTF8.self)
                }
                index += 1
                let escapeStart = index - 1
                // A lone low surrogate cannot be represented in a Swift String: U+FFFD.
                switch JSONEscape.decode(bytes, at: &index, into: &out, loneLowSurrogate: "\u{FFFD}") {
                case .decoded: continue
                case .truncated: throw .unexpectedEnd
                case .invalid: throw .badEscape(offset: escapeStart)
                }
            }
            throw .unexpectedEnd
        }

        /// A JSON value that a flat object may hold.
        enum FlatValue {
            case string(String)
            case integer(Int)
            case bool(Bool)
            case null
        }

        /// Parses `{"key": value, ...}` whose values are strings, integers, booleans or null,
        /// calling `visit` for each member. Returns false (and stops) at anything else: a
        /// nested value, a fraction, or broken JSON.
        mutating func flatObject(_ visit: (String, FlatValue) -> Void) -> Bool {
            do {
                try expect(UInt8(ascii: "{"))
                if try peek() == UInt8(ascii: "}") {
                    index += 1
                    try expectEnd()
                    return true
                }
                while true {
                    let key = try knownKey() ?? string()
                    try expect(UInt8(ascii: ":"))
                    let value: FlatValue
                    switch try peek() {
                    case UInt8(ascii: "\""):
                        value = .string(try string())
                    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                        value = .integer(try integer())
                        if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
                            return false
                        }
                    case UInt8(ascii: "t"): value = .bool(try literal("true"))
                    case UInt8(ascii: "f"): value = .bool(!(try literal("false")))
                    case UInt8(ascii: "n"):
                        _ = try literal("null")
                        value = .null
                    default:
                        return false
                    }
                    visit(key, value)
                    let next = try peek()
                    index += 1
                    if next == UInt8(ascii: "}") { break }
                    guard next == UInt8(ascii: ",") else { return false }
                }
                try expectEnd()
                return true
            } catch {
                return false
            }
        }

        /// The keys of the chat frames a client receives most, as shared constants: a key that
        /// is one of them (unescaped) is read without making a new string.
        private static let knownKeys: [(utf8: [UInt8], key: String)] =
            ["type", "msgId", "from", "room", "to", "text", "id", "ts", "seq"].map { (Array($0.utf8), $0) }

        /// Consumes a string that is exactly one of ``knownKeys`` and returns it; nil (and
        /// nothing consumed) for anything else.
        mutating func knownKey() throws(ParseError) -> String? {
            guard try peek() == UInt8(ascii: "\"") else { return nil }
            let start = index + 1
            for (utf8, key) in Self.knownKeys {
                let end = start + utf8.count
                guard end < bytes.count, bytes[end] == UInt8(ascii: "\""), bytes[start] == utf8[0] else { continue }
                var same = true
                for offset in 1..<max(1, utf8.count) where bytes[start + offset] != utf8[offset] {
                    same = false
                    break
                }
                if same {
                    index = end + 1
                    return key
                }
            }
            return nil
        }

        /// Consumes `word` (true, false, null); returns true.
        mutating func literal(_ word: StaticString) throws(ParseError) -> Bool {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw .unexpectedEnd }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] {
                throw .unexpectedByte(offset: index + offset)
            }
            index += count
            return true
        }
    }
}

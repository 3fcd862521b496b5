/// A hand-written reader of JSON text, for the few shapes the wires carry: the SockJS message
/// array (what a client sends, what `a[...]` holds), the SockJS close body, and chat frames.
///
/// Why by hand and not `JSONDecoder`: every message a server receives and every frame a load
/// client receives passes through here, and `JSONDecoder` costs several microseconds a frame
/// (see Specs/sockjs.md, "The wire codec"). The reader is strict JSON (RFC 8259) where it
/// reads: no raw control characters in strings, no leading zeros, no trailing commas; numbers
/// are integers that fit `Int64` (a fraction or exponent is refused, so a caller with a
/// fallback can leave such text to `JSONDecoder`).
///
/// The one JSON reader of the project: `SockJSWire` and `ChatProtocol` both read through it.
public struct JSONReader {
    /// Why the text could not be read.
    public enum Error: Swift.Error, Equatable, Sendable {
        /// The input ended inside a value.
        case unexpectedEnd
        /// A byte that cannot appear where it was found, at this UTF-8 offset.
        case unexpectedByte(offset: Int)
        /// A backslash escape (at this offset) that is not JSON or is a lone surrogate that
        /// the reader does not replace.
        case badEscape(offset: Int)
    }

    /// What a `\u` escape of a lone UTF-16 surrogate becomes (a Swift `String` holds Unicode
    /// scalars only).
    public enum LoneSurrogates: Sendable, Hashable {
        /// U+FFFD: what a JavaScript string that held one reads as once it is text. SockJS
        /// messages are JavaScript strings, so a lone surrogate is no reason to drop a frame.
        case replace
        /// An error: for readers with a slower, authoritative fallback.
        case refuse
    }

    /// A JSON value as ``value(maxDepth:)`` reads it. Objects keep their members in order,
    /// duplicates included (`JSONDecoder` takes the first of duplicate keys).
    public enum Value: Sendable, Equatable {
        case string(String)
        case integer(Int64)
        case bool(Bool)
        case null
        case array([Value])
        case object([Member])

        public var string: String? { if case .string(let v) = self { v } else { nil } }
        public var integer: Int64? { if case .integer(let v) = self { v } else { nil } }
        public var bool: Bool? { if case .bool(let v) = self { v } else { nil } }
        public var isNull: Bool { if case .null = self { true } else { false } }
        public var array: [Value]? { if case .array(let v) = self { v } else { nil } }
        public var members: [Member]? { if case .object(let v) = self { v } else { nil } }

        /// The elements when this is an array of strings only.
        public var strings: [String]? {
            guard let array else { return nil }
            var result: [String] = []
            result.reserveCapacity(array.count)
            for element in array {
                guard let s = element.string else { return nil }
                result.append(s)
            }
            return result
        }
    }

    /// One member of an object.
    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: Value

        public init(key: String, value: Value) {
            self.key = key
            self.value = value
        }
    }

    public let bytes: [UInt8]
    /// The offset of the next byte to read.
    public var index: Int
    public let loneSurrogates: LoneSurrogates

    public init(bytes: [UInt8], index: Int = 0, loneSurrogates: LoneSurrogates = .refuse) {
        self.bytes = bytes
        self.index = index
        self.loneSurrogates = loneSurrogates
    }

    public init(_ text: some StringProtocol, loneSurrogates: LoneSurrogates = .refuse) {
        self.init(bytes: Array(text.utf8), loneSurrogates: loneSurrogates)
    }

    /// True when only white space is left.
    public mutating func atEnd() -> Bool {
        skipSpace()
        return index >= bytes.count
    }

    public mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): index += 1
            default: return
            }
        }
    }

    /// Skips white space, then consumes `byte`.
    public mutating func expect(_ byte: UInt8) throws(Error) {
        skipSpace()
        guard index < bytes.count else { throw .unexpectedEnd }
        guard bytes[index] == byte else { throw .unexpectedByte(offset: index) }
        index += 1
    }

    /// Skips white space and requires the end of the input.
    public mutating func expectEnd() throws(Error) {
        skipSpace()
        guard index == bytes.count else { throw .unexpectedByte(offset: index) }
    }

    /// Skips white space and returns the next byte without consuming it.
    public mutating func peek() throws(Error) -> UInt8 {
        skipSpace()
        guard index < bytes.count else { throw .unexpectedEnd }
        return bytes[index]
    }

    /// `[` strings separated by `,` `]`, and nothing after it.
    public mutating func stringArray() throws(Error) -> [String] {
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

    /// A JSON integer (no fraction, no exponent, no leading zero) that fits `Int64`.
    public mutating func integer() throws(Error) -> Int64 {
        skipSpace()
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        let start = index
        var magnitude: UInt64 = 0
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            let (scaled, overflow) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, carry) = scaled.addingReportingOverflow(UInt64(bytes[index] - UInt8(ascii: "0")))
            guard !overflow, !carry else { throw .unexpectedByte(offset: index) }
            magnitude = sum
            index += 1
        }
        guard index > start else {
            if index >= bytes.count { throw .unexpectedEnd }
            throw .unexpectedByte(offset: index)
        }
        if index - start > 1, bytes[start] == UInt8(ascii: "0") { throw .unexpectedByte(offset: start) }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") || bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            throw .unexpectedByte(offset: index)
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw .unexpectedByte(offset: start) }
            return magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw .unexpectedByte(offset: start) }
        return Int64(magnitude)
    }

    /// Consumes `word` (`true`, `false`, `null`).
    public mutating func literal(_ word: StaticString) throws(Error) {
        skipSpace()
        let count = word.utf8CodeUnitCount
        for offset in 0..<count {
            guard index + offset < bytes.count else { throw .unexpectedEnd }
            guard bytes[index + offset] == word.utf8Start[offset] else { throw .unexpectedByte(offset: index + offset) }
        }
        index += count
    }

    /// A JSON string.
    public mutating func string() throws(Error) -> String {
        try expect(UInt8(ascii: "\""))
        // Every message passes through here (a chat frame inside a SockJS string is full of
        // escaped quotes), so it works on raw memory: one scan finds the closing quote (and
        // whether anything is escaped), then the common escapes are decoded straight into the
        // new string's storage; `\u` escapes take the general path.
        let start = index
        let scan: (close: Int, escaped: Bool, control: Int?)? = bytes.withUnsafeBufferPointer { buffer in
            var at = start
            var escaped = false
            while at < buffer.count {
                switch buffer[at] {
                case UInt8(ascii: "\""): return (at, escaped, nil)
                case UInt8(ascii: "\\"):
                    escaped = true
                    at += 2
                case 0x00..<0x20: return (at, escaped, at)
                default: at += 1
                }
            }
            return nil
        }
        guard let scan else { throw .unexpectedEnd }
        if let control = scan.control { throw .unexpectedByte(offset: control) }
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
    private mutating func escapedString(from start: Int) throws(Error) -> String {
        index = start
        var out: [UInt8] = []
        let replacement: Unicode.Scalar? = loneSurrogates == .replace ? "\u{FFFD}" : nil
        while index < bytes.count {
            let runStart = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\") {
                guard bytes[index] >= 0x20 else { throw .unexpectedByte(offset: index) }
                index += 1
            }
            if index > runStart { out.append(contentsOf: bytes[runStart..<index]) }
            guard index < bytes.count else { break }
            if bytes[index] == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: out, as: UTF8.self)
            }
            index += 1
            let escapeStart = index - 1
            switch JSONEscape.decode(bytes, at: &index, into: &out, loneSurrogate: replacement) {
            case .decoded: continue
            case .truncated: throw .unexpectedEnd
            case .invalid: throw .badEscape(offset: escapeStart)
            }
        }
        throw .unexpectedEnd
    }

    /// One JSON value of any kind, nested at most `maxDepth` arrays and objects deep (deeper
    /// input is an error, so hostile nesting costs no stack).
    public mutating func value(maxDepth: Int) throws(Error) -> Value {
        switch try peek() {
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .integer(try integer())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "["):
            guard maxDepth > 0 else { throw .unexpectedByte(offset: index) }
            index += 1
            var elements: [Value] = []
            if try peek() == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                elements.append(try value(maxDepth: maxDepth - 1))
                let next = try peek()
                index += 1
                if next == UInt8(ascii: "]") { return .array(elements) }
                guard next == UInt8(ascii: ",") else { throw .unexpectedByte(offset: index - 1) }
            }
        case UInt8(ascii: "{"):
            guard maxDepth > 0 else { throw .unexpectedByte(offset: index) }
            index += 1
            var members: [Member] = []
            // A chat frame has up to 9 members: one allocation instead of four regrowths.
            members.reserveCapacity(10)
            if try peek() == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                guard try peek() == UInt8(ascii: "\"") else { throw .unexpectedByte(offset: index) }
                let key = try string()
                try expect(UInt8(ascii: ":"))
                members.append(Member(key: key, value: try value(maxDepth: maxDepth - 1)))
                let next = try peek()
                index += 1
                if next == UInt8(ascii: "}") { return .object(members) }
                guard next == UInt8(ascii: ",") else { throw .unexpectedByte(offset: index - 1) }
            }
        default:
            throw .unexpectedByte(offset: index)
        }
    }

    /// The whole input as one value, with nothing but white space after it.
    public mutating func document(maxDepth: Int) throws(Error) -> Value {
        let value = try value(maxDepth: maxDepth)
        try expectEnd()
        return value
    }
}

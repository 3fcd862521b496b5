/// A JSON object whose values are all strings, integers, booleans or null, parsed by hand.
///
/// Most frames a client receives (`message`, `presence`, `sent`, `delivered`) are such flat
/// objects, and a load test decodes hundreds of thousands of them per second; `JSONDecoder`
/// costs several microseconds each. Anything this parser does not take (nested values,
/// fractions, exponents, invalid JSON) gives nil, and the caller falls back to `JSONDecoder`,
/// which also produces the proper error.
struct FlatJSONObject {
    enum Value: Equatable {
        case string(String)
        case integer(Int64)
        case bool(Bool)
        case null
    }

    private(set) var fields: [(key: String, value: Value)] = []

    subscript(key: String) -> Value? {
        fields.last(where: { $0.key == key })?.value
    }

    func string(_ key: String) -> String? {
        if case .string(let s) = self[key] { return s }
        return nil
    }

    func integer(_ key: String) -> Int64? {
        if case .integer(let i) = self[key] { return i }
        return nil
    }

    func bool(_ key: String) -> Bool? {
        if case .bool(let b) = self[key] { return b }
        return nil
    }

    /// Whether `key` is absent or null (an optional field left out).
    func isAbsent(_ key: String) -> Bool {
        switch self[key] {
        case nil, .null?: true
        default: false
        }
    }

    /// Parses `text`, or nil when it is not a flat JSON object.
    init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ Self.parse($0) }) else { return nil }
        fields = parsed
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> [(key: String, value: Value)]? {
        var i = 0
        let n = bytes.count
        func skipSpace() {
            while i < n, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }
        func expect(_ byte: UInt8) -> Bool {
            guard i < n, bytes[i] == byte else { return false }
            i += 1
            return true
        }
        var fields: [(key: String, value: Value)] = []
        skipSpace()
        guard expect(UInt8(ascii: "{")) else { return nil }
        skipSpace()
        if expect(UInt8(ascii: "}")) {
            skipSpace()
            return i == n ? fields : nil
        }
        while true {
            skipSpace()
            guard let key = parseString(bytes, &i) else { return nil }
            skipSpace()
            guard expect(UInt8(ascii: ":")) else { return nil }
            skipSpace()
            guard i < n else { return nil }
            let value: Value
            switch bytes[i] {
            case UInt8(ascii: "\""):
                guard let s = parseString(bytes, &i) else { return nil }
                value = .string(s)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                guard let number = parseInteger(bytes, &i) else { return nil }
                value = .integer(number)
            case UInt8(ascii: "t"):
                guard literal(bytes, &i, "true") else { return nil }
                value = .bool(true)
            case UInt8(ascii: "f"):
                guard literal(bytes, &i, "false") else { return nil }
                value = .bool(false)
            case UInt8(ascii: "n"):
                guard literal(bytes, &i, "null") else { return nil }
                value = .null
            default:
                return nil
            }
            fields.append((key, value))
            skipSpace()
            if expect(UInt8(ascii: ",")) { continue }
            guard expect(UInt8(ascii: "}")) else { return nil }
            skipSpace()
            return i == n ? fields : nil
        }
    }

    private static func literal(_ bytes: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard i + count <= bytes.count else { return false }
        for k in 0..<count where bytes[i + k] != word.utf8Start[k] { return false }
        i += count
        return true
    }

    /// An integer without fraction or exponent that fits Int64 (JSON forbids leading zeros).
    private static func parseInteger(_ bytes: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Int64? {
        let n = bytes.count
        var negative = false
        if bytes[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        let start = i
        var magnitude: UInt64 = 0
        while i < n, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (m2, o2) = m1.addingReportingOverflow(UInt64(bytes[i] - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            magnitude = m2
            i += 1
        }
        let digits = i - start
        guard digits > 0, !(digits > 1 && bytes[start] == UInt8(ascii: "0")) else { return nil }
        if i < n, bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") { return nil }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// A JSON string starting at the quote at `i`; nil on a raw control character, a bad
    /// escape or a lone surrogate.
    private static func parseString(_ bytes: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> String? {
        let n = bytes.count
        guard i < n, bytes[i] == UInt8(ascii: "\"") else { return nil }
        i += 1
        let start = i
        // The common case: no escapes, one copy.
        while i < n, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\") {
            guard bytes[i] >= 0x20 else { return nil }
            i += 1
        }
        guard i < n else { return nil }
        if bytes[i] == UInt8(ascii: "\"") {
            let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            i += 1
            return s
        }
        var out = Array(bytes[start..<i])
        while i < n {
            let byte = bytes[i]
            switch byte {
            case UInt8(ascii: "\""):
                i += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                i += 1
                guard JSONEscape.decode(bytes, at: &i, into: &out, loneLowSurrogate: nil) == .decoded else { return nil }
            default:
                guard byte >= 0x20 else { return nil }
                out.append(byte)
                i += 1
            }
        }
        return nil
    }
}

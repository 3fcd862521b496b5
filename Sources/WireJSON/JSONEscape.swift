/// JSON string escapes (`\n`, `\"`, `\u00e9`, surrogate pairs) decoded to UTF-8 bytes.
///
/// One implementation for every hand-written JSON reader (``JSONReader``: SockJS message arrays
/// on the server and the client, chat frames), so all read every escape exactly alike.
public enum JSONEscape {
    /// What ``decode(_:at:into:loneSurrogate:)`` found.
    public enum Outcome: Sendable, Hashable {
        /// The escape was decoded and appended.
        case decoded
        /// The input ended inside the escape.
        case truncated
        /// Not a JSON escape: an unknown letter, a bad hex digit, a broken surrogate pair.
        case invalid
    }

    /// Decodes the escape that follows a backslash. On entry `index` is the position right
    /// after the backslash; on `.decoded` it is right after the escape, whose UTF-8 bytes were
    /// appended to `out`. A high surrogate followed by an escaped low one is one character.
    /// A lone surrogate (a high one not followed by `\u` and a low one, or a low one alone)
    /// cannot be held by a Swift `String`: it becomes `loneSurrogate`, or is `.invalid` when
    /// that is nil. A replaced lone high surrogate consumes only its own six bytes, so what
    /// follows it is decoded on its own.
    @inlinable
    public static func decode<Bytes: RandomAccessCollection>(
        _ bytes: Bytes, at index: inout Int, into out: inout [UInt8], loneSurrogate: Unicode.Scalar?
    ) -> Outcome where Bytes.Element == UInt8, Bytes.Index == Int {
        guard index < bytes.endIndex else { return .truncated }
        let escaped = bytes[index]
        index += 1
        switch escaped {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escaped)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            guard index + 4 <= bytes.endIndex else { return .truncated }
            guard let unit = hex4(bytes, at: &index) else { return .invalid }
            let decoded: Unicode.Scalar?
            if (0xD800...0xDBFF).contains(unit) {
                let afterHigh = index
                var pair: Unicode.Scalar?
                if index + 1 < bytes.endIndex, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                    index += 2
                    guard index + 4 <= bytes.endIndex else { return .truncated }
                    guard let low = hex4(bytes, at: &index) else { return .invalid }
                    if (0xDC00...0xDFFF).contains(low) { pair = Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)) }
                    // Not a pair: the next escape is read on its own.
                    if pair == nil { index = afterHigh }
                }
                decoded = pair
            } else {
                decoded = Unicode.Scalar(unit)  // nil for a lone low surrogate
            }
            guard let scalar = decoded ?? loneSurrogate else { return .invalid }
            out.append(contentsOf: UTF8.encode(scalar)!)
        default:
            return .invalid
        }
        return .decoded
    }

    /// Four hex digits at `index` (the caller checked that four bytes are there); nil when one
    /// is not a hex digit.
    @inlinable
    static func hex4<Bytes: RandomAccessCollection>(_ bytes: Bytes, at index: inout Int) -> UInt32?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }
}

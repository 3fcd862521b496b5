/// The `id` of a `say` or `tell` frame, or that a frame is an `ack`, found by one lexical pass
/// over its bytes, without decoding it: what a session names in the answer to a frame it
/// refuses for rate or a full queue (Specs/bounds.md: "a frame refused for rate is not fully
/// decoded"), and whether that frame was an ack whose messages must come again. It reads the
/// top-level `type` and `id` strings only; nested values and every other string are skipped.
package enum FrameIdProbe {
    package enum Result: Equatable {
        /// A `say`/`tell` and its `id` (1 to `ClientFrame.maxIdBytes` bytes).
        case id(String)
        /// An `ack`.
        case ack
        /// No usable id: not a `say`/`tell`, no string `id`, or not a JSON object.
        case none
        /// `type` or `id` holds an escape sequence: only a real decode can tell.
        case undecided
    }

    package static func probe(_ text: String) -> Result {
        var text = text
        return text.withUTF8 { scan($0) }
    }

    private static func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> Result {
        let quote = UInt8(ascii: "\"")
        let backslash = UInt8(ascii: "\\")
        var i = 0
        let n = bytes.count
        var depth = 0
        var expectKey = false
        var pendingKey: Int = 0  // 1: the value of `type` comes next, 2: of `id`
        var type: Range<Int>?
        var id: Range<Int>?
        func equals(_ range: Range<Int>, _ word: StaticString) -> Bool {
            range.count == word.utf8CodeUnitCount && zip(range, 0..<range.count).allSatisfy { bytes[$0] == word.utf8Start[$1] }
        }
        var escapedField = false
        while i < n {
            let byte = bytes[i]
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectKey = depth == 1 && byte == UInt8(ascii: "{")
                pendingKey = 0
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                pendingKey = 0
                i += 1
            case UInt8(ascii: ","):
                if depth == 1 { expectKey = true }
                pendingKey = 0
                i += 1
            case quote:
                let start = i + 1
                var hasEscape = false
                i += 1
                while i < n, bytes[i] != quote {
                    if bytes[i] == backslash {
                        hasEscape = true
                        i += 1
                    }
                    i += 1
                }
                guard i < n else { return .none }
                let value = start..<i
                i += 1
                guard depth == 1 else { continue }
                if expectKey {
                    expectKey = false
                    pendingKey = equals(value, "type") ? 1 : equals(value, "id") ? 2 : 0
                } else if pendingKey != 0 {
                    if hasEscape { escapedField = true }
                    if pendingKey == 1 { type = value } else { id = value }
                    pendingKey = 0
                }
            case UInt8(ascii: ":"), 0x20, 0x09, 0x0A, 0x0D:
                i += 1
            default:
                // A number, true, false or null: a value that is not a string.
                if depth == 1 { pendingKey = 0 }
                i += 1
            }
        }
        if escapedField { return .undecided }
        if let type, equals(type, "ack") { return .ack }
        guard let type, equals(type, "say") || equals(type, "tell"),
            let id, (1...ClientFrame.maxIdBytes).contains(id.count)
        else { return .none }
        return .id(String(decoding: UnsafeBufferPointer(rebasing: bytes[id]), as: UTF8.self))
    }
}

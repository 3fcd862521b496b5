/// Where a load message goes.
enum LoadTarget: Hashable, Sendable, CustomStringConvertible {
    case room(Int)
    case user(Int)

    var description: String {
        switch self {
        case .room(let room): "room \(room)"
        case .user(let user): "user \(user)"
        }
    }
}

/// Public or private, without the addressee.
enum LoadTargetKind: Hashable, Sendable {
    case room
    case user
}

/// The text of every message a load client sends: who sent it, its place in the sender's
/// sequence, when (monotonic nanoseconds of this process: all clients share the clock), and to
/// whom, so a receiver can check everything without asking anyone:
/// `lt <run> <sender> <seq> <sentAt> r<room>|u<user> ~padding`.
struct LoadPayload: Hashable, Sendable {
    var run: String
    var sender: Int
    var seq: Int
    var sentAt: UInt64
    var target: LoadTarget

    func text(padding: Int = 0) -> String {
        let to: String =
            switch target {
            case .room(let room): "r\(room)"
            case .user(let user): "u\(user)"
            }
        var text = "lt \(run) \(sender) \(seq) \(sentAt) \(to)"
        if padding > 0 {
            text += " " + String(repeating: "~", count: padding)
        }
        return text
    }

    /// Parses a text made by `text(padding:)`; nil for anything else.
    ///
    /// Every delivery of a load run goes through here, so it reads the fields in place, in one
    /// pass over the UTF-8 bytes, without splitting into an array (the run tag is a short string,
    /// stored inline).
    init?(parsing text: String) {
        var text = text
        guard let parsed = text.withUTF8({ Self.parse($0) }) else { return nil }
        self = parsed
    }

    /// One pass over `bytes`: `lt <run> <sender> <seq> <sentAt> r<n>|u<n>` then, optionally,
    /// a space and anything (the padding).
    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> LoadPayload? {
        let space = UInt8(ascii: " ")
        var index = 0
        let end = bytes.count
        guard end > 3, bytes[0] == UInt8(ascii: "l"), bytes[1] == UInt8(ascii: "t"), bytes[2] == space else { return nil }
        index = 3
        let runStart = index
        while index < end, bytes[index] != space { index += 1 }
        guard index < end, index > runStart else { return nil }
        let run = String(decoding: UnsafeBufferPointer(rebasing: bytes[runStart..<index]), as: UTF8.self)
        index += 1
        /// A decimal number ending at a space or at the end (when `last`), or nil.
        func number(last: Bool) -> UInt64? {
            let start = index
            var value: UInt64 = 0
            while index < end, bytes[index] != space {
                let digit = bytes[index] &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }
                let (scaled, overflow) = value.multipliedReportingOverflow(by: 10)
                let (sum, carry) = scaled.addingReportingOverflow(UInt64(digit))
                guard !overflow, !carry else { return nil }
                value = sum
                index += 1
            }
            guard index > start, last || index < end else { return nil }
            if index < end { index += 1 }
            return value
        }
        guard let sender = number(last: false), let seq = number(last: false), let sentAt = number(last: false),
            index < end
        else { return nil }
        let kind = bytes[index]
        index += 1
        guard let target = number(last: true), sender <= UInt64(Int.max), seq <= UInt64(Int.max), target <= UInt64(Int.max)
        else { return nil }
        switch kind {
        case UInt8(ascii: "r"): return LoadPayload(run: run, sender: Int(sender), seq: Int(seq), sentAt: sentAt, target: .room(Int(target)))
        case UInt8(ascii: "u"): return LoadPayload(run: run, sender: Int(sender), seq: Int(seq), sentAt: sentAt, target: .user(Int(target)))
        default: return nil
        }
    }

    init(run: String, sender: Int, seq: Int, sentAt: UInt64, target: LoadTarget) {
        self.run = run
        self.sender = sender
        self.seq = seq
        self.sentAt = sentAt
        self.target = target
    }
}

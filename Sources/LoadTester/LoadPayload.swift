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
    init?(parsing text: String) {
        let fields = text.utf8.split(separator: UInt8(ascii: " "), maxSplits: 6, omittingEmptySubsequences: false)
        guard fields.count >= 6, fields[0].elementsEqual("lt".utf8),
            let sender = Int(Substring(fields[2])), let seq = Int(Substring(fields[3])),
            let sentAt = UInt64(Substring(fields[4])), let kind = fields[5].first,
            let index = Int(Substring(fields[5].dropFirst())), sender >= 0, seq >= 0, index >= 0
        else { return nil }
        switch kind {
        case UInt8(ascii: "r"): target = .room(index)
        case UInt8(ascii: "u"): target = .user(index)
        default: return nil
        }
        self.run = String(Substring(fields[1]))
        self.sender = sender
        self.seq = seq
        self.sentAt = sentAt
    }

    init(run: String, sender: Int, seq: Int, sentAt: UInt64, target: LoadTarget) {
        self.run = run
        self.sender = sender
        self.seq = seq
        self.sentAt = sentAt
        self.target = target
    }
}

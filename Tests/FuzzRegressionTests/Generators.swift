import Chat
import PropertyBased

/// Generators of chat protocol values, biased towards what breaks codecs: quotes, backslashes,
/// slashes, the line and paragraph separators, the code points SockJS must escape, byte-order
/// marks, combining marks, astral characters, and (where allowed) control characters.
enum Generators {
    /// Characters every escaping layer treats specially.
    static let tricky: [Unicode.Scalar] = [
        "\"", "\\", "/", "\t", "\n", "\r", "<", ">", "&", "'", "\u{2028}", "\u{2029}", "\u{200C}", "\u{200F}",
        "\u{202F}", "\u{2060}", "\u{206F}", "\u{FEFF}", "\u{FFF0}", "\u{FFFD}", "\u{FFFF}", "\u{0085}", "\u{00A0}",
        "\u{00E9}", "\u{0301}", "\u{1F44B}", "\u{1F3F3}", "\u{10FFFF}", "\u{E000}",
    ]

    /// Control characters the chat refuses in texts (tab, newline and carriage return are allowed).
    static let refusedControls: [Unicode.Scalar] = {
        var scalars: [Unicode.Scalar] = ["\u{7F}"]
        for value: UInt8 in 0..<0x20 where value != 0x09 && value != 0x0A && value != 0x0D {
            scalars.append(Unicode.Scalar(value))
        }
        return scalars
    }()

    /// Any Unicode scalar, mostly printable ASCII and tricky ones; with `controls`, C0 controls and DEL too.
    static func scalar(controls: Bool) -> Generator<Unicode.Scalar, Shrink.None<Unicode.Scalar>> {
        Generator(run: { rng in
            switch Int.random(in: 0..<20, using: &rng) {
            case 0..<8:
                return Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &rng))
            case 8..<12:
                return tricky.randomElement(using: &rng)!
            case 12 where controls:
                return Unicode.Scalar(UInt8.random(in: 0...0x1F, using: &rng))
            case 13 where controls:
                return "\u{7F}"
            default:
                // Any scalar above ASCII; surrogate code points are not scalars, so step over them.
                let value = UInt32.random(in: 0x80...0x10FFFF, using: &rng)
                return Unicode.Scalar(value) ?? "\u{FFFD}"
            }
        })
    }

    /// A text the chat accepts: 1 to 60 scalars, no refused control characters.
    static let text = scalar(controls: false).array(of: 1...60).map { String(String.UnicodeScalarView($0)) }

    /// Any string at all, control characters included, possibly empty.
    static let anyText = scalar(controls: true).array(of: 0...60).map { String(String.UnicodeScalarView($0)) }

    /// A client id: 1 to 20 scalars of anything printable.
    static let id = scalar(controls: false).array(of: 1...20).map { String(String.UnicodeScalarView($0)) }
        .filter { $0.utf8.count <= ClientFrame.maxIdBytes }

    static let nameCharacters: [Character] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")

    /// A valid nick or room name.
    static let name = Gen<Character?>.element(of: nameCharacters).map { $0! }.array(of: 1...ChatName.maxLength).map { String($0) }

    /// A valid client frame of any type.
    static let clientFrame = zip(Gen.int(in: 0...7), name, name, text, id, Gen.int64(in: .min ... .max))
        .map { t -> ClientFrame in
            let (kind, a, b, text, id, number) = t
            switch kind {
            case 0:
                let rooms: [String]? = number % 3 == 0 ? nil : [a, b].prefix(Int(number.magnitude % 3)).map { $0 }
                return .join(JoinRequest(nick: a, token: number % 2 == 0 ? nil : id, rooms: rooms, pending: number % 5 == 0 ? [id] : nil))
            case 1: return .enter(RoomRequest(room: a))
            case 2: return .leave(RoomRequest(room: b))
            case 3: return .say(SayRequest(id: id, room: number % 2 == 0 ? nil : a, text: text))
            case 4: return .tell(TellRequest(id: id, to: b, text: text))
            case 5: return .ack(AckRequest(msgIds: Array(repeating: id, count: Int(number.magnitude % 4)) + [a]))
            case 6:
                return .history(HistoryRequest(room: a, before: number % 2 == 0 ? nil : number, limit: number % 3 == 0 ? nil : Int(number.magnitude % 100) + 1))
            default: return .typing(number % 2 == 0 ? TypingRequest(room: a) : TypingRequest(to: b))
            }
        }

    /// A chat message, public or private.
    static let message = zip(name, name, text, id, Gen.int64(in: 0...4_102_444_800_000), Gen.int64(in: .min ... .max))
        .map { t -> ChatMessage in
            let (from, room, text, msgId, ts, seq) = t
            return seq % 2 == 0
                ? ChatMessage(msgId: msgId, from: from, room: room, text: text, ts: ts, seq: seq)
                : ChatMessage(msgId: msgId, from: from, to: room, text: text, ts: ts)
        }

    /// A server frame of any type.
    static let serverFrame = zip(Gen.int(in: 0...9), name, text, message.array(of: 0...3), Gen.int64(in: 0...4_102_444_800_000), Gen.bool)
        .map { t -> ServerFrame in
            let (kind, name, text, messages, ts, flag) = t
            switch kind {
            case 0:
                return .welcome(
                    Welcome(
                        nick: name, token: text, users: [UserStatus(nick: name, online: flag)], rooms: [name],
                        entered: flag ? [name] : [], history: flag ? [name: messages] : [:],
                        moreHistory: flag && ts % 2 == 0 ? [name] : [], pending: ts % 3 == 0 ? [text: name] : nil))
            case 1: return .entered(Entered(room: name, history: messages, more: ts % 2 == 0))
            case 2: return .left(Left(room: name))
            case 3: return .message(messages.first ?? ChatMessage(msgId: text, from: name, to: name, text: text, ts: ts))
            case 4: return .sent(Sent(id: text, msgId: name, ts: ts))
            case 5: return .delivered(Delivered(msgId: text, to: name, ts: ts))
            case 6: return .presence(Presence(nick: name, online: flag, ts: ts))
            case 7: return .typing(flag ? Typing(from: name, room: name) : Typing(from: name, to: name))
            case 8: return .history(History(room: name, messages: messages, more: ts % 2 == 1))
            default:
                return .error(ErrorFrame(code: ChatErrorCode.allCases[Int(ts % Int64(ChatErrorCode.allCases.count))], message: text, id: flag ? name : nil))
            }
        }

    /// Arbitrary bytes, 0 to 300 of them.
    static let bytes = Gen<UInt8>.value(in: 0...255).array(of: 0...300)

    /// Bytes drawn from JSON's own alphabet, so that many of them are nearly JSON.
    static let jsonishBytes = Gen<UInt8?>.element(
        of: Array(#"{}[]:,"\ u0123456789abcdefABCDEF.-+eE truefalsnul typejoinsaytellnickroomtextid"#.utf8) + [0x00, 0x0A, 0xC3, 0xA9, 0xE2, 0x80, 0xA8, 0xFF]
    )
    .map { $0! }.array(of: 0...200)
}

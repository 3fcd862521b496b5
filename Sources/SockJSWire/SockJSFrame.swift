/// One SockJS frame as a server sends it: the first byte says what it is.
///
/// `o` opens the session, `h` is a heartbeat, `a[...]` carries messages, `c[code,"reason"]`
/// closes. The xhr-streaming prelude (a line of 2048 `h`) parses as a heartbeat. A client
/// parses frames with ``parse(utf8:)``; ``text`` writes one (the server writes `a[...]` from
/// messages it quoted once for many sessions, with ``SockJSJSON`` into its own buffers).
public enum SockJSFrame: Equatable, Sendable {
    /// `o`: the session is open.
    case open
    /// `h`: the server is alive; nothing to deliver.
    case heartbeat
    /// `a[...]`: messages, in order.
    case messages([String])
    /// `c[code,"reason"]`: the server closed the session.
    case close(code: Int, reason: String)

    /// Errors for a frame that no SockJS server sends.
    public enum ParseError: Error, Equatable, Sendable {
        /// An empty frame.
        case empty
        /// A first byte that is not `o`, `h`, `a` or `c` (or `o` followed by more).
        case unknownType(UInt8)
        /// An `a` or `c` frame whose JSON body does not parse.
        case badBody(SockJSJSON.ParseError)
    }

    /// Parses one frame (without a trailing newline) from its UTF-8 bytes.
    public static func parse(utf8 bytes: [UInt8]) throws(ParseError) -> SockJSFrame {
        guard let first = bytes.first else { throw .empty }
        switch first {
        case UInt8(ascii: "o") where bytes.count == 1:
            return .open
        case UInt8(ascii: "h") where bytes.allSatisfy({ $0 == UInt8(ascii: "h") }):
            return .heartbeat
        case UInt8(ascii: "a"):
            do {
                return .messages(try SockJSJSON.parseStringArray(utf8: bytes, from: 1))
            } catch {
                throw .badBody(error)
            }
        case UInt8(ascii: "c"):
            do {
                let (code, reason) = try SockJSJSON.parseClose(utf8: bytes, from: 1)
                return .close(code: code, reason: reason)
            } catch {
                throw .badBody(error)
            }
        default:
            throw .unknownType(first)
        }
    }

    /// Parses one frame from a string.
    public static func parse(_ text: some StringProtocol) throws(ParseError) -> SockJSFrame {
        try parse(utf8: Array(text.utf8))
    }

    /// The frame's protocol text (`o`, `h`, `a[...]`, `c[...]`) as UTF-8.
    public var text: [UInt8] {
        switch self {
        case .open:
            return [UInt8(ascii: "o")]
        case .heartbeat:
            return [UInt8(ascii: "h")]
        case .messages(let messages):
            var out: [UInt8] = Array("a[".utf8)
            for (i, message) in messages.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                SockJSJSON.appendQuoted(message, to: &out)
            }
            out.append(UInt8(ascii: "]"))
            return out
        case .close(let code, let reason):
            return Self.closeText(code: code, reason: reason)
        }
    }

    /// `c[code,"reason"]`.
    public static func closeText(code: Int, reason: String) -> [UInt8] {
        var out: [UInt8] = Array("c[".utf8)
        out.append(contentsOf: String(code).utf8)
        out.append(UInt8(ascii: ","))
        SockJSJSON.appendQuoted(reason, to: &out)
        out.append(UInt8(ascii: "]"))
        return out
    }
}

/// One SockJS frame as a server sends it: the first byte says what it is.
///
/// `o` opens the session, `h` is a heartbeat, `a[...]` carries messages, `c[code,"reason"]`
/// closes. The xhr-streaming prelude (a line of 2048 `h`) parses as a heartbeat.
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
}

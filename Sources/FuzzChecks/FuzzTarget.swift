/// The fuzzers of the project: each one feeds arbitrary bytes to one family of decoders and
/// reports every broken property as a sentence (an empty list means the input was handled).
///
/// The same checks run under libFuzzer (`scripts/fuzz.sh`), as corpus replays in a plain
/// build (`swift run FuzzChatFrames Fuzz/corpus/chat-frames`), and in `FuzzRegressionTests`.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// Chat client and server frames (`ChatFrameCodec`).
    case chatFrames = "chat-frames"
    /// SockJS message payloads (`xhr_send`, `jsonp_send`, websocket) and the outbound JSON escaping.
    case sockJSFrames = "sockjs-frames"
    /// RFC 6455 and hixie-76 client frames.
    case webSocketFrames = "websocket-frames"
    /// HTTP/1.x request heads and bodies, and the SockJS URL space they route to.
    case httpHead = "http-head"
    /// Whole connections to a SockJS server on a virtual clock: requests, sessions, websockets.
    case sockJSConnection = "sockjs-connection"
    /// Whole HTTP/1.1 request streams: chunked and `Content-Length` bodies, pipelined, split at every byte.
    case httpRequests = "http-requests"
    /// What a chat client reads from a server: streamed lines, SockJS frames, chat server frames.
    case clientFrames = "client-frames"

    /// The executable that fuzzes this target.
    public var executableName: String {
        switch self {
        case .chatFrames: "FuzzChatFrames"
        case .sockJSFrames: "FuzzSockJSFrames"
        case .webSocketFrames: "FuzzWebSocketFrames"
        case .httpHead: "FuzzHTTPHead"
        case .sockJSConnection: "FuzzSockJSConnection"
        case .httpRequests: "FuzzHTTPRequests"
        case .clientFrames: "FuzzClientFrames"
        }
    }

    /// Whether this build can run the target's checks. The SockJS parsers are internal to their
    /// module, so their checks exist only in debug builds (which are compiled for testing).
    public var isAvailable: Bool {
        #if DEBUG
            return true
        #else
            return self == .chatFrames || self == .clientFrames
        #endif
    }

    /// Runs the target's checks on one input and returns every property it broke.
    public func check(_ bytes: [UInt8]) -> [String] {
        switch self {
        case .chatFrames:
            return ChatFrameChecks.check(bytes)
        case .clientFrames:
            return ClientFrameChecks.check(bytes)
        #if DEBUG
            case .sockJSFrames:
                return SockJSFrameChecks.check(bytes)
            case .webSocketFrames:
                return WebSocketFrameChecks.check(bytes)
            case .httpHead:
                return HTTPHeadChecks.check(bytes)
            case .sockJSConnection:
                return SockJSConnectionChecks.check(bytes)
            case .httpRequests:
                return HTTPRequestChecks.check(bytes)
        #else
            default:
                return ["\(executableName) checks internal SockJS parsers and needs a debug build: run scripts/fuzz.sh."]
        #endif
        }
    }
}

/// Collects the properties an input broke, with enough context to reproduce them.
struct Violations {
    private(set) var list: [String] = []

    mutating func expect(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
        if !condition() { list.append(message()) }
    }

    mutating func fail(_ message: String) {
        list.append(message)
    }
}

/// A short, printable rendering of bytes or text for violation messages.
func preview(_ bytes: some Collection<UInt8>, limit: Int = 120) -> String {
    var out = ""
    for b in bytes.prefix(limit) {
        if b >= 0x20 && b < 0x7F && b != UInt8(ascii: "\\") {
            out.append(Character(Unicode.Scalar(b)))
        } else {
            out += "\\x" + String(b, radix: 16).leftPadded(to: 2)
        }
    }
    if bytes.count > limit { out += "…(\(bytes.count) bytes)" }
    return out
}

func preview(_ text: String, limit: Int = 120) -> String {
    preview(Array(text.utf8), limit: limit)
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

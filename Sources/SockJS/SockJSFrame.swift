import NIOCore
import SockJSWire

/// A SockJS protocol frame as the server sends it, before a transport wraps it.
///
/// The protocol has four frames: `o` (open), `h` (heartbeat), `a[...]` (messages) and
/// `c[code,"reason"]` (close). Each transport flavour wraps the same frame differently. The
/// frame's text is `SockJSWire`'s (``SockJSWire/SockJSFrame``); this one carries messages
/// already quoted into buffers, so one broadcast is escaped once for all its sessions.
enum SockJSFrame {
    case open
    case heartbeat
    case messages([SockJSPreparedMessage])
    case close(SockJSCloseFrame)

    /// The frame's protocol text (`o`, `h`, `a[...]`, `c[...]`).
    func payload(allocator: ByteBufferAllocator) -> ByteBuffer {
        switch self {
        case .open:
            return ByteBuffer(staticString: "o")
        case .heartbeat:
            return ByteBuffer(staticString: "h")
        case .messages(let messages):
            var size = 3
            for m in messages { size += m.json.readableBytes + 1 }
            var buffer = allocator.buffer(capacity: size)
            buffer.writeStaticString("a[")
            for (i, m) in messages.enumerated() {
                if i > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                buffer.writeImmutableBuffer(m.json)
            }
            buffer.writeInteger(UInt8(ascii: "]"))
            return buffer
        case .close(let frame):
            let text = SockJSWire.SockJSFrame.closeText(code: frame.code, reason: frame.reason)
            var buffer = allocator.buffer(capacity: text.count)
            buffer.writeBytes(text)
            return buffer
        }
    }
}

/// The code and reason of a SockJS close frame (`c[3000,"Go away!"]`).
public struct SockJSCloseFrame: Sendable, Hashable {
    /// The close code: 3000–4999 for applications; 1002 and 2010 are the protocol's own.
    public var code: Int
    /// A short human-readable reason.
    public var reason: String

    public init(code: Int, reason: String) {
        self.code = code
        self.reason = reason
    }

    /// `c[3000,"Go away!"]`: the server or the application ended the session.
    public static let goAway = SockJSCloseFrame(code: 3000, reason: "Go away!")
    /// `c[2010,"Another connection still open"]`: a second receiving request for one session.
    public static let anotherConnectionStillOpen = SockJSCloseFrame(code: 2010, reason: "Another connection still open")
    /// `c[1002,"Connection interrupted"]`: the receiving request was aborted by the network.
    public static let connectionInterrupted = SockJSCloseFrame(code: 1002, reason: "Connection interrupted")
    /// `c[4002,"too slow"]`: the session's outbound queue overflowed its byte cap.
    public static let tooSlow = SockJSCloseFrame(code: 4002, reason: "too slow")
}

/// How a transport wraps a frame on the wire.
enum SockJSFrameFlavour: Hashable, Sendable {
    /// RFC 6455 text frame carrying the frame text (`/websocket` under a session).
    case websocket
    /// hixie-76 frame: `0x00`, the frame text, `0xFF`.
    case hixie76
    /// The frame text and `\n` (`xhr`, `xhr_streaming`).
    case newline
    /// `data: ` + frame text + `\r\n\r\n` (`eventsource`).
    case eventSource
    /// A `<script>` block calling `p("...")` (`htmlfile`); the frame is quoted with `<`, `>`, `&`
    /// escaped too, so it cannot end the block.
    case htmlfile
    /// `/**/callback("...");\r\n` (`jsonp`), quoted as for `htmlfile`.
    case jsonp(callback: String)
    /// Raw websocket (`/websocket` at the service root): each message is one text frame, no SockJS framing.
    case rawWebSocket

    /// A small index for per-flavour caches, nil for flavours that can't be cached.
    var cacheSlot: Int? {
        switch self {
        case .websocket: return 0
        case .hixie76: return 1
        case .newline: return 2
        case .eventSource: return 3
        case .htmlfile: return 4
        case .rawWebSocket: return 5
        case .jsonp: return nil
        }
    }
    static let cacheSlots = 6

    /// Wraps a frame payload for this flavour. Returns nil when the flavour sends nothing for it
    /// (raw websocket has no open or heartbeat frames).
    func wrap(_ frame: SockJSFrame, allocator: ByteBufferAllocator) -> ByteBuffer? {
        if case .rawWebSocket = self {
            switch frame {
            case .open, .heartbeat:
                return nil
            case .messages(let messages):
                var buffer = allocator.buffer(capacity: 0)
                for m in messages {
                    for text in m.texts { WebSocketFrameEncoder.appendText(text, to: &buffer) }
                }
                return buffer
            case .close(let close):
                var buffer = allocator.buffer(capacity: 0)
                WebSocketFrameEncoder.appendClose(code: UInt16(clamping: close.code), reason: close.reason, to: &buffer)
                return buffer
            }
        }
        return wrap(payload: frame.payload(allocator: allocator), allocator: allocator)
    }

    /// Wraps an already-built frame text (`o`, `a[...]` ...) for this flavour.
    func wrap(payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        let n = payload.readableBytes
        switch self {
        case .websocket, .rawWebSocket:
            var buffer = allocator.buffer(capacity: n + 10)
            WebSocketFrameEncoder.appendHeader(opcode: 0x1, length: n, to: &buffer)
            buffer.writeImmutableBuffer(payload)
            return buffer
        case .hixie76:
            var buffer = allocator.buffer(capacity: n + 2)
            buffer.writeInteger(UInt8(0x00))
            buffer.writeImmutableBuffer(payload)
            buffer.writeInteger(UInt8(0xFF))
            return buffer
        case .newline:
            var buffer = allocator.buffer(capacity: n + 1)
            buffer.writeImmutableBuffer(payload)
            buffer.writeInteger(UInt8(ascii: "\n"))
            return buffer
        case .eventSource:
            var buffer = allocator.buffer(capacity: n + 10)
            buffer.writeStaticString("data: ")
            buffer.writeImmutableBuffer(payload)
            buffer.writeStaticString("\r\n\r\n")
            return buffer
        case .htmlfile:
            var buffer = allocator.buffer(capacity: n + 40)
            buffer.writeStaticString("<script>\np(")
            SockJSJSON.appendScriptQuoted(bytes: payload, to: &buffer)
            buffer.writeStaticString(");\n</script>\r\n")
            return buffer
        case .jsonp(let callback):
            var buffer = allocator.buffer(capacity: n + callback.utf8.count + 16)
            buffer.writeStaticString("/**/")
            buffer.writeString(callback)
            buffer.writeInteger(UInt8(ascii: "("))
            SockJSJSON.appendScriptQuoted(bytes: payload, to: &buffer)
            buffer.writeStaticString(");\r\n")
            return buffer
        }
    }
}

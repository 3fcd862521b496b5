import NIOCore
import SockJSWire
import Synchronization

/// A message encoded once for delivery to many sessions.
///
/// Building one `SockJSPreparedMessage` and passing it to ``SockJSServer/broadcast(_:to:)``
/// encodes the JSON string once, and each transport flavour's wire bytes once (lazily, on first
/// use); every recipient of that flavour is written the same bytes.
///
/// A prepared message may hold several messages (``init(batch:)``): they travel as one frame
/// `a["m1","m2",...]`, which the client reads as that many messages, in order. A busy room sent
/// this way costs one write per recipient per batch instead of one per message.
public final class SockJSPreparedMessage: Sendable {
    /// The messages as the application gave them, in order (one, unless made as a batch).
    public let texts: [String]
    /// The messages as quoted, escaped JSON strings separated by commas: the elements of an
    /// `a[...]` frame.
    let json: ByteBuffer
    private let cache: Mutex<[ByteBuffer?]>

    /// Encodes `text` for broadcast.
    public init(_ text: String) {
        self.texts = [text]
        self.json = SockJSJSON.quoted(text)
        self.cache = Mutex(Array(repeating: nil, count: SockJSFrameFlavour.cacheSlots))
    }

    /// Encodes several messages that go out together, in this order, as one frame.
    public init(batch texts: [String]) {
        self.texts = texts
        var json = ByteBufferAllocator().buffer(capacity: texts.reduce(0) { $0 + $1.utf8.count + 3 })
        for (index, text) in texts.enumerated() {
            if index > 0 { json.writeInteger(UInt8(ascii: ",")) }
            SockJSJSON.appendQuoted(text, to: &json)
        }
        self.json = json
        self.cache = Mutex(Array(repeating: nil, count: SockJSFrameFlavour.cacheSlots))
    }

    /// The bytes of the single-message frame `a["text"]` wrapped for `flavour`.
    func frame(for flavour: SockJSFrameFlavour, allocator: ByteBufferAllocator) -> ByteBuffer {
        guard let slot = flavour.cacheSlot else {
            return flavour.wrap(.messages([self]), allocator: allocator) ?? ByteBuffer()
        }
        if let cached = cache.withLock({ $0[slot] }) {
            return cached
        }
        let built = flavour.wrap(.messages([self]), allocator: allocator) ?? ByteBuffer()
        cache.withLock { $0[slot] = built }
        return built
    }

    /// Bytes counted against a session's outbound cap for this message.
    var queuedSize: Int { json.readableBytes + 1 }
}

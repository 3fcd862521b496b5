import NIOCore
import Synchronization

/// A message encoded once for delivery to many sessions.
///
/// Building one `SockJSPreparedMessage` and passing it to ``SockJSServer/broadcast(_:to:)``
/// encodes the JSON string once, and each transport flavour's wire bytes once (lazily, on first
/// use); every recipient of that flavour is written the same bytes.
public final class SockJSPreparedMessage: Sendable {
    /// The message as the application gave it.
    public let text: String
    /// The message as a quoted, escaped JSON string: the element of an `a[...]` frame.
    let json: ByteBuffer
    private let cache: Mutex<[ByteBuffer?]>

    /// Encodes `text` for broadcast.
    public init(_ text: String) {
        self.text = text
        self.json = SockJSJSON.quoted(text)
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

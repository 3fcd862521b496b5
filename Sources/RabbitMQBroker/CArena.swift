import CRabbitMQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Scratch C memory for one rabbitmq-c call: field tables and property strings are built
/// here, the call encodes them into its frame, and the arena frees everything on exit.
/// Used only on a connection's own thread, inside ``withArena(_:)``.
struct CArena: ~Copyable {
    private var blocks: [UnsafeMutableRawPointer] = []

    mutating func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let raw = malloc(max(1, count * MemoryLayout<T>.stride))!
        blocks.append(raw)
        return raw.bindMemory(to: type, capacity: count)
    }

    /// A C copy of `text`'s UTF-8 bytes.
    mutating func bytes(_ text: String) -> amqp_bytes_t {
        bytes(Array(text.utf8))
    }

    mutating func bytes(_ data: [UInt8]) -> amqp_bytes_t {
        let pointer = allocate(UInt8.self, count: data.count)
        data.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { pointer.update(from: base, count: data.count) }
        }
        return amqp_bytes_t(len: data.count, bytes: UnsafeMutableRawPointer(pointer))
    }

    /// A NUL-terminated C copy of `text`.
    mutating func cString(_ text: String) -> UnsafePointer<CChar> {
        let utf8 = Array(text.utf8CString)
        let pointer = allocate(CChar.self, count: utf8.count)
        utf8.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: utf8.count) }
        return UnsafePointer(pointer)
    }

    deinit {
        for block in blocks { free(block) }
    }
}

/// Runs `body` with a fresh arena that is freed when it returns.
func withArena<R, E: Error>(_ body: (inout CArena) throws(E) -> R) throws(E) -> R {
    var arena = CArena()
    return try body(&arena)
}

/// Calls `body` with `text` as an `amqp_bytes_t` borrowed for the duration of the call,
/// without copying when the string is contiguous UTF-8 (the usual case).
@inline(__always)
func withAMQPBytes<R>(_ text: String, _ body: (amqp_bytes_t) -> R) -> R {
    var text = text
    return text.withUTF8 { buffer in
        body(amqp_bytes_t(len: buffer.count, bytes: UnsafeMutableRawPointer(mutating: buffer.baseAddress)))
    }
}

/// A Swift string from C bytes (lossy UTF-8).
func swiftString(_ bytes: amqp_bytes_t) -> String {
    guard bytes.len > 0, let base = bytes.bytes else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: base, count: bytes.len), as: UTF8.self)
}

/// A Swift byte array from C bytes.
func byteArray(_ bytes: amqp_bytes_t) -> [UInt8] {
    guard bytes.len > 0, let base = bytes.bytes else { return [] }
    return Array(UnsafeRawBufferPointer(start: base, count: bytes.len))
}

/// Remembers the last string decoded from C bytes and returns it again while the bytes
/// are the same, saving an allocation per delivery for repeated tags and keys.
struct StringCache {
    private var bytes: [UInt8] = []
    private var value = ""

    mutating func string(_ c: amqp_bytes_t) -> String {
        let count = c.len
        if count == bytes.count {
            if count == 0 { return value }
            if let base = c.bytes, bytes.withUnsafeBytes({ memcmp($0.baseAddress!, base, count) == 0 }) { return value }
        }
        bytes = byteArray(c)
        value = swiftString(c)
        return value
    }
}

import NIOCore
import SockJSWire

/// The SockJS JSON codec (`SockJSWire`) over SwiftNIO buffers: the escaped form is written
/// straight into the buffer's memory, measured first, so a message costs two scans and no
/// intermediate copy.
extension SockJSJSON {
    /// Appends `text` as a quoted, escaped JSON string to `buffer`.
    static func appendQuoted(_ text: String, to buffer: inout ByteBuffer) {
        appendQuoted(text, forScript: false, to: &buffer)
    }

    /// The quoted, escaped JSON form of `text` as a byte buffer.
    static func quoted(_ text: String, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: text.utf8.count + 2)
        appendQuoted(text, to: &buffer)
        return buffer
    }

    /// Appends the bytes of `raw` (already UTF-8 text, e.g. an encoded frame) as a quoted JSON string.
    static func appendQuoted(bytes raw: ByteBuffer, to buffer: inout ByteBuffer) {
        appendQuoted(String(buffer: raw), to: &buffer)
    }

    /// Appends the bytes of `raw` as a quoted string that is safe inside an HTML `<script>`
    /// block and in a script a page includes (`htmlfile`, `jsonp`); see
    /// ``quotedCount(utf8:forScript:)``. The script reads the same string either way.
    static func appendScriptQuoted(bytes raw: ByteBuffer, to buffer: inout ByteBuffer) {
        appendQuoted(String(buffer: raw), forScript: true, to: &buffer)
    }

    private static func appendQuoted(_ text: String, forScript: Bool, to buffer: inout ByteBuffer) {
        var text = text
        text.withUTF8 { utf8 in
            let size = quotedCount(utf8: utf8, forScript: forScript)
            if size == utf8.count + 2 {
                // Nothing to escape (most chat frames): one copy.
                buffer.writeInteger(UInt8(ascii: "\""))
                buffer.writeBytes(utf8)
                buffer.writeInteger(UInt8(ascii: "\""))
            } else {
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                    writeQuoted(utf8: utf8, forScript: forScript, into: out)
                }
            }
        }
    }

    /// Decodes a payload sent by a client: a JSON array of strings, or (websocket only) one string.
    static func decodeMessages(_ bytes: ByteBuffer, allowSingleString: Bool) throws(DecodingError) -> [String] {
        try decodeMessages(Array(bytes.readableBytesView), allowSingleString: allowSingleString)
    }
}

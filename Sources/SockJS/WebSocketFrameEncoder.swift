import NIOCore

/// Writes server-to-client RFC 6455 frames (never masked) straight into a byte buffer.
///
/// The server encodes frames itself rather than through a pipeline encoder so that a broadcast
/// frame is built once and the very same bytes are written to every websocket recipient.
enum WebSocketFrameEncoder {
    /// Appends a frame header (FIN set) for `opcode` with a payload of `length` bytes.
    static func appendHeader(opcode: UInt8, length: Int, to buffer: inout ByteBuffer) {
        buffer.writeInteger(0x80 | opcode)
        if length < 126 {
            buffer.writeInteger(UInt8(length))
        } else if length <= Int(UInt16.max) {
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(length))
        } else {
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(length))
        }
    }

    /// Appends a text frame carrying `text`.
    static func appendText(_ text: String, to buffer: inout ByteBuffer) {
        appendHeader(opcode: 0x1, length: text.utf8.count, to: &buffer)
        buffer.writeString(text)
    }

    /// Appends a close frame with `code` and `reason` (the reason is cut to fit 123 bytes).
    static func appendClose(code: UInt16, reason: String, to buffer: inout ByteBuffer) {
        var reasonBytes = Array(reason.utf8.prefix(123))
        while String(validating: reasonBytes, as: UTF8.self) == nil, !reasonBytes.isEmpty { reasonBytes.removeLast() }
        appendHeader(opcode: 0x8, length: 2 + reasonBytes.count, to: &buffer)
        buffer.writeInteger(code)
        buffer.writeBytes(reasonBytes)
    }

    /// Appends a control frame (`pong`, ...) echoing `payload`.
    static func appendControl(opcode: UInt8, payload: ByteBuffer, to buffer: inout ByteBuffer) {
        appendHeader(opcode: opcode, length: payload.readableBytes, to: &buffer)
        buffer.writeImmutableBuffer(payload)
    }
}

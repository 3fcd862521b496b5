import NIOCore

/// One frame read from a websocket client, unmasked.
struct WebSocketFrame: Equatable {
    var fin: Bool
    var opcode: UInt8
    var payload: ByteBuffer

    static let continuation: UInt8 = 0x0
    static let text: UInt8 = 0x1
    static let binary: UInt8 = 0x2
    static let close: UInt8 = 0x8
    static let ping: UInt8 = 0x9
    static let pong: UInt8 = 0xA
}

/// A pure, incremental parser of client-to-server RFC 6455 frames.
///
/// It enforces what a server must: frames are masked, reserved bits are clear, control frames
/// are short and unfragmented, and no frame is longer than `maxFrameSize` (so memory stays bounded).
struct WebSocketFrameParser {
    /// Why the byte stream is not a valid client websocket stream; each maps to a close code.
    enum ParseError: Error, Equatable {
        /// Protocol violation (unmasked frame, reserved bits, bad control frame): close 1002.
        case protocolError
        /// A frame longer than the limit: close 1009.
        case frameTooLarge
    }

    let maxFrameSize: Int
    /// Bytes of an incomplete hixie-76 text frame already searched for its end (see
    /// ``nextHixieFrame(from:)``).
    private var hixieScanned = 0

    init(maxFrameSize: Int) {
        self.maxFrameSize = maxFrameSize
    }

    /// Reads the next hixie-76 frame, resuming the search for its end byte where the last call
    /// stopped: a frame that arrives a byte at a time is scanned once, not once per byte.
    mutating func nextHixieFrame(from buffer: inout ByteBuffer) throws(Hixie76.ParseError) -> Hixie76.Frame? {
        try Hixie76.nextFrame(from: &buffer, maxFrameSize: maxFrameSize, scanned: &hixieScanned)
    }

    /// Reads the next complete frame from `buffer`, or returns nil (leaving the bytes) if the frame
    /// is not complete yet.
    func next(from buffer: inout ByteBuffer) throws(ParseError) -> WebSocketFrame? {
        let start = buffer.readerIndex
        guard buffer.readableBytes >= 2,
            let b0: UInt8 = buffer.getInteger(at: start),
            let b1: UInt8 = buffer.getInteger(at: start + 1)
        else { return nil }
        let fin = b0 & 0x80 != 0
        guard b0 & 0x70 == 0 else { throw .protocolError }
        let opcode = b0 & 0x0F
        guard b1 & 0x80 != 0 else { throw .protocolError }
        var length = Int(b1 & 0x7F)
        var offset = 2
        if opcode >= 0x8 {
            guard fin, length <= 125 else { throw .protocolError }
            guard opcode <= 0xA else { throw .protocolError }
        } else {
            guard opcode <= 0x2 else { throw .protocolError }
        }
        if length == 126 {
            guard let l: UInt16 = buffer.getInteger(at: start + 2) else { return nil }
            length = Int(l)
            offset = 4
        } else if length == 127 {
            guard let l: UInt64 = buffer.getInteger(at: start + 2) else { return nil }
            // RFC 6455 5.2: the most significant bit of a 64-bit length must be 0.
            guard l & (1 << 63) == 0 else { throw .protocolError }
            // Compared as UInt64 before any conversion: 2^63-1 never reaches Int arithmetic.
            guard l <= UInt64(maxFrameSize) else { throw .frameTooLarge }
            length = Int(l)
            offset = 10
        }
        guard length <= maxFrameSize else { throw .frameTooLarge }
        guard buffer.readableBytes >= offset + 4 + length else { return nil }
        let mask: [UInt8] = buffer.getBytes(at: start + offset, length: 4)!
        var payload = buffer.getSlice(at: start + offset + 4, length: length)!
        buffer.moveReaderIndex(forwardBy: offset + 4 + length)
        if length > 0 {
            var unmasked = ByteBuffer()
            unmasked.reserveCapacity(length)
            payload.withUnsafeReadableBytes { raw in
                var i = 0
                for byte in raw {
                    unmasked.writeInteger(byte ^ mask[i & 3])
                    i += 1
                }
            }
            payload = unmasked
        }
        return WebSocketFrame(fin: fin, opcode: opcode, payload: payload)
    }
}

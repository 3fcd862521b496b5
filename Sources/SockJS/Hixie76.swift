import Crypto
import NIOCore

/// The hixie-76 (draft-76) websocket handshake and framing, which SockJS servers still accept.
///
/// The client sends two keys in headers and an 8-byte nonce after the head; the server answers
/// with the 101 head first (HAProxy needs that) and, once the nonce arrived, the MD5 challenge
/// answer. Frames are `0x00` text `0xFF`; `0xFF 0x00` closes.
enum Hixie76 {
    /// The number a hixie key encodes: its digits as a number divided by its count of spaces.
    static func keyNumber(_ key: String) -> UInt32? {
        var digits: UInt64 = 0
        var spaces: UInt64 = 0
        for c in key.utf8 {
            if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                digits = digits &* 10 &+ UInt64(c - UInt8(ascii: "0"))
                guard digits <= UInt64(UInt32.max) * 16 else { return nil }
            } else if c == UInt8(ascii: " ") {
                spaces += 1
            }
        }
        guard spaces > 0, digits % spaces == 0 else { return nil }
        let n = digits / spaces
        guard n <= UInt64(UInt32.max) else { return nil }
        return UInt32(n)
    }

    /// The 16-byte challenge answer for the two keys and the 8-byte nonce.
    static func challengeAnswer(key1: UInt32, key2: UInt32, nonce: [UInt8]) -> [UInt8] {
        var input: [UInt8] = []
        input.reserveCapacity(16)
        for shift in stride(from: 24, through: 0, by: -8) { input.append(UInt8(truncatingIfNeeded: key1 >> UInt32(shift))) }
        for shift in stride(from: 24, through: 0, by: -8) { input.append(UInt8(truncatingIfNeeded: key2 >> UInt32(shift))) }
        input.append(contentsOf: nonce)
        return Array(Insecure.MD5.hash(data: input))
    }

    /// What the hixie frame reader found.
    enum Frame: Equatable {
        case text(ByteBuffer)
        case close
    }

    /// Why a hixie byte stream was refused.
    enum ParseError: Error, Equatable {
        case protocolError
        case frameTooLarge
    }

    /// Reads the next complete hixie frame from `buffer`, or nil if it is not complete.
    ///
    /// `scanned` carries how many payload bytes of the incomplete frame at the front were already
    /// searched for the end byte (0 for a fresh search); it is reset when a frame is read. Only
    /// `maxFrameSize + 1` bytes are ever searched, so a frame past the limit is refused at once.
    static func nextFrame(from buffer: inout ByteBuffer, maxFrameSize: Int, scanned: inout Int) throws(ParseError) -> Frame? {
        guard let first: UInt8 = buffer.getInteger(at: buffer.readerIndex) else { return nil }
        switch first {
        case 0x00:
            let payload = buffer.readableBytesView.dropFirst()
            let window = payload.prefix(maxFrameSize + 1)
            let from = min(max(0, scanned), window.count)
            guard let end = window.dropFirst(from).firstIndex(of: 0xFF) else {
                if window.count > maxFrameSize { throw .frameTooLarge }
                scanned = window.count
                return nil
            }
            scanned = 0
            let length = end - payload.startIndex
            guard length <= maxFrameSize else { throw .frameTooLarge }
            let text = buffer.getSlice(at: buffer.readerIndex + 1, length: length)!
            buffer.moveReaderIndex(forwardBy: length + 2)
            return .text(text)
        case 0xFF:
            guard buffer.readableBytes >= 2 else { return nil }
            scanned = 0
            buffer.moveReaderIndex(forwardBy: 2)
            return .close
        default:
            throw .protocolError
        }
    }

    /// ``nextFrame(from:maxFrameSize:scanned:)`` searching from the frame's start.
    static func nextFrame(from buffer: inout ByteBuffer, maxFrameSize: Int) throws(ParseError) -> Frame? {
        var scanned = 0
        return try nextFrame(from: &buffer, maxFrameSize: maxFrameSize, scanned: &scanned)
    }
}

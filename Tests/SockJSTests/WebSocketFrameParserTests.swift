import NIOCore
import Testing

@testable import SockJS

/// Builds a masked client frame.
func clientFrame(opcode: UInt8, payload: [UInt8], fin: Bool = true, mask: [UInt8] = [1, 2, 3, 4], masked: Bool = true) -> ByteBuffer {
    var b = ByteBuffer()
    b.writeInteger((fin ? 0x80 : 0) | opcode)
    let maskBit: UInt8 = masked ? 0x80 : 0
    if payload.count < 126 {
        b.writeInteger(maskBit | UInt8(payload.count))
    } else if payload.count <= 0xFFFF {
        b.writeInteger(maskBit | 126)
        b.writeInteger(UInt16(payload.count))
    } else {
        b.writeInteger(maskBit | 127)
        b.writeInteger(UInt64(payload.count))
    }
    if masked {
        b.writeBytes(mask)
        b.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset & 3] })
    } else {
        b.writeBytes(payload)
    }
    return b
}

@Suite("WebSocket frame parser and hixie-76")
struct WebSocketFrameParserTests {
    let parser = WebSocketFrameParser(maxFrameSize: 1000)

    @Test("a masked text frame is unmasked")
    func maskedText() throws {
        var buffer = clientFrame(opcode: 1, payload: Array("[\"a\"]".utf8))
        let frame = try #require(try parser.next(from: &buffer))
        #expect(frame.opcode == WebSocketFrame.text)
        #expect(frame.fin)
        #expect(String(buffer: frame.payload) == "[\"a\"]")
        #expect(buffer.readableBytes == 0)
    }

    @Test("a frame split across reads is returned once complete")
    func partialFrame() throws {
        let whole = clientFrame(opcode: 1, payload: Array(repeating: 0x41, count: 300))
        var buffer = whole.getSlice(at: 0, length: 100)!
        #expect(try parser.next(from: &buffer) == nil)
        buffer.writeImmutableBuffer(whole.getSlice(at: 100, length: whole.readableBytes - 100)!)
        let frame = try #require(try parser.next(from: &buffer))
        #expect(frame.payload.readableBytes == 300)
    }

    @Test("an unmasked client frame is a protocol error")
    func unmasked() {
        var buffer = clientFrame(opcode: 1, payload: [0x41], masked: false)
        #expect(throws: WebSocketFrameParser.ParseError.protocolError) { try parser.next(from: &buffer) }
    }

    @Test("a frame longer than the limit is refused from its header alone")
    func tooLarge() {
        var buffer = ByteBuffer(bytes: [0x81, 0xFF, 0, 0, 0, 0, 0x10, 0, 0, 0])
        #expect(throws: WebSocketFrameParser.ParseError.frameTooLarge) { try parser.next(from: &buffer) }
    }

    @Test("fragmented or long control frames and unknown opcodes are protocol errors")
    func badControl() {
        var fragmentedPing = clientFrame(opcode: 9, payload: [], fin: false)
        #expect(throws: WebSocketFrameParser.ParseError.protocolError) { try parser.next(from: &fragmentedPing) }
        var longClose = clientFrame(opcode: 8, payload: Array(repeating: 0, count: 126))
        #expect(throws: WebSocketFrameParser.ParseError.protocolError) { try parser.next(from: &longClose) }
        var reserved = clientFrame(opcode: 3, payload: [])
        #expect(throws: WebSocketFrameParser.ParseError.protocolError) { try parser.next(from: &reserved) }
    }

    @Test("hixie-76 answers the suite's handshake vector")
    func hixieAnswer() throws {
        let k1 = try #require(Hixie76.keyNumber("4 @1  46546xW%0l 1 5"))
        let k2 = try #require(Hixie76.keyNumber("12998 5 Y3 1  .P00"))
        let answer = Hixie76.challengeAnswer(key1: k1, key2: k2, nonce: Array("aaaaaaaa".utf8))
        #expect(answer == [0xCA, 0x34, 0x00, 0xD8, 0xA5, 0x08, 0x47, 0x97, 0x2C, 0xD5, 0x71, 0x5A, 0xBA, 0xBF, 0x43, 0x7B])
    }

    @Test("a hixie key without spaces is invalid")
    func hixieBadKey() {
        #expect(Hixie76.keyNumber("12345") == nil)
    }

    @Test("hixie frames are read as text or close")
    func hixieFrames() throws {
        var buffer = ByteBuffer(bytes: [0x00, 0x61, 0x62, 0xFF, 0xFF, 0x00])
        #expect(try Hixie76.nextFrame(from: &buffer, maxFrameSize: 10) == .text(ByteBuffer(string: "ab")))
        #expect(try Hixie76.nextFrame(from: &buffer, maxFrameSize: 10) == .close)
        var long = ByteBuffer(bytes: [0x00] + Array(repeating: 0x61, count: 20))
        #expect(throws: Hixie76.ParseError.frameTooLarge) { try Hixie76.nextFrame(from: &long, maxFrameSize: 10) }
    }

    @Test("the websocket accept key matches RFC 6455's example")
    func acceptKey() {
        #expect(SockJSConnectionHandler.webSocketAccept(key: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }
}

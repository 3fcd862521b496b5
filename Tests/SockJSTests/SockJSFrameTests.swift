import NIOCore
import Testing

@testable import SockJS

@Suite("SockJS frames and transport flavours")
struct SockJSFrameTests {
    let allocator = ByteBufferAllocator()

    private func wire(_ frame: SockJSFrame, _ flavour: SockJSFrameFlavour) -> [UInt8] {
        Array(flavour.wrap(frame, allocator: allocator)?.readableBytesView ?? ByteBuffer().readableBytesView)
    }

    private func text(_ frame: SockJSFrame, _ flavour: SockJSFrameFlavour) -> String {
        String(decoding: wire(frame, flavour), as: UTF8.self)
    }

    @Test("the four frames have the protocol's text")
    func payloads() {
        #expect(text(.open, .newline) == "o\n")
        #expect(text(.heartbeat, .newline) == "h\n")
        #expect(text(.messages([SockJSPreparedMessage("a"), SockJSPreparedMessage("b\"")]), .newline) == "a[\"a\",\"b\\\"\"]\n")
        #expect(text(.close(.goAway), .newline) == "c[3000,\"Go away!\"]\n")
        #expect(text(.close(.anotherConnectionStillOpen), .newline) == "c[2010,\"Another connection still open\"]\n")
    }

    @Test("eventsource, htmlfile and jsonp wrap frames as the protocol says")
    func httpFlavours() {
        #expect(text(.open, .eventSource) == "data: o\r\n\r\n")
        #expect(text(.messages([SockJSPreparedMessage("x")]), .htmlfile) == "<script>\np(\"a[\\\"x\\\"]\");\n</script>\r\n")
        #expect(text(.close(.goAway), .jsonp(callback: "cb")) == "/**/cb(\"c[3000,\\\"Go away!\\\"]\");\r\n")
    }

    @Test("a websocket frame is an unmasked FIN text frame with the right length encoding")
    func websocketFrames() {
        #expect(wire(.open, .websocket) == [0x81, 0x01, UInt8(ascii: "o")])
        let long = SockJSPreparedMessage(String(repeating: "y", count: 200))
        let bytes = wire(.messages([long]), .websocket)
        #expect(Array(bytes.prefix(4)) == [0x81, 126, 0x00, 205])
        #expect(bytes.count == 4 + 205)
        let huge = SockJSPreparedMessage(String(repeating: "z", count: 70_000))
        let hugeBytes = wire(.messages([huge]), .websocket)
        #expect(hugeBytes[1] == 127)
        #expect(hugeBytes.count == 10 + 70_005)
    }

    @Test("hixie-76 frames are 0x00 text 0xFF")
    func hixieFrames() {
        #expect(wire(.open, .hixie76) == [0x00, UInt8(ascii: "o"), 0xFF])
    }

    @Test("raw websocket sends message text only: no open or heartbeat, close is a websocket close frame")
    func rawWebSocket() {
        let f = SockJSFrameFlavour.rawWebSocket
        #expect(f.wrap(.open, allocator: allocator) == nil)
        #expect(f.wrap(.heartbeat, allocator: allocator) == nil)
        #expect(wire(.messages([SockJSPreparedMessage("hi")]), f) == [0x81, 0x02, UInt8(ascii: "h"), UInt8(ascii: "i")])
        let close = wire(.close(.goAway), f)
        #expect(close[0] == 0x88)
        #expect(close[2] == 0x0B && close[3] == 0xB8)  // 3000
        #expect(String(decoding: close[4...], as: UTF8.self) == "Go away!")
    }

    @Test("a prepared message caches one buffer per flavour and hands out the same bytes")
    func preparedCache() {
        let m = SockJSPreparedMessage("shared")
        let a = m.frame(for: .websocket, allocator: allocator)
        let b = m.frame(for: .websocket, allocator: allocator)
        #expect(a == b)
        a.withUnsafeReadableBytes { ra in
            b.withUnsafeReadableBytes { rb in
                #expect(ra.baseAddress == rb.baseAddress)
            }
        }
        #expect(String(buffer: m.frame(for: .newline, allocator: allocator)) == "a[\"shared\"]\n")
    }
}

@Suite("SockJS prepared batches")
struct SockJSPreparedBatchTests {
    @Test("a batch goes out as one frame holding each message, in order, escaped as alone")
    func aBatchIsOneFrameOfItsMessages() {
        let batch = SockJSPreparedMessage(batch: ["a", "b\"c", "é\u{2028}"])
        let single = [SockJSPreparedMessage("a"), SockJSPreparedMessage("b\"c"), SockJSPreparedMessage("é\u{2028}")]
        let allocator = ByteBufferAllocator()
        #expect(
            String(buffer: SockJSFrame.messages([batch]).payload(allocator: allocator))
                == String(buffer: SockJSFrame.messages(single).payload(allocator: allocator)))
        #expect(batch.texts == ["a", "b\"c", "é\u{2028}"])
    }

    @Test("raw websocket sends each message of a batch as its own text frame")
    func rawWebSocketSplitsABatch() {
        let batch = SockJSPreparedMessage(batch: ["hi", "yo"])
        let bytes = SockJSFrameFlavour.rawWebSocket.wrap(.messages([batch]), allocator: ByteBufferAllocator())
        #expect(
            bytes.map { Array($0.readableBytesView) } == [0x81, 0x02, UInt8(ascii: "h"), UInt8(ascii: "i"), 0x81, 0x02, UInt8(ascii: "y"), UInt8(ascii: "o")])
    }
}

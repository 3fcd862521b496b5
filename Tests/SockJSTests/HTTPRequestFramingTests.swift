import NIOCore
import Testing

@testable import SockJS

/// Issue 13: every length or count an HTTP request carries is range-checked before arithmetic,
/// and every ambiguous framing is refused. Each case is a pinned regression.
@Suite("HTTP request framing: lengths off the wire")
struct HTTPRequestFramingTests {
    let limits = HTTPRequestParser.Limits(maxHeadBytes: 1024, maxBodyBytes: 4096)

    enum Outcome: Equatable {
        case request(method: String, body: String)
        case failed(HTTPRequestParser.ParseError)
        case incomplete
    }

    /// Every request in `bytes`, fed in pieces of the given sizes (all at once by default),
    /// then the error that ends them, or `.incomplete` when a request is still in progress.
    func outcomes(_ bytes: [UInt8], pieces: [Int]? = nil) -> [Outcome] {
        var slices: [ArraySlice<UInt8>] = []
        var start = 0
        for size in pieces ?? [bytes.count] where start < bytes.count {
            let end = min(bytes.count, start + size)
            slices.append(bytes[start..<end])
            start = end
        }
        if start < bytes.count { slices.append(bytes[start...]) }
        var parser = HTTPRequestParser(limits: limits)
        var buffer = ByteBuffer()
        var out: [Outcome] = []
        for slice in slices {
            buffer.writeBytes(slice)
            while true {
                do {
                    guard let (head, body) = try parser.next(from: &buffer) else { break }
                    out.append(.request(method: head.method, body: String(buffer: body)))
                } catch {
                    out.append(.failed(error))
                    return out
                }
            }
        }
        if parser.hasPartialRequest(buffered: buffer.readableBytes) { out.append(.incomplete) }
        return out
    }

    func outcomes(_ text: String) -> [Outcome] { outcomes(Array(text.utf8)) }

    static let crashRequest =
        "POST /chat/000/abcdefgh/xhr_send HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n7fffffffffffffff\r\n"

    @Test("the issue-13 crash request (a 1-byte chunk, then chunk size 7fffffffffffffff) is 413, not an overflow trap")
    func exactCrashRequest() {
        #expect(outcomes(Self.crashRequest) == [.failed(.bodyTooLarge)])
        #expect(HTTPRequestParser.ParseError.bodyTooLarge.status == 413)
        // Split at every byte: the same answer.
        let bytes = Array(Self.crashRequest.utf8)
        #expect(outcomes(bytes, pieces: Array(repeating: 1, count: bytes.count)) == [.failed(.bodyTooLarge)])
        for cut in 1..<bytes.count {
            #expect(outcomes(bytes, pieces: [cut, bytes.count - cut]) == [.failed(.bodyTooLarge)], "split at \(cut)")
        }
    }

    @Test(
        "chunk sizes that overflow Int or pass the limit are 413, however many hex digits",
        arguments: [
            "7fffffffffffffff", "8000000000000000", "ffffffffffffffff", "10000000000000000",
            String(repeating: "f", count: 200), "1001", "1001;ext=1",
        ])
    func hugeChunkSizes(_ size: String) {
        let text = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\n"
        #expect(outcomes(text) == [.failed(.bodyTooLarge)])
    }

    @Test("chunks that together pass the body limit are 413 before the last one is read")
    func chunksTogetherOverTheLimit() {
        let text = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + String(repeating: "a", count: 0x800) + "\r\n801\r\n"
        #expect(outcomes(text) == [.failed(.bodyTooLarge)])
        let exact =
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + String(repeating: "a", count: 0x800) + "\r\n800\r\n"
            + String(repeating: "b", count: 0x800) + "\r\n0\r\n\r\n"
        #expect(outcomes(exact) == [.request(method: "POST", body: String(repeating: "a", count: 0x800) + String(repeating: "b", count: 0x800))])
    }

    @Test("leading zeros in a chunk size are fine; a size line past 1024 bytes is 400")
    func leadingZeros() {
        let zeros = String(repeating: "0", count: 400)
        #expect(
            outcomes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\(zeros)5\r\nhello\r\n\(zeros)\r\n\r\n") == [.request(method: "POST", body: "hello")]
        )
        let tooMany = String(repeating: "0", count: 1100)
        #expect(outcomes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\(tooMany)5\r\nhello\r\n0\r\n\r\n") == [.failed(.malformed)])
        // The line limit holds even when a newline comes much later: nothing past it is scanned.
        #expect(outcomes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5" + String(repeating: ";", count: 3000) + "\r\n") == [.failed(.malformed)])
    }

    @Test(
        "a chunk size with a sign, a prefix, a space inside or no digits is 400",
        arguments: ["+5", "-0", "-5", "0x5", "5x", "5 5", "", " ", ";ext", "5\u{0}", "٥"])
    func malformedChunkSizes(_ size: String) {
        let text = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\nhello\r\n0\r\n\r\n"
        #expect(outcomes(text) == [.failed(.malformed)])
    }

    @Test("chunk extensions are read and ignored; one holding a bare CR is 400")
    func chunkExtensions() {
        let clean = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value;x=\"q\"\r\nhello\r\n3 ; y\r\nabc\r\n0;last\r\n\r\n"
        #expect(outcomes(clean) == [.request(method: "POST", body: "helloabc")])
        #expect(outcomes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a\rb\r\nhello\r\n0\r\n\r\n") == [.failed(.malformed)])
    }

    @Test("chunk data not followed by CRLF is 400")
    func chunkDataWithoutItsLineEnd() {
        #expect(outcomes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n") == [.failed(.malformed)])
    }

    @Test("trailers are read and dropped; a trailer without a colon is 400; endless trailers are 413")
    func trailers() {
        #expect(
            outcomes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-Sum: 1\r\nX-More: 2\r\n\r\nGET /next HTTP/1.1\r\n\r\n")
                == [.request(method: "POST", body: "hi"), .request(method: "GET", body: "")])
        #expect(outcomes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nnot a field\r\n\r\n") == [.failed(.malformed)])
        let endless = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + String(repeating: "X-T: 1\r\n", count: 200)
        #expect(outcomes(endless) == [.failed(.bodyTooLarge)])
    }

    @Test("a small body sent as thousands of tiny chunks is 413 once its framing passes the head limit")
    func tinyChunkFlood() {
        let flood = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + String(repeating: "1;pad\r\na\r\n", count: 400)
        #expect(outcomes(flood) == [.failed(.bodyTooLarge)])
        let fine = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + String(repeating: "1\r\na\r\n", count: 100) + "0\r\n\r\n"
        #expect(outcomes(fine) == [.request(method: "POST", body: String(repeating: "a", count: 100))])
    }

    @Test(
        "Content-Length: digits only; huge values are 413 whatever their length",
        arguments: [
            ("5", Outcome.request(method: "POST", body: "hello")),
            ("  5 ", .request(method: "POST", body: "hello")),
            ("005", .request(method: "POST", body: "hello")),
            ("4097", .failed(.bodyTooLarge)),
            ("9223372036854775807", .failed(.bodyTooLarge)),
            ("9223372036854775808", .failed(.bodyTooLarge)),
            ("99999999999999999999999999999999999999", .failed(.bodyTooLarge)),
            ("+5", .failed(.malformed)),
            ("-0", .failed(.malformed)),
            ("-1", .failed(.malformed)),
            ("0x5", .failed(.malformed)),
            ("5 5", .failed(.malformed)),
            ("", .failed(.malformed)),
            ("٥", .failed(.malformed)),
        ])
    func contentLength(_ value: String, _ expected: Outcome) {
        #expect(outcomes("POST / HTTP/1.1\r\nContent-Length: \(value)\r\n\r\nhello") == [expected])
    }

    @Test("duplicate Content-Length: the same value is fine, differing values are 400")
    func duplicateContentLength() {
        #expect(outcomes("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello") == [.request(method: "POST", body: "hello")])
        #expect(outcomes("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello") == [.request(method: "POST", body: "hello")])
        #expect(outcomes("POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\nhello!") == [.failed(.ambiguousLength)])
        #expect(outcomes("POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\nhello!") == [.failed(.ambiguousLength)])
        #expect(outcomes("POST / HTTP/1.1\r\nContent-Length: 5, x\r\n\r\nhello") == [.failed(.malformed)])
        #expect(HTTPRequestParser.ParseError.ambiguousLength.status == 400)
    }

    @Test("Content-Length and Transfer-Encoding together are 400, in either order (request smuggling)")
    func bothLengths() {
        #expect(outcomes("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == [.failed(.ambiguousLength)])
        #expect(outcomes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n") == [.failed(.ambiguousLength)])
    }

    @Test("Transfer-Encoding must be exactly chunked, once, on HTTP/1.1")
    func transferEncodings() {
        #expect(outcomes("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n") == [.request(method: "POST", body: "")])
        #expect(
            outcomes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == [.failed(.unsupportedTransferEncoding)])
        #expect(outcomes("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n") == [.failed(.unsupportedTransferEncoding)])
        #expect(
            outcomes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n") == [.failed(.unsupportedTransferEncoding)])
        #expect(outcomes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n") == [.failed(.malformed)])
        #expect(outcomes("POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n") == [.failed(.malformed)])
        #expect(outcomes("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == [.failed(.ambiguousLength)])
    }

    @Test("pipelined chunked and Content-Length requests parse the same at every split point")
    func pipelinedAtEverySplit() {
        let text =
            "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nT: 1\r\n\r\n"
            + "POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nde"
            + "\r\nGET /c HTTP/1.1\r\n\r\n"
        let bytes = Array(text.utf8)
        let whole = outcomes(bytes)
        #expect(whole == [.request(method: "POST", body: "abc"), .request(method: "POST", body: "de"), .request(method: "GET", body: "")])
        #expect(outcomes(bytes, pieces: Array(repeating: 1, count: bytes.count)) == whole)
        for cut in 1..<bytes.count {
            #expect(outcomes(bytes, pieces: [cut, bytes.count - cut]) == whole, "split at \(cut)")
        }
    }

    @Test("a head arriving a byte at a time is found once complete (the resumed scan misses no end)")
    func headByteByByte() {
        for ending in ["\r\n\r\n", "\n\n", "\n\r\n", "\r\n\n"] {
            let text = "GET /x HTTP/1.1\r\nHost: a" + ending + "GET /y HTTP/1.1" + ending
            let bytes = Array(text.utf8)
            let whole = outcomes(bytes)
            #expect(whole.count == 2)
            #expect(outcomes(bytes, pieces: Array(repeating: 1, count: bytes.count)) == whole, "ending \(ending.debugDescription)")
            #expect(outcomes(bytes, pieces: Array(repeating: 2, count: bytes.count)) == whole, "ending \(ending.debugDescription)")
        }
    }

    @Test("every parse error says what to do next in one sentence")
    func errorSentences() {
        for error in [HTTPRequestParser.ParseError.headTooLarge, .bodyTooLarge, .malformed, .unsupportedTransferEncoding, .ambiguousLength] {
            #expect(error.message.hasSuffix(".\n"))
            #expect(error.message.filter { $0 == "\n" }.count == 1)
        }
    }
}

/// Issue 13: websocket and hixie-76 lengths off the wire.
@Suite("Websocket lengths off the wire")
struct WebSocketLengthTests {
    @Test("a 64-bit length with its top bit set is a protocol error (1002), checked before any Int conversion")
    func topBitSet() {
        var buffer = ByteBuffer(bytes: [0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0])
        #expect(throws: WebSocketFrameParser.ParseError.protocolError) { try WebSocketFrameParser(maxFrameSize: 1024).next(from: &buffer) }
        var all = ByteBuffer(bytes: [0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: WebSocketFrameParser.ParseError.protocolError) { try WebSocketFrameParser(maxFrameSize: 1024).next(from: &all) }
    }

    @Test("2^63-1 and other 64-bit lengths over the limit are 1009 before any payload byte arrives")
    func hugeLengths() {
        for length: UInt64 in [UInt64(Int64.max), 1 << 40, 1025] {
            var buffer = ByteBuffer(bytes: [0x81, 0xFF])
            buffer.writeInteger(length)
            #expect(throws: WebSocketFrameParser.ParseError.frameTooLarge) { try WebSocketFrameParser(maxFrameSize: 1024).next(from: &buffer) }
        }
        var sixteen = ByteBuffer(bytes: [0x81, 0xFE, 0xFF, 0xFF])
        #expect(throws: WebSocketFrameParser.ParseError.frameTooLarge) { try WebSocketFrameParser(maxFrameSize: 1024).next(from: &sixteen) }
    }

    @Test("a hixie-76 frame read a byte at a time gives what one read gives; past the limit it is refused without its end")
    func hixieResumedScan() throws {
        let frame: [UInt8] = [0x00] + Array("hello".utf8) + [0xFF, 0x00] + Array("x".utf8) + [0xFF]
        var parser = WebSocketFrameParser(maxFrameSize: 16)
        var buffer = ByteBuffer()
        var frames: [Hixie76.Frame] = []
        for byte in frame {
            buffer.writeInteger(byte)
            while let next = try parser.nextHixieFrame(from: &buffer) { frames.append(next) }
        }
        #expect(frames == [.text(ByteBuffer(string: "hello")), .text(ByteBuffer(string: "x"))])

        var long = WebSocketFrameParser(maxFrameSize: 16)
        var longBuffer = ByteBuffer(bytes: [0x00])
        var refused = false
        for _ in 0..<40 where !refused {
            longBuffer.writeInteger(UInt8(ascii: "a"))
            do { _ = try long.nextHixieFrame(from: &longBuffer) } catch { refused = error == .frameTooLarge }
        }
        #expect(refused)
    }

    @Test("hixie-76 keys: overflowing digits, no spaces, a remainder or a quotient past UInt32 are refused")
    func hixieKeys() {
        #expect(Hixie76.keyNumber(String(repeating: "9", count: 40) + " ") == nil)
        #expect(Hixie76.keyNumber("18446744073709551615 ") == nil)
        #expect(Hixie76.keyNumber("12345") == nil)
        #expect(Hixie76.keyNumber("") == nil)
        #expect(Hixie76.keyNumber("1 2") == 12)
        #expect(Hixie76.keyNumber("7 ") == 7)
        #expect(Hixie76.keyNumber("1 6 ") == 8)
        #expect(Hixie76.keyNumber("3 3 ") == nil)
        #expect(Hixie76.keyNumber("1 0") == 10)
        #expect(Hixie76.keyNumber("8589934590 ") == nil)
        #expect(Hixie76.keyNumber("8589934590  ") == 4_294_967_295)
        #expect(Hixie76.keyNumber("7 7 ") == nil)  // 77 / 2
    }
}

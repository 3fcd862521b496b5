import NIOCore
import Testing

@testable import SockJS

@Suite("HTTP request parser")
struct HTTPRequestParserTests {
    let limits = HTTPRequestParser.Limits(maxHeadBytes: 1024, maxBodyBytes: 4096)

    @Test("a GET head parses with path, query, version and headers")
    func simpleGet() throws {
        var parser = HTTPRequestParser(limits: limits)
        var buffer = ByteBuffer(string: "GET /echo/a/b/jsonp?c=%63allback HTTP/1.1\r\nHost: x\r\nOrigin:  test \r\n\r\n")
        let request = try #require(try parser.next(from: &buffer))
        #expect(request.head.method == "GET")
        #expect(request.head.path == "/echo/a/b/jsonp")
        #expect(request.head.queryParameter("c") == "callback")
        #expect(request.head.version == (1, 1))
        #expect(request.head.header("origin") == "test")
        #expect(request.body.readableBytes == 0)
        #expect(buffer.readableBytes == 0)
    }

    @Test("header values are trimmed of spaces by scalar, even before a combining or format character")
    func trimmingByScalar() throws {
        var parser = HTTPRequestParser(limits: limits)
        var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\nX-A: \u{200C}x \r\nX-B:\t\u{301}\t\r\n\r\n")
        let request = try #require(try parser.next(from: &buffer))
        #expect(request.head.header("X-A") == "\u{200C}x")
        #expect(request.head.header("X-B") == "\u{301}")
    }

    @Test("a body is read by Content-Length, even when it arrives byte by byte")
    func contentLengthBody() throws {
        var parser = HTTPRequestParser(limits: limits)
        let raw = Array("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET".utf8)
        var buffer = ByteBuffer()
        var result: (head: HTTPRequestHead, body: ByteBuffer)?
        for byte in raw {
            buffer.writeInteger(byte)
            if let r = try parser.next(from: &buffer) {
                result = r
                break
            }
        }
        let request = try #require(result)
        #expect(String(buffer: request.body) == "hello")
    }

    @Test("a chunked body is reassembled")
    func chunkedBody() throws {
        var parser = HTTPRequestParser(limits: limits)
        var buffer = ByteBuffer(string: "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n")
        let request = try #require(try parser.next(from: &buffer))
        #expect(String(buffer: request.body) == "abcde")
    }

    @Test("pipelined requests come out one at a time, the rest stays buffered")
    func pipelined() throws {
        var parser = HTTPRequestParser(limits: limits)
        var buffer = ByteBuffer(string: "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.0\r\n\r\n")
        #expect(try parser.next(from: &buffer)?.head.path == "/a")
        let second = try #require(try parser.next(from: &buffer))
        #expect(second.head.path == "/b")
        #expect(second.head.isKeepAlive == false)
    }

    @Test("keep-alive follows the HTTP version and the Connection header")
    func keepAlive() {
        #expect(HTTPRequestHead(method: "GET", uri: "/", version: (1, 1), headers: []).isKeepAlive)
        #expect(!HTTPRequestHead(method: "GET", uri: "/", version: (1, 1), headers: [("Connection", "close")]).isKeepAlive)
        #expect(!HTTPRequestHead(method: "GET", uri: "/", version: (1, 0), headers: []).isKeepAlive)
        #expect(HTTPRequestHead(method: "GET", uri: "/", version: (1, 0), headers: [("Connection", "Keep-Alive")]).isKeepAlive)
    }

    @Test("a head longer than the limit is refused before it ends (slowloris, huge headers)")
    func headTooLarge() {
        var parser = HTTPRequestParser(limits: limits)
        var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\n" + String(repeating: "X-Pad: aaaaaaaaaa\r\n", count: 100))
        #expect(throws: HTTPRequestParser.ParseError.headTooLarge) { try parser.next(from: &buffer) }
    }

    @Test("a Content-Length over the limit is refused before any body byte is read (100 MB POST)")
    func bodyTooLarge() {
        var parser = HTTPRequestParser(limits: limits)
        var buffer = ByteBuffer(string: "POST /x HTTP/1.1\r\nContent-Length: 104857600\r\n\r\n")
        #expect(throws: HTTPRequestParser.ParseError.bodyTooLarge) { try parser.next(from: &buffer) }
    }

    @Test("a chunked body over the limit is refused as soon as a chunk size says so")
    func chunkedTooLarge() {
        var parser = HTTPRequestParser(limits: limits)
        var buffer = ByteBuffer(string: "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFF\r\n")
        #expect(throws: HTTPRequestParser.ParseError.bodyTooLarge) { try parser.next(from: &buffer) }
    }

    @Test(
        "garbage is malformed",
        arguments: [
            "HELLO\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "GET /\r\n\r\n", "get / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "GET / HTTP/1.1\r\nOrigin: a\rSet-Cookie: x\r\n\r\n",
        ])
    func malformed(raw: String) {
        var parser = HTTPRequestParser(limits: limits)
        var buffer = ByteBuffer(string: raw)
        #expect(throws: HTTPRequestParser.ParseError.malformed) { try parser.next(from: &buffer) }
    }

    @Test("a partial head is reported as a request in progress")
    func partial() throws {
        var parser = HTTPRequestParser(limits: limits)
        var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\nHost")
        #expect(try parser.next(from: &buffer) == nil)
        #expect(parser.hasPartialRequest(buffered: buffer.readableBytes))
    }

    @Test("form values are percent-decoded with + as space")
    func formDecoding() {
        #expect(HTTPForm.value(of: "d", in: "d=%5B%22x%22%5D") == "[\"x\"]")
        #expect(HTTPForm.value(of: "d", in: "a=1&d=a+b%20c") == "a b c")
        #expect(HTTPForm.value(of: "d", in: "p=p") == nil)
        #expect(HTTPForm.value(of: "d", in: "d=") == "")
        #expect(HTTPForm.value(of: "d", in: "d=%zz") == "%zz")
    }
}

import ServerTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The raw loopback socket and the raw HTTP exchange on top of it.
@Suite struct TestSocketTests {
    @Test func freePortGivesAPortNothingListensOn() throws {
        let port = try FreePort.next()
        #expect((1...65_535).contains(port))
        #expect(!TestSocket.accepts(port: port))
    }

    @Test func anHTTPExchangeWithAChildServerIsParsedWholeAndDechunked() async throws {
        let port = try FreePort.next()
        let response = "HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\nX-Test: yes\\r\\n\\r\\n5\\r\\nhello\\r\\n6\\r\\n world\\r\\n0\\r\\n\\r\\n"
        // Answers the first connection that sends something (the readiness probe sends nothing), then exits.
        let script = """
            import socket
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(('127.0.0.1', \(port)))
            s.listen(4)
            while True:
                c, _ = s.accept()
                if c.recv(65536):
                    c.sendall(b'\(response)')
                    c.close()
                    break
                c.close()
            """
        let server = try await LiveServer.start(executable: "/usr/bin/python3", arguments: ["-c", script], port: port)
        let answer = try TestHTTP.request(port: port, path: "/")
        #expect(answer.status == 200)
        #expect(answer.headers["x-test"] == "yes")
        #expect(answer.text == "hello world")
        #expect(await server.process.waitForExit(timeout: .seconds(10)) == 0, "it exits after its one answer")
    }

    @Test func dechunkKeepsAnIncompleteChunkForLater() {
        let (body, rest, ended) = TestHTTP.dechunk(Array("5\r\nhello\r\n6\r\n wor".utf8))
        #expect(body == Array("hello".utf8))
        #expect(rest == Array("6\r\n wor".utf8))
        #expect(!ended)
    }

    /// The last chunk of a streaming response can come in a read of its own; the reader must
    /// still see the response end (TestChatClient then opens the next one).
    @Test func dechunkSeesTheLastChunkWhenItComesAlone() {
        let first = TestHTTP.dechunk(Array("5\r\nhello\r\n".utf8))
        #expect(first.body == Array("hello".utf8))
        #expect(first.rest.isEmpty)
        #expect(!first.ended)
        let last = TestHTTP.dechunk(Array("0\r\n\r\n".utf8))
        #expect(last.body.isEmpty)
        #expect(last.ended)
    }

    @Test func parseRefusesATruncatedHead() {
        #expect(throws: TestSocketError.self) { try TestHTTP.parse(Array("HTTP/1.1 200 OK\r\nX: y".utf8)) }
    }
}

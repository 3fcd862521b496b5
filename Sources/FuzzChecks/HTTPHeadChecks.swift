#if DEBUG
    import NIOCore
    @testable import SockJS
    import SockJSWire

    /// Properties of the server's HTTP/1.x request parser and of the SockJS URL space.
    ///
    /// - Any bytes give requests and then an error or a wait for more; never a crash, never a head or
    ///   body over the limits, always progress.
    /// - Bytes read in small pieces, as they arrive from a socket, give the same requests and the
    ///   same error as the bytes read at once.
    /// - A parsed request, written out again, parses to the same head and body.
    /// - Routing any parsed path, reading its headers and query parameters never crashes, and a
    ///   session route names a server and a session id without dots.
    enum HTTPHeadChecks {
        static var limits: HTTPRequestParser.Limits { HTTPRequestChecks.limits }

        static func check(_ bytes: [UInt8]) -> [String] {
            var v = Violations()
            // The same reader as the request-stream fuzzer (every request must consume bytes).
            let whole = HTTPRequestChecks.read([bytes[...]], &v)
            let pieces = HTTPRequestChecks.read(WebSocketFrameChecks.split(bytes), &v)
            v.expect(whole == pieces, "requests of \(preview(bytes)) differ when read in pieces: \(whole.count) at once, \(pieces.count) in pieces")
            for case .request(let head, let body) in whole {
                checkRoundTrip(head, body, &v)
                checkRouting(head, &v)
            }
            return v.list
        }

        /// Writes the request as a client would and checks it parses to the same thing.
        static func checkRoundTrip(_ head: HTTPRequestHead, _ body: [UInt8], _ v: inout Violations) {
            var text = "\(head.method) \(head.uri) HTTP/\(head.version.major).\(head.version.minor)\r\n"
            for (name, value) in head.headers { text += "\(name): \(value)\r\n" }
            text += "\r\n"
            var buffer = ByteBuffer(string: text)
            if head.header("Transfer-Encoding") != nil {
                if !body.isEmpty {
                    buffer.writeString(String(body.count, radix: 16) + "\r\n")
                    buffer.writeBytes(body)
                    buffer.writeString("\r\n")
                }
                buffer.writeString("0\r\n\r\n")
            } else {
                buffer.writeBytes(body)
            }
            var parser = HTTPRequestParser(limits: HTTPRequestParser.Limits(maxHeadBytes: 64 * 1024, maxBodyBytes: limits.maxBodyBytes))
            do {
                guard let (again, againBody) = try parser.next(from: &buffer) else {
                    v.fail("request \(preview(text)) written out again is incomplete")
                    return
                }
                v.expect(again == head, "request head \(preview(text)) changed when written out and parsed again")
                v.expect(Array(againBody.readableBytesView) == body, "a body of \(body.count) bytes changed when written out and parsed again")
            } catch {
                v.fail("request \(preview(text)) written out again was refused: \(error)")
            }
        }

        static func checkRouting(_ head: HTTPRequestHead, _ v: inout Violations) {
            _ = head.isKeepAlive
            _ = head.header("Connection", containsToken: "upgrade")
            _ = head.queryParameter("c")
            for prefix in ["/echo", ""] where head.path.hasPrefix(prefix) {
                let route = SockJSRoute.route(head.path.dropFirst(prefix.count))
                if case .session(let server, let session, _) = route {
                    v.expect(
                        !server.isEmpty && !session.isEmpty && !server.contains(".") && !session.contains("."),
                        "path \(preview(head.path)) routes to a session with server '\(preview(server))' and id '\(preview(session))'")
                }
            }
        }
    }
#endif

#if DEBUG
    import NIOCore
    @testable import SockJS

    /// Properties of whole HTTP/1.1 request streams as a connection reads them: heads, bodies by
    /// `Content-Length` or chunked (sizes, extensions, trailers), several requests pipelined.
    ///
    /// - Never a crash or an arithmetic trap, whatever the lengths say; bodies within the limit;
    ///   every request consumes bytes.
    /// - The same requests and the same error whatever the split: read at once, a byte at a time,
    ///   cut once at every point (inputs up to 17 bytes; 6 points drawn from the input beyond),
    ///   and in pseudo-random pieces.
    /// - The framing rules hold for every request accepted: never both `Content-Length` and
    ///   `Transfer-Encoding`, never `Transfer-Encoding` on HTTP/1.0, differing lengths never accepted.
    /// - Each accepted request, written out again with its body in pseudo-random chunks (with
    ///   extensions and a trailer), or with a `Content-Length`, parses to the same head and body.
    enum HTTPRequestChecks {
        static let limits = HTTPRequestParser.Limits(maxHeadBytes: 512, maxBodyBytes: 1024)

        enum Outcome: Equatable {
            case request(HTTPRequestHead, [UInt8])
            case failed(HTTPRequestParser.ParseError)
            case incomplete
        }

        static func check(_ bytes: [UInt8]) -> [String] {
            var v = Violations()
            let whole = read([bytes[...]], &v)
            func same(_ pieces: [ArraySlice<UInt8>], _ how: String) {
                let outcome = read(pieces, &v)
                v.expect(outcome == whole, "requests of \(preview(bytes)) differ when read \(how): \(summary(whole)) at once, \(summary(outcome)) \(how)")
            }
            same(bytes.indices.map { bytes[$0...$0] }, "a byte at a time")
            // Every cut point of short inputs. Longer ones are cut at 6 points drawn from the input
            // itself (so the mutations of one input reach every point over a run), keeping each
            // execution to a dozen reads: that is what keeps the fuzzer fast enough to explore.
            let n = bytes.count
            var cuts = Array(1..<max(1, min(n, 17)))
            if n > 17 {
                var state = UInt64(truncatingIfNeeded: bytes.reduce(n) { $0 &* 31 &+ Int($1) })
                cuts =
                    (0..<4).map { _ in
                        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                        return 1 + Int((state >> 33) % UInt64(n - 1))
                    } + [n - 2, n - 1]
            }
            for cut in cuts where cut > 0 && cut < bytes.count {
                same([bytes[..<cut], bytes[cut...]], "cut at \(cut)")
            }
            same(randomPieces(bytes), "in pseudo-random pieces")
            var seed = UInt64(bytes.count) &* 0x9E37_79B9_7F4A_7C15
            for case .request(let head, let body) in whole {
                checkFraming(head, &v)
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                checkRoundTrip(head, body, seed: seed, &v)
            }
            return v.list
        }

        static func summary(_ outcomes: [Outcome]) -> String {
            outcomes.map {
                switch $0 {
                case .request(let head, let body): "\(head.method) \(preview(head.uri, limit: 20)) +\(body.count)"
                case .failed(let error): "\(error)"
                case .incomplete: "incomplete"
                }
            }.joined(separator: ", ")
        }

        /// Pieces of 1 to 64 bytes, their sizes drawn from a generator seeded by the input.
        static func randomPieces(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
            var state = bytes.reduce(UInt64(0xCBF2_9CE4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
            var pieces: [ArraySlice<UInt8>] = []
            var i = 0
            while i < bytes.count {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let n = Int((state >> 33) % 64) + 1
                pieces.append(bytes[i..<min(bytes.count, i + n)])
                i += n
            }
            return pieces
        }

        static func read(_ pieces: [ArraySlice<UInt8>], _ v: inout Violations) -> [Outcome] {
            var parser = HTTPRequestParser(limits: limits)
            var buffer = ByteBuffer()
            var out: [Outcome] = []
            for piece in pieces {
                buffer.writeBytes(piece)
                while true {
                    let before = buffer.readableBytes
                    do {
                        guard let (head, body) = try parser.next(from: &buffer) else { break }
                        v.expect(buffer.readableBytes < before, "a request was read without consuming bytes")
                        v.expect(body.readableBytes <= limits.maxBodyBytes, "a body of \(body.readableBytes) bytes passed the limit")
                        out.append(.request(head, Array(body.readableBytesView)))
                        if out.count > 10_000 {
                            v.fail("more than 10,000 requests: the parser does not progress")
                            return out
                        }
                    } catch {
                        out.append(.failed(error))
                        return out
                    }
                }
            }
            if parser.hasPartialRequest(buffered: buffer.readableBytes) { out.append(.incomplete) }
            return out
        }

        static func checkFraming(_ head: HTTPRequestHead, _ v: inout Violations) {
            let names = head.headers.map { $0.name.lowercased() }
            let te = names.contains("transfer-encoding")
            let cl = head.headers.filter { $0.name.lowercased() == "content-length" }
                .flatMap { $0.value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces() } }
            v.expect(!(te && !cl.isEmpty), "a request with both Transfer-Encoding and Content-Length was accepted")
            v.expect(!(te && head.version.minor == 0), "an HTTP/1.0 request with Transfer-Encoding was accepted")
            v.expect(Set(cl).count <= 1, "a request with differing Content-Length values \(cl) was accepted")
        }

        /// Writes the request out again, as a client would, and parses it.
        static func checkRoundTrip(_ head: HTTPRequestHead, _ body: [UInt8], seed: UInt64, _ v: inout Violations) {
            var text = "\(head.method) \(head.uri) HTTP/\(head.version.major).\(head.version.minor)\r\n"
            let chunked = head.header("Transfer-Encoding") != nil
            for (name, value) in head.headers { text += "\(name): \(value)\r\n" }
            text += "\r\n"
            var buffer = ByteBuffer(string: text)
            if chunked {
                var state = seed
                var rest = body[...]
                while !rest.isEmpty {
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    let n = min(rest.count, Int((state >> 33) % 200) + 1)
                    // Leading zeros and an extension now and then.
                    let zeros = String(repeating: "0", count: Int((state >> 20) % 3))
                    let ext = (state >> 40) % 2 == 0 ? "" : ";n=\(n)"
                    buffer.writeString(zeros + String(n, radix: 16) + ext + "\r\n")
                    buffer.writeBytes(rest.prefix(n))
                    buffer.writeString("\r\n")
                    rest = rest.dropFirst(n)
                }
                buffer.writeString("0\r\nX-Trailer: 1\r\n\r\n")
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
                v.expect(
                    Array(againBody.readableBytesView) == body, "a body of \(body.count) bytes changed when written out (chunked: \(chunked)) and parsed again")
                v.expect(buffer.readableBytes == 0, "\(buffer.readableBytes) bytes were left after a request written out again")
            } catch {
                v.fail("request \(preview(text)) written out again was refused: \(error)")
            }
        }
    }
#endif

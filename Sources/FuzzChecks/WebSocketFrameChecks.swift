#if DEBUG
    import NIOCore
    @testable import SockJS

    /// Properties of the websocket frame readers (RFC 6455 and hixie-76) for any bytes a client sends.
    ///
    /// - Reading gives frames and then either an error, or a wait for more bytes; never a crash,
    ///   never a frame longer than the limit, always progress (each frame consumes bytes).
    /// - Reading the bytes in small pieces, as they arrive from a socket, gives exactly the same
    ///   frames and the same error as reading them at once.
    /// - An RFC 6455 frame that was read, masked again and re-read is the same frame.
    enum WebSocketFrameChecks {
        static let maxFrameSize = 1024

        enum Outcome: Equatable {
            case frame(WebSocketFrame)
            case hixie(Hixie76.Frame)
            case failed(String)
        }

        static func check(_ bytes: [UInt8]) -> [String] {
            var v = Violations()
            let whole = readRFC6455(pieces: [bytes[...]], &v)
            let pieces = readRFC6455(pieces: split(bytes), &v)
            v.expect(whole == pieces, "RFC 6455 frames of \(preview(bytes)) differ when read in pieces")
            for case .frame(let frame) in whole {
                checkRoundTrip(frame, &v)
            }
            let hixieWhole = readHixie(pieces: [bytes[...]], &v)
            let hixiePieces = readHixie(pieces: split(bytes), &v)
            v.expect(hixieWhole == hixiePieces, "hixie-76 frames of \(preview(bytes)) differ when read in pieces")
            let key = String(decoding: bytes.prefix(64), as: UTF8.self)
            if let n = Hixie76.keyNumber(key) {
                v.expect(Hixie76.challengeAnswer(key1: n, key2: n, nonce: Array(bytes.prefix(8))).count == 16, "hixie challenge answer is not 16 bytes")
            }
            return v.list
        }

        /// Cuts `bytes` into pieces of 1 to 7 bytes, the sizes taken from the bytes themselves.
        static func split(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
            var pieces: [ArraySlice<UInt8>] = []
            var i = 0
            while i < bytes.count {
                let n = Int(bytes[i] % 7) + 1
                pieces.append(bytes[i..<min(bytes.count, i + n)])
                i += n
            }
            return pieces
        }

        static func readRFC6455(pieces: [ArraySlice<UInt8>], _ v: inout Violations) -> [Outcome] {
            let parser = WebSocketFrameParser(maxFrameSize: maxFrameSize)
            var buffer = ByteBuffer()
            var out: [Outcome] = []
            for piece in pieces {
                buffer.writeBytes(piece)
                while true {
                    let before = buffer.readableBytes
                    do {
                        guard let frame = try parser.next(from: &buffer) else { break }
                        v.expect(buffer.readableBytes < before, "a websocket frame was read without consuming bytes")
                        v.expect(frame.payload.readableBytes <= maxFrameSize, "a websocket frame of \(frame.payload.readableBytes) bytes passed the limit")
                        out.append(.frame(frame))
                    } catch {
                        out.append(.failed("\(error)"))
                        return out
                    }
                }
            }
            return out
        }

        static func readHixie(pieces: [ArraySlice<UInt8>], _ v: inout Violations) -> [Outcome] {
            var buffer = ByteBuffer()
            var out: [Outcome] = []
            // The resuming reader the server uses: read in pieces, it must find what a fresh search finds.
            var parser = WebSocketFrameParser(maxFrameSize: maxFrameSize)
            for piece in pieces {
                buffer.writeBytes(piece)
                while true {
                    let before = buffer.readableBytes
                    do {
                        guard let frame = try parser.nextHixieFrame(from: &buffer) else { break }
                        v.expect(buffer.readableBytes < before, "a hixie frame was read without consuming bytes")
                        if case .text(let text) = frame {
                            v.expect(text.readableBytes <= maxFrameSize, "a hixie frame of \(text.readableBytes) bytes passed the limit")
                        }
                        out.append(.hixie(frame))
                    } catch {
                        out.append(.failed("\(error)"))
                        return out
                    }
                }
            }
            return out
        }

        static func checkRoundTrip(_ frame: WebSocketFrame, _ v: inout Violations) {
            var buffer = ByteBuffer()
            let payload = Array(frame.payload.readableBytesView)
            let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
            buffer.writeInteger((frame.fin ? 0x80 : 0) | frame.opcode)
            if payload.count < 126 {
                buffer.writeInteger(UInt8(0x80 | payload.count))
            } else if payload.count <= 0xFFFF {
                buffer.writeInteger(UInt8(0x80 | 126))
                buffer.writeInteger(UInt16(payload.count))
            } else {
                buffer.writeInteger(UInt8(0x80 | 127))
                buffer.writeInteger(UInt64(payload.count))
            }
            buffer.writeBytes(mask)
            buffer.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset & 3] })
            let again = try? WebSocketFrameParser(maxFrameSize: maxFrameSize).next(from: &buffer)
            v.expect(again == frame, "websocket frame (opcode \(frame.opcode), \(payload.count) bytes) changed when re-masked and re-read")
            v.expect(buffer.readableBytes == 0, "re-reading a websocket frame left \(buffer.readableBytes) bytes")
        }
    }
#endif

import NIOCore

/// A pure, incremental HTTP/1.x request parser with hard limits.
///
/// It turns the bytes of one connection into complete requests (head and whole body). Memory
/// stays bounded: a head longer than ``Limits/maxHeadBytes`` or a body longer than
/// ``Limits/maxBodyBytes`` is an error as soon as it is known, never buffered. Bytes after a
/// request stay in the caller's buffer (they may be the next request or, after an upgrade,
/// websocket data).
struct HTTPRequestParser {
    /// The parser's limits.
    struct Limits: Sendable {
        /// Longest request line plus headers.
        var maxHeadBytes: Int
        /// Longest request body.
        var maxBodyBytes: Int
    }

    /// Why the bytes are not an acceptable request; each maps to a status code.
    enum ParseError: Error, Equatable {
        /// 431: the head is longer than the limit.
        case headTooLarge
        /// 413: the body is longer than the limit.
        case bodyTooLarge
        /// 400: not an HTTP/1.x request.
        case malformed
        /// 501: a transfer coding other than `chunked`.
        case unsupportedTransferEncoding

        var status: Int {
            switch self {
            case .headTooLarge: return 431
            case .bodyTooLarge: return 413
            case .malformed: return 400
            case .unsupportedTransferEncoding: return 501
            }
        }
    }

    private enum State {
        case head
        case body(HTTPRequestHead, remaining: Int, body: ByteBuffer)
        case chunkSize(HTTPRequestHead, body: ByteBuffer)
        case chunkData(HTTPRequestHead, remaining: Int, body: ByteBuffer)
        case chunkDataEnd(HTTPRequestHead, body: ByteBuffer)
        case trailers(HTTPRequestHead, body: ByteBuffer)
    }

    let limits: Limits
    private var state: State = .head
    /// Set when a head with `Expect: 100-continue` was read and its body is awaited; the
    /// connection answers `100 Continue` once (see ``takeContinueRequest()``).
    private var continueRequested = false

    /// Whether the client waits for `100 Continue` before sending the body; true once per request.
    mutating func takeContinueRequest() -> Bool {
        defer { continueRequested = false }
        return continueRequested
    }

    init(limits: Limits) {
        self.limits = limits
    }

    /// True while part of a request (head or body) has been read but not all of it.
    func hasPartialRequest(buffered: Int) -> Bool {
        if case .head = state { return buffered > 0 }
        return true
    }

    /// Reads the next complete request from `buffer`, or nil when more bytes are needed.
    mutating func next(from buffer: inout ByteBuffer) throws(ParseError) -> (head: HTTPRequestHead, body: ByteBuffer)? {
        while true {
            switch state {
            case .head:
                guard let head = try parseHead(from: &buffer) else { return nil }
                let expectsContinue = head.header("Expect")?.lowercased() == "100-continue"
                if let te = head.header("Transfer-Encoding") {
                    guard te.lowercased().trimmingSpacesString() == "chunked" else { throw .unsupportedTransferEncoding }
                    continueRequested = expectsContinue
                    state = .chunkSize(head, body: ByteBuffer())
                    continue
                }
                if let cl = head.header("Content-Length") {
                    guard let length = Int(cl.trimmingSpacesString()), length >= 0 else { throw .malformed }
                    guard length <= limits.maxBodyBytes else { throw .bodyTooLarge }
                    if length == 0 { return (head, ByteBuffer()) }
                    continueRequested = expectsContinue
                    state = .body(head, remaining: length, body: ByteBuffer())
                    continue
                }
                return (head, ByteBuffer())
            case .body(let head, let remaining, var body):
                let n = min(remaining, buffer.readableBytes)
                if n > 0, var slice = buffer.readSlice(length: n) { body.writeBuffer(&slice) }
                if n == remaining {
                    state = .head
                    continueRequested = false
                    return (head, body)
                }
                state = .body(head, remaining: remaining - n, body: body)
                return nil
            case .chunkSize(let head, let body):
                guard let line = try readLine(from: &buffer, limit: 1024) else { return nil }
                let sizeText = line.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
                guard let size = Int(sizeText.trimmingSpacesString(), radix: 16), size >= 0 else { throw .malformed }
                guard body.readableBytes + size <= limits.maxBodyBytes else { throw .bodyTooLarge }
                state = size == 0 ? .trailers(head, body: body) : .chunkData(head, remaining: size, body: body)
            case .chunkData(let head, let remaining, var body):
                let n = min(remaining, buffer.readableBytes)
                if n > 0, var slice = buffer.readSlice(length: n) { body.writeBuffer(&slice) }
                if n == remaining {
                    state = .chunkDataEnd(head, body: body)
                } else {
                    state = .chunkData(head, remaining: remaining - n, body: body)
                    return nil
                }
            case .chunkDataEnd(let head, let body):
                guard let line = try readLine(from: &buffer, limit: 2) else { return nil }
                guard line.isEmpty else { throw .malformed }
                state = .chunkSize(head, body: body)
            case .trailers(let head, let body):
                guard let line = try readLine(from: &buffer, limit: limits.maxHeadBytes) else { return nil }
                if line.isEmpty {
                    state = .head
                    return (head, body)
                }
            }
        }
    }

    private func readLine(from buffer: inout ByteBuffer, limit: Int) throws(ParseError) -> String? {
        let view = buffer.readableBytesView
        guard let lf = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > limit + 2 { throw .malformed }
            return nil
        }
        var length = lf - view.startIndex
        let lineBytes = view[view.startIndex..<lf]
        if lineBytes.last == UInt8(ascii: "\r") { length -= 1 }
        let text = String(decoding: view[view.startIndex..<(view.startIndex + length)], as: UTF8.self)
        buffer.moveReaderIndex(forwardBy: lf - view.startIndex + 1)
        return text
    }

    private func parseHead(from buffer: inout ByteBuffer) throws(ParseError) -> HTTPRequestHead? {
        let view = buffer.readableBytesView
        // Tolerate empty lines before a request (RFC 9112 2.2).
        var start = view.startIndex
        while start < view.endIndex, view[start] == UInt8(ascii: "\r") || view[start] == UInt8(ascii: "\n") { start += 1 }
        guard let end = findHeadEnd(view, from: start) else {
            if view.count > limits.maxHeadBytes { throw .headTooLarge }
            return nil
        }
        guard end.headEnd - view.startIndex <= limits.maxHeadBytes else { throw .headTooLarge }
        let headBytes = view[start..<end.headEnd]
        buffer.moveReaderIndex(forwardBy: end.consumedEnd - view.startIndex)

        var lines = headBytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line -> Substring in
            var l = line[...]
            if l.last == UInt8(ascii: "\r") { l = l.dropLast() }
            return Substring(decoding: l, as: UTF8.self)
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let requestLine = lines.first else { throw .malformed }
        let parts = requestLine.utf8.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true).map { Substring($0) }
        guard parts.count == 3 else { throw .malformed }
        let method = String(parts[0])
        guard !method.isEmpty, method.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else { throw .malformed }
        let versionText = parts[2]
        guard versionText.hasPrefix("HTTP/"), versionText.count == 8 else { throw .malformed }
        let digits = Array(versionText.utf8.suffix(3))
        guard digits[1] == UInt8(ascii: "."),
              digits[0] == UInt8(ascii: "1"),
              digits[2] >= UInt8(ascii: "0"), digits[2] <= UInt8(ascii: "9")
        else { throw .malformed }
        let version = (major: 1, minor: Int(digits[2] - UInt8(ascii: "0")))
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(lines.count - 1)
        for line in lines.dropFirst() {
            // Bytes, not characters: ":" or " " followed by a combining mark is one Character.
            guard let colon = line.utf8.firstIndex(of: UInt8(ascii: ":")) else { throw .malformed }
            let name = line[..<colon]
            guard !name.isEmpty, !name.utf8.contains(UInt8(ascii: " ")), !name.utf8.contains(UInt8(ascii: "\t")) else { throw .malformed }
            let value = line[line.utf8.index(after: colon)...].trimmingSpaces()
            // A bare CR or a NUL inside a value could split a response that echoes it (CORS, hixie).
            guard !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x00 }) else { throw .malformed }
            headers.append((String(name), String(value)))
        }
        return HTTPRequestHead(method: method, uri: String(parts[1]), version: version, headers: headers)
    }

    private func findHeadEnd(_ view: ByteBufferView, from start: Int) -> (headEnd: Int, consumedEnd: Int)? {
        var i = start
        let limit = min(view.endIndex, view.startIndex + limits.maxHeadBytes + 4)
        while i < limit {
            if view[i] == UInt8(ascii: "\n") {
                if i + 1 < view.endIndex, view[i + 1] == UInt8(ascii: "\n") {
                    return (i, i + 2)
                }
                if i + 2 < view.endIndex, view[i + 1] == UInt8(ascii: "\r"), view[i + 2] == UInt8(ascii: "\n") {
                    return (i, i + 3)
                }
            }
            i += 1
        }
        return nil
    }
}

extension String {
    func trimmingSpacesString() -> String {
        String(Substring(self).trimmingSpaces())
    }
}

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
        /// 400: the body's length is ambiguous: `Content-Length` and `Transfer-Encoding` both,
        /// `Content-Length` values that differ, or `Transfer-Encoding` on HTTP/1.0 (RFC 9112 6.1,
        /// 6.3: request smuggling through a proxy lives in that ambiguity).
        case ambiguousLength

        var status: Int {
            switch self {
            case .headTooLarge: return 431
            case .bodyTooLarge: return 413
            case .malformed, .ambiguousLength: return 400
            case .unsupportedTransferEncoding: return 501
            }
        }

        /// The one sentence the client reads in the error response.
        var message: String {
            switch self {
            case .headTooLarge: return "The request head is larger than this server accepts; send fewer or shorter headers.\n"
            case .bodyTooLarge: return "The request body is larger than this server accepts; send less data per request.\n"
            case .malformed: return "The request is not valid HTTP/1.x.\n"
            case .unsupportedTransferEncoding: return "Only the chunked transfer coding is supported.\n"
            case .ambiguousLength:
                return "The request's body length is ambiguous; send either one Content-Length or Transfer-Encoding: chunked (HTTP/1.1), not both.\n"
            }
        }
    }

    private enum State {
        case head
        case body(HTTPRequestHead, remaining: Int, body: ByteBuffer)
        /// `framing`: bytes of chunk-size lines, extensions and trailers read so far for this
        /// request; they may not exceed ``Limits/maxHeadBytes`` (else 413), so a client cannot
        /// send a small body as an endless stream of tiny chunks, long extensions or trailers.
        case chunkSize(HTTPRequestHead, body: ByteBuffer, framing: Int)
        case chunkData(HTTPRequestHead, remaining: Int, body: ByteBuffer, framing: Int)
        case chunkDataEnd(HTTPRequestHead, body: ByteBuffer, framing: Int)
        case trailers(HTTPRequestHead, body: ByteBuffer, framing: Int)
    }

    /// Longest chunk-size line (size, extensions) the parser reads.
    static let maxChunkLineBytes = 1024

    let limits: Limits
    private var state: State = .head
    /// Set when a head with `Expect: 100-continue` was read and its body is awaited; the
    /// connection answers `100 Continue` once (see ``takeContinueRequest()``).
    private var continueRequested = false
    /// How many readable bytes of an incomplete head were already searched for its end, so a
    /// head that arrives a byte at a time is scanned once, not once per byte.
    private var headScanned = 0

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
    ///
    /// Every length read off the wire is range-checked before any arithmetic: `Content-Length`
    /// and chunk sizes are parsed digit by digit and refused (413) as soon as they pass the body
    /// limit, whatever their number of digits; signs, spaces inside and non-digits are 400.
    mutating func next(from buffer: inout ByteBuffer) throws(ParseError) -> (head: HTTPRequestHead, body: ByteBuffer)? {
        while true {
            switch state {
            case .head:
                guard let head = try parseHead(from: &buffer) else { return nil }
                let expectsContinue = head.header("Expect")?.lowercased() == "100-continue"
                switch try Self.bodyFraming(of: head, maxBodyBytes: limits.maxBodyBytes) {
                case .none:
                    return (head, ByteBuffer())
                case .chunked:
                    continueRequested = expectsContinue
                    state = .chunkSize(head, body: ByteBuffer(), framing: 0)
                    continue
                case .length(let length):
                    if length == 0 { return (head, ByteBuffer()) }
                    continueRequested = expectsContinue
                    state = .body(head, remaining: length, body: ByteBuffer())
                    continue
                }
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
            case .chunkSize(let head, let body, let framing):
                guard let (line, consumed) = try readLine(from: &buffer, limit: Self.maxChunkLineBytes) else { return nil }
                let framing = try Self.addFraming(framing, consumed, limit: limits.maxHeadBytes)
                // The body so far is within the limit, so the room left is never negative.
                let size = try Self.chunkSize(line, atMost: limits.maxBodyBytes - body.readableBytes)
                state = size == 0 ? .trailers(head, body: body, framing: framing) : .chunkData(head, remaining: size, body: body, framing: framing)
            case .chunkData(let head, let remaining, var body, let framing):
                let n = min(remaining, buffer.readableBytes)
                if n > 0, var slice = buffer.readSlice(length: n) { body.writeBuffer(&slice) }
                if n == remaining {
                    state = .chunkDataEnd(head, body: body, framing: framing)
                } else {
                    state = .chunkData(head, remaining: remaining - n, body: body, framing: framing)
                    return nil
                }
            case .chunkDataEnd(let head, let body, let framing):
                guard let (line, _) = try readLine(from: &buffer, limit: 0) else { return nil }
                guard line.isEmpty else { throw .malformed }
                state = .chunkSize(head, body: body, framing: framing)
            case .trailers(let head, let body, let framing):
                guard let (line, consumed) = try readLine(from: &buffer, limit: limits.maxHeadBytes) else { return nil }
                let framing = try Self.addFraming(framing, consumed, limit: limits.maxHeadBytes)
                if line.isEmpty {
                    state = .head
                    continueRequested = false
                    return (head, body)
                }
                // A trailer field is read and dropped; it must still look like one.
                guard line.utf8.contains(UInt8(ascii: ":")), !line.utf8.contains(where: { $0 == 0x0D || $0 == 0x00 }) else { throw .malformed }
                state = .trailers(head, body: body, framing: framing)
            }
        }
    }

    /// How a request's body is delimited.
    enum BodyFraming: Equatable {
        case none
        case length(Int)
        case chunked
    }

    /// The body framing a head asks for (RFC 9112 6.1-6.3), refusing every ambiguous case.
    ///
    /// - `Transfer-Encoding` (all its fields together) must be exactly `chunked`; another coding
    ///   is 501; with `Content-Length` too, or on HTTP/1.0, it is ``ParseError/ambiguousLength``.
    /// - Every `Content-Length` field and list element must be the same run of digits;
    ///   differing values are ``ParseError/ambiguousLength``, anything but digits is
    ///   ``ParseError/malformed``, a value over `maxBodyBytes` is ``ParseError/bodyTooLarge``.
    static func bodyFraming(of head: HTTPRequestHead, maxBodyBytes: Int) throws(ParseError) -> BodyFraming {
        var codings: [Substring] = []
        var lengths: [Substring] = []
        var sawTransferEncoding = false
        var sawContentLength = false
        for (name, value) in head.headers {
            if name.utf8.count == 17, name.lowercased() == "transfer-encoding" {
                sawTransferEncoding = true
                codings += value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces() }
            } else if name.utf8.count == 14, name.lowercased() == "content-length" {
                sawContentLength = true
                lengths += value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces() }
            }
        }
        if sawTransferEncoding {
            guard !sawContentLength, head.version.minor >= 1 else { throw .ambiguousLength }
            guard !codings.contains(where: \.isEmpty) else { throw .malformed }
            guard codings.count == 1, codings[0].lowercased() == "chunked" else {
                // `chunked` twice, or any other coding (gzip, identity...).
                throw .unsupportedTransferEncoding
            }
            return .chunked
        }
        guard sawContentLength else { return .none }
        let first = lengths[0]
        guard lengths.allSatisfy({ $0 == first }) else {
            let allNumbers = lengths.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(isDigit) })
            throw allNumbers ? ParseError.ambiguousLength : ParseError.malformed
        }
        return .length(try decimal(first, atMost: maxBodyBytes))
    }

    /// A run of decimal digits as a number, refused (413) once it passes `atMost`, whatever
    /// its length; leading zeros are fine, anything but digits is 400.
    static func decimal(_ text: Substring, atMost limit: Int) throws(ParseError) -> Int {
        guard !text.isEmpty, text.utf8.allSatisfy(isDigit) else { throw .malformed }
        var value = 0
        for c in text.utf8 {
            // value <= limit here, so value * 10 + 9 cannot overflow unless limit is near Int.max.
            let (scaled, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = scaled.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
            guard !o1, !o2, sum <= limit else { throw .bodyTooLarge }
            value = sum
        }
        return value
    }

    /// The size of a chunk-size line (`1*HEXDIG [ BWS ";" extensions ]`), refused (413) once
    /// it passes `atMost`, whatever its number of digits (leading zeros are fine).
    static func chunkSize(_ line: Substring, atMost limit: Int) throws(ParseError) -> Int {
        var value = 0
        var digits = 0
        var index = line.utf8.startIndex
        while index < line.utf8.endIndex, let digit = hexValue(line.utf8[index]) {
            let (scaled, o1) = value.multipliedReportingOverflow(by: 16)
            let (sum, o2) = scaled.addingReportingOverflow(Int(digit))
            guard !o1, !o2, sum <= limit else { throw .bodyTooLarge }
            value = sum
            digits += 1
            index = line.utf8.index(after: index)
        }
        guard digits > 0 else { throw .malformed }
        // After the digits: nothing, or optional spaces and `;` extensions (which are ignored
        // but may not hold a CR or a NUL).
        let rest = line[index...].trimmingSpaces()
        guard rest.isEmpty || (rest.utf8.first == UInt8(ascii: ";") && !rest.utf8.contains(where: { $0 == 0x0D || $0 == 0x00 })) else {
            throw .malformed
        }
        return value
    }

    private static func addFraming(_ framing: Int, _ bytes: Int, limit: Int) throws(ParseError) -> Int {
        // Both are at most a few times `limit`: no overflow.
        let total = framing + bytes
        guard total <= limit else { throw .bodyTooLarge }
        return total
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    private static func hexValue(_ c: UInt8) -> UInt8? { HTTPForm.hexValue(c) }

    /// Reads one line ending in LF (an optional CR before it is dropped) whose text is at most
    /// `limit` bytes; only that many bytes are searched, so a longer line is an error at once,
    /// never a scan of everything buffered. Returns the text and the bytes consumed.
    private func readLine(from buffer: inout ByteBuffer, limit: Int) throws(ParseError) -> (Substring, Int)? {
        let view = buffer.readableBytesView
        let searched = view.prefix(limit + 2)
        guard let lf = searched.firstIndex(of: UInt8(ascii: "\n")) else {
            if searched.count == limit + 2 { throw .malformed }
            return nil
        }
        var end = lf
        if end > view.startIndex, view[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        guard end - view.startIndex <= limit else { throw .malformed }
        let text = Substring(decoding: view[view.startIndex..<end], as: UTF8.self)
        let consumed = lf - view.startIndex + 1
        buffer.moveReaderIndex(forwardBy: consumed)
        return (text, consumed)
    }

    private mutating func parseHead(from buffer: inout ByteBuffer) throws(ParseError) -> HTTPRequestHead? {
        let view = buffer.readableBytesView
        // Tolerate empty lines before a request (RFC 9112 2.2).
        var start = view.startIndex
        while start < view.endIndex, view[start] == UInt8(ascii: "\r") || view[start] == UInt8(ascii: "\n") { start += 1 }
        // Resume where the last call stopped (minus the three bytes a head end may straddle).
        guard let end = findHeadEnd(view, from: max(start, view.startIndex + headScanned - 3)) else {
            if view.count > limits.maxHeadBytes { throw .headTooLarge }
            headScanned = view.count
            return nil
        }
        headScanned = 0
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

import Foundation

/// HTTP/1.x exchanges over a `TestSocket`, one request a connection, read until the server
/// closes: for checking exactly what the server under test puts on the wire.
public enum TestHTTP {
    /// The largest response a request reads; a larger one is an error.
    public static let responseLimit = 8 << 20

    /// One request on its own connection. HTTP/1.0, so the server closes after the response
    /// and the body ends there; `Content-Length` is added for a POST or a body.
    public static func request(
        port: Int,
        method: String = "GET",
        path: String,
        body: String = "",
        headers: [String: String] = [:]
    ) throws -> TestHTTPResponse {
        var head = "\(method) \(path) HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if method == "POST" || !body.isEmpty { head += "Content-Length: \(body.utf8.count)\r\n" }
        return try request(port: port, raw: Array((head + "\r\n" + body).utf8))
    }

    /// Sends `raw` as it is and reads the response until the server closes (so an HTTP/1.1
    /// request should say `Connection: close`).
    public static func request(port: Int, raw: String) throws -> TestHTTPResponse {
        try request(port: port, raw: Array(raw.utf8))
    }

    /// Sends `raw` bytes as they are and reads the response until the server closes.
    public static func request(port: Int, raw: [UInt8]) throws -> TestHTTPResponse {
        let socket = try TestSocket(port: port)
        try socket.write(raw)
        var response: [UInt8] = []
        while true {
            let chunk = try socket.read()
            if chunk.isEmpty { break }
            response += chunk
            if response.count > responseLimit { throw TestSocketError("the response is over \(responseLimit) bytes") }
        }
        return try parse(response)
    }

    /// Asks `path` every 100 ms until it answers `status`; false if it did not within `timeout`.
    public static func waitForStatus(_ status: Int, port: Int, path: String, timeout: Duration = .seconds(15)) async -> Bool {
        (try? await eventually("\(path) to answer \(status)", timeout: timeout, interval: .milliseconds(100)) {
            (try? request(port: port, path: path))?.status == status
        }) != nil
    }

    /// A whole response: head, headers and body (de-chunked when the head says chunked).
    public static func parse(_ raw: [UInt8]) throws -> TestHTTPResponse {
        guard let end = headEnd(raw) else {
            throw TestSocketError("no complete HTTP response head in: \(String(decoding: raw.prefix(200), as: UTF8.self))")
        }
        let head = String(decoding: raw[0..<end], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw TestSocketError("bad status line in: \(head.prefix(200))") }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(raw[(end + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = dechunk(body).body }
        return TestHTTPResponse(status: status, head: head, headers: headers, body: body)
    }

    /// Where the head ends: the index of its blank line's `\r\n\r\n`, nil while incomplete.
    public static func headEnd(_ raw: [UInt8]) -> Int? {
        guard raw.count >= 4 else { return nil }
        for i in 0...(raw.count - 4) where raw[i] == 13 && raw[i + 1] == 10 && raw[i + 2] == 13 && raw[i + 3] == 10 {
            return i
        }
        return nil
    }

    /// Decodes as many complete chunks as `raw` holds; returns them, the bytes left over (empty
    /// once the last chunk has come) and whether the last (zero-size) chunk came. A reader of a
    /// streaming response must use `ended`, not the bytes it last read: the last chunk can come
    /// alone, after the chunk before it was already decoded.
    public static func dechunk(_ raw: [UInt8]) -> (body: [UInt8], rest: [UInt8], ended: Bool) {
        var body: [UInt8] = []
        var i = 0
        while true {
            guard let lineEnd = (i..<max(i, raw.count - 1)).first(where: { raw[$0] == 13 && raw[$0 + 1] == 10 }) else { break }
            let sizeText = String(decoding: raw[i..<lineEnd], as: UTF8.self).split(separator: ";").first.map(String.init) ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else { break }
            let start = lineEnd + 2
            if size == 0 { return (body, [], true) }
            guard size <= raw.count, start + size + 2 <= raw.count else { break }
            body += raw[start..<(start + size)]
            i = start + size + 2
        }
        return (body, Array(raw[i...]), false)
    }
}

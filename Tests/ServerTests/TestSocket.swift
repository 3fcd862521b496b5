import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP connection to 127.0.0.1 with a receive timeout, for talking HTTP to the server
/// under test byte by byte. Every read is bounded by the timeout, so a test never hangs.
final class TestSocket {
    let fd: Int32

    init(port: Int, timeout: Duration = .seconds(10)) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSocketError("socket() failed") }
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw TestSocketError("cannot connect to 127.0.0.1:\(port)")
        }
    }

    deinit { close(fd) }

    func write(_ text: String) throws {
        try writeBytes(Array(text.utf8))
    }

    /// Shuts the connection down at once (the peer sees the TCP connection end, nothing else).
    func closeNow() {
        shutdown(fd, Int32(SHUT_RDWR))
    }

    func writeBytes(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestSocketError("send failed") }
            sent += n
        }
    }

    /// Some bytes; empty at end of stream; throws on timeout.
    func read() throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 { throw TestSocketError("no data before the timeout") }
        return Array(buffer[0..<n])
    }
}

struct TestSocketError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A whole HTTP response.
struct TestHTTPResponse {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

enum TestHTTP {
    /// One request on its own connection (HTTP/1.0, so the body ends when the server closes).
    static func request(port: Int, method: String = "GET", path: String, body: String = "", headers: [String: String] = [:]) throws -> TestHTTPResponse {
        let socket = try TestSocket(port: port)
        var head = "\(method) \(path) HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if method == "POST" || !body.isEmpty { head += "Content-Length: \(body.utf8.count)\r\n" }
        try socket.write(head + "\r\n" + body)
        var raw: [UInt8] = []
        while true {
            let chunk = try socket.read()
            if chunk.isEmpty { break }
            raw += chunk
            if raw.count > 8 * 1024 * 1024 { throw TestSocketError("response over 8 MiB") }
        }
        return try parse(raw)
    }

    /// Asks `path` every 100 ms until it answers `status`; false if it did not within `timeout`.
    static func waitForStatus(_ status: Int, port: Int, path: String, timeout: Duration = .seconds(15)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? request(port: port, path: path))?.status == status { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    static func parse(_ raw: [UInt8]) throws -> TestHTTPResponse {
        guard let end = headEnd(raw) else { throw TestSocketError("no complete response head") }
        let head = String(decoding: raw[0..<end], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw TestSocketError("bad status line") }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(raw[(end + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = dechunk(body).body }
        return TestHTTPResponse(status: status, headers: headers, body: body)
    }

    static func headEnd(_ raw: [UInt8]) -> Int? {
        guard raw.count >= 4 else { return nil }
        for i in 0...(raw.count - 4) where raw[i] == 13 && raw[i + 1] == 10 && raw[i + 2] == 13 && raw[i + 3] == 10 {
            return i
        }
        return nil
    }

    /// Decodes as many complete chunks as `raw` holds; returns them and the bytes left over.
    static func dechunk(_ raw: [UInt8]) -> (body: [UInt8], rest: [UInt8]) {
        var body: [UInt8] = []
        var i = 0
        while true {
            guard let lineEnd = (i..<max(i, raw.count - 1)).first(where: { raw[$0] == 13 && raw[$0 + 1] == 10 }) else { break }
            let sizeText = String(decoding: raw[i..<lineEnd], as: UTF8.self).split(separator: ";").first.map(String.init) ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { break }
            let start = lineEnd + 2
            if size == 0 { return (body, []) }
            guard start + size + 2 <= raw.count else { break }
            body += raw[start..<(start + size)]
            i = start + size + 2
        }
        return (body, Array(raw[i...]))
    }
}

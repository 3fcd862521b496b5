import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP socket to 127.0.0.1 with a receive timeout, for requests no well-behaved
/// client would send: a head that trickles in, a body far over the limit, bytes that are not UTF-8.
final class RawSocket {
    private let fd: Int32

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(port: Int, receiveTimeout: Duration = .seconds(15), receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        let (seconds, attoseconds) = receiveTimeout.components
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw Failure(description: "could not connect to 127.0.0.1:\(port)")
        }
    }

    deinit { close(fd) }

    /// Writes all of `bytes`; false when the peer has closed.
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    @discardableResult
    func write(_ text: String) -> Bool { write(Array(text.utf8)) }

    /// Reads what is there (waiting up to the receive timeout); empty at end of stream or timeout.
    func read() -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(buffer[0..<n]) : []
    }

    /// Reads until the peer closes or the receive timeout passes with nothing new.
    func readUntilClosed(limit: Int = 1 << 20) -> (bytes: [UInt8], closed: Bool) {
        var all: [UInt8] = []
        while all.count < limit {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return (all, true) }
            if n < 0 { return (all, errno == ECONNRESET) }
            all += buffer[0..<n]
        }
        return (all, false)
    }
}

/// One raw HTTP/1.1 exchange.
enum RawHTTP {
    struct Response {
        var status: Int
        var head: String
        var body: String
    }

    /// Sends `request` as is and reads the response until the server closes (send `Connection: close`).
    static func request(port: Int, _ request: String) throws -> Response {
        try self.request(port: port, Array(request.utf8))
    }

    static func request(port: Int, _ request: [UInt8]) throws -> Response {
        let socket = try RawSocket(port: port)
        socket.write(request)
        let (bytes, _) = socket.readUntilClosed()
        return try parse(bytes)
    }

    static func parse(_ bytes: [UInt8]) throws -> Response {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw RawSocket.Failure(description: "no HTTP response: \(text.prefix(200))") }
        let head = String(text[..<split.lowerBound])
        let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        var body = String(text[split.upperBound...])
        if head.lowercased().contains("transfer-encoding: chunked") { body = dechunk(body) }
        return Response(status: status, head: head, body: body)
    }

    private static func dechunk(_ body: String) -> String {
        var rest = Substring(body)
        var out = ""
        while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16), size > 0 {
            let start = lineEnd.upperBound
            let utf8 = rest.utf8
            guard let end = utf8.index(start, offsetBy: size, limitedBy: utf8.endIndex) else { break }
            out += String(rest[start..<end])
            rest = rest[end...].dropFirst(2)
        }
        return out
    }
}

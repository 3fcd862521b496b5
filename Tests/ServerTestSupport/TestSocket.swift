import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking TCP connection to 127.0.0.1 with send and receive timeouts, for talking to the
/// server under test byte by byte: requests no well-behaved client would send (a head that
/// trickles in, a body far over the limit, bytes that are not UTF-8), or HTTP exchanges read
/// by hand. Every read and write is bounded by the timeout, so a test never hangs.
///
/// One test owns a socket and uses it from one task; it is not `Sendable`.
public final class TestSocket {
    /// The socket's file descriptor, closed when the object goes away.
    public let fd: Int32

    /// Connects to 127.0.0.1:`port`. `timeout` bounds every read and write;
    /// `receiveBuffer` (bytes) shrinks the kernel's receive buffer, to make the server's
    /// writes block sooner.
    public init(port: Int, timeout: Duration = .seconds(10), receiveBuffer: Int32? = nil) throws {
        // The descriptor is set up in a local and stored only once connected: a throw after
        // `self.fd` is set would run `deinit`, and a second `close` of the same number can
        // close a descriptor that another part of the test process (SwiftNIO) opened meanwhile.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSocketError("socket() failed (errno \(errno))") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        let (seconds, attoseconds) = timeout.components
        var limit = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = Self.loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw TestSocketError("cannot connect to 127.0.0.1:\(port)")
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// 127.0.0.1:`port` as a socket address.
    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port` (waiting at most `timeout`).
    public static func accepts(port: Int, timeout: Duration = .seconds(1)) -> Bool {
        (try? TestSocket(port: port, timeout: timeout)) != nil
    }

    /// Writes all of `bytes`; throws when the peer has closed or the send timeout passed.
    public func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestSocketError("send failed after \(sent) of \(bytes.count) bytes (errno \(errno))") }
            sent += n
        }
    }

    /// Writes `text` as UTF-8.
    public func write(_ text: String) throws {
        try write(Array(text.utf8))
    }

    /// Some bytes, as soon as any arrive; empty at end of stream; throws when the receive
    /// timeout passes with nothing (or the connection was reset).
    public func read() throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 { throw TestSocketError("no data before the timeout (errno \(errno))") }
        return Array(buffer[0..<n])
    }

    /// Reads until the peer closes, the receive timeout passes with nothing new, or `limit`
    /// bytes have come; `closed` says whether the peer closed (or reset) the connection.
    public func readUntilClosed(limit: Int = 1 << 20) -> (bytes: [UInt8], closed: Bool) {
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

    /// Shuts the connection down at once (the peer sees the TCP connection end, nothing else).
    public func closeNow() {
        shutdown(fd, Int32(SHUT_RDWR))
    }
}

/// A raw socket or raw HTTP exchange with the server under test failed; the description says how.
public struct TestSocketError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

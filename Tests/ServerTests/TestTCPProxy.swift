import Foundation
import ServerTestSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP forwarder on 127.0.0.1 that a test can cut and restore: it stands between rabbitChat
/// and RabbitMQ so a test can take the broker away from one process without touching the broker.
/// Plain blocking sockets, one thread per direction; `cut()` closes the listener and every
/// forwarded connection, `restore()` listens again on the same port.
final class TestTCPProxy: Sendable {
    let port: Int
    private let target: Int
    private let sockets = Mutex<(listener: Int32, open: Set<Int32>)>((-1, []))

    init(to target: Int) throws {
        self.target = target
        let listener = try Self.listen(port: 0)
        port = Self.localPort(listener)
        sockets.withLock { $0.listener = listener }
        startAccepting(listener)
    }

    deinit { cut() }

    /// Drops every forwarded connection and stops accepting new ones.
    func cut() {
        let (listener, open) = sockets.withLock { state -> (Int32, Set<Int32>) in
            let taken = (state.listener, state.open)
            state = (-1, [])
            return taken
        }
        if listener >= 0 {
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
        }
        for fd in open {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
    }

    /// Accepts again on the same port.
    func restore() throws {
        let listener = try Self.listen(port: port)
        sockets.withLock { $0.listener = listener }
        startAccepting(listener)
    }

    private func startAccepting(_ listener: Int32) {
        let target = self.target
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { return }
                let upstream = Self.connect(port: target)
                guard upstream >= 0 else {
                    close(client)
                    continue
                }
                let stillListening = sockets.withLock { state -> Bool in
                    guard state.listener == listener else { return false }
                    state.open.insert(client)
                    state.open.insert(upstream)
                    return true
                }
                guard stillListening else {
                    close(client)
                    close(upstream)
                    return
                }
                Thread.detachNewThread { Self.pump(from: client, to: upstream) }
                Thread.detachNewThread { Self.pump(from: upstream, to: client) }
            }
        }
    }

    private static func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            var sent = 0
            while sent < n {
                let m = buffer[sent..<n].withUnsafeBytes { send(destination, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if m <= 0 {
                    shutdown(source, Int32(SHUT_RDWR))
                    return
                }
                sent += m
            }
        }
        shutdown(destination, Int32(SHUT_RDWR))
    }

    private static func listen(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard ok, Glibc.listen(fd, 64) == 0 else {
            close(fd)
            throw TestSocketError("the proxy cannot listen on 127.0.0.1:\(port)")
        }
        return fd
    }

    private static func connect(port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        if !ok {
            close(fd)
            return -1
        }
        return fd
    }

    private static func localPort(_ fd: Int32) -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

import Foundation
import Synchronization

/// A one-connection TCP forwarder on 127.0.0.1 that can go silent, so a test sees a broker
/// that stops answering without stopping the shared RabbitMQ. Its two pump threads and
/// sockets end with `stop()`.
final class BlackholeProxy: Sendable {
    let port: Int
    private let listener: Int32
    private let upstreamPort: Int
    private let state = Mutex(State())

    private struct State {
        var silent = false
        var stopped = false
        var sockets: [Int32] = []
    }

    init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1) == 0 else {
            close(fd)
            throw ProxyError()
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptOne() }
    }

    struct ProxyError: Error {}

    /// From now on nothing is forwarded in either direction (the sockets stay open).
    func goSilent() {
        state.withLock { $0.silent = true }
    }

    func stop() {
        let sockets = state.withLock { state in
            state.stopped = true
            defer { state.sockets = [] }
            return state.sockets
        }
        for fd in sockets { shutdown(fd, Int32(SHUT_RDWR)) }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptOne() {
        let client = accept(listener, nil, nil)
        guard client >= 0 else { return }
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: upstreamPort)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let keep = state.withLock { state in
            if !state.stopped { state.sockets = [client, upstream] }
            return !state.stopped
        }
        guard connected == 0, keep else {
            close(client)
            close(upstream)
            return
        }
        Thread.detachNewThread { [self] in pump(from: client, to: upstream, closing: true) }
        Thread.detachNewThread { [self] in pump(from: upstream, to: client, closing: false) }
    }

    private func pump(from source: Int32, to destination: Int32, closing: Bool) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            var descriptor = pollfd(fd: source, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 50)
            let (silent, stopped) = state.withLock { ($0.silent, $0.stopped) }
            if stopped { break }
            if silent || ready <= 0 { continue }
            let count = read(source, &buffer, buffer.count)
            if count <= 0 { break }
            var offset = 0
            while offset < count {
                let written = buffer.withUnsafeBytes { write(destination, $0.baseAddress! + offset, count - offset) }
                if written <= 0 { break }
                offset += written
            }
        }
        if closing {
            // One pump closes both sockets once the other has had time to notice the stop.
            Thread.sleep(forTimeInterval: 0.1)
            close(source)
            close(destination)
        }
    }
}

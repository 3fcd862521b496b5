#if canImport(Glibc)
    import Glibc
#endif

/// Loopback ports for servers that must be told their port up front.
public enum FreePort {
    /// A port on 127.0.0.1 that was free a moment ago: bound to port 0, read back, closed.
    /// Another process may take it before the test does; prefer `--port 0` and reading the
    /// banner (`ServerProcess.waitForPort`) where the server supports it.
    public static func next() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSocketError("socket() failed (errno \(errno))") }
        defer { close(fd) }
        var address = TestSocket.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw TestSocketError("cannot find a free port on 127.0.0.1 (errno \(errno))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

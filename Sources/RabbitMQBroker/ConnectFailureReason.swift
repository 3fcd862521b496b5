#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a TCP connection to `host:port` fails, in words ("connection refused", "host not
/// found", ...). rabbitmq-c only reports a generic socket error, so after it failed the
/// address is tried once more here, with a short timeout, to name the cause.
func connectFailureReason(host: String, port: Int, timeoutMilliseconds: Int32 = 2000) -> String {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    #else
        hints.ai_socktype = SOCK_STREAM
    #endif
    var list: UnsafeMutablePointer<addrinfo>?
    let resolved = getaddrinfo(host, String(port), &hints, &list)
    guard resolved == 0, let first = list else {
        return "host '\(host)' not found (\(String(cString: gai_strerror(resolved))))"
    }
    defer { freeaddrinfo(list) }
    var reason = "connection failed"
    var entry: UnsafeMutablePointer<addrinfo>? = first
    while let info = entry {
        defer { entry = info.pointee.ai_next }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { continue }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return "the connection worked on retry" }
        guard errno == EINPROGRESS else {
            reason = String(cString: strerror(errno)).lowercased()
            continue
        }
        var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&descriptor, 1, timeoutMilliseconds) > 0 else {
            reason = "timed out after \(timeoutMilliseconds / 1000) s"
            continue
        }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        if error == 0 { return "the connection worked on retry" }
        reason = String(cString: strerror(error)).lowercased()
    }
    return reason
}

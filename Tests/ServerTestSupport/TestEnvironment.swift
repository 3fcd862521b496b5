#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the environment says about the RabbitMQ that tests may use.
public enum TestEnvironment {
    /// `RABBITCHAT_TEST_AMQP_URL`, default `amqp://guest:guest@127.0.0.1:5672/`.
    public static let amqpURL: String = environment("RABBITCHAT_TEST_AMQP_URL") ?? "amqp://guest:guest@127.0.0.1:5672/"

    /// `RABBITCHAT_REQUIRE_RABBITMQ=1`: RabbitMQ cases always run, and fail when it is down.
    /// CI sets it, so that nothing is silently skipped there.
    public static let requireRabbitMQ: Bool = environment("RABBITCHAT_REQUIRE_RABBITMQ") == "1"

    /// Whether a TCP connection to the AMQP URL's host and port succeeds within 500 ms.
    /// Checked once per test process.
    public static let rabbitMQReachable: Bool = {
        let (host, port) = hostAndPort(of: amqpURL)
        return tcpConnects(host: host, port: port, timeoutMilliseconds: 500)
    }()

    /// Whether the RabbitMQ cases run: when RabbitMQ is reachable, or when it is required.
    /// Use as `@Test(.enabled(if: TestEnvironment.rabbitMQEnabled, TestEnvironment.skipMessage))`
    /// on RabbitMQ-only tests; parameterized tests get the same through `TestBroker.make`.
    public static var rabbitMQEnabled: Bool { requireRabbitMQ || rabbitMQReachable }

    /// Said by every RabbitMQ case that does not run.
    public static var skipMessage: String {
        "RabbitMQ not reachable at \(amqpURL): skipped (set RABBITCHAT_REQUIRE_RABBITMQ=1 to fail instead)"
    }

    /// Writes ``skipMessage`` to standard error, once per test process, so that a run
    /// without RabbitMQ says plainly that its RabbitMQ cases were skipped.
    public static let announceSkip: Void = {
        let line = Array("note: \(skipMessage)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }()

    /// Whether tests of `kind` run in this process.
    public static func isEnabled(_ kind: BackendKind) -> Bool {
        kind.isSimulator || rabbitMQEnabled
    }

    /// The value of an environment variable, nil when unset or empty.
    public static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    /// Host and port of `amqp://user:pass@host:port/vhost` (port 5672 when absent).
    static func hostAndPort(of url: String) -> (String, UInt16) {
        var rest = Substring(url)
        if let scheme = rest.firstRange(of: "://") { rest = rest[scheme.upperBound...] }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]) {
            return (String(rest[..<colon]), port)
        }
        return (rest.isEmpty ? "127.0.0.1" : String(rest), 5672)
    }

    /// A non-blocking IPv4 connect with a timeout: a cheap, synchronous reachability check.
    static func tcpConnects(host: String, port: UInt16, timeoutMilliseconds: Int32) -> Bool {
        let address = host == "localhost" ? "127.0.0.1" : host
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        guard inet_pton(AF_INET, address, &sin.sin_addr) == 1 else { return false }
        let started = withUnsafePointer(to: &sin) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if started == 0 { return true }
        guard errno == EINPROGRESS else { return false }
        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&pfd, 1, timeoutMilliseconds) == 1 else { return false }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else { return false }
        return error == 0
    }
}

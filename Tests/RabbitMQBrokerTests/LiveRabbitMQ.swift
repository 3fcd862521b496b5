import Broker
import Foundation
import RabbitMQBroker
import ServerTestSupport

/// Where the RabbitMQ-dependent tests find a broker, and whether they run.
///
/// They need a RabbitMQ at `RABBITCHAT_TEST_AMQP_URL` (default
/// `amqp://guest:guest@127.0.0.1:5672/`; start one with `scripts/rabbitmq.sh start`).
/// Without one they are skipped, because a developer's `swift test` should not fail for
/// lack of a broker; with `RABBITCHAT_REQUIRE_RABBITMQ=1` (CI) they always run, and fail
/// when no broker answers.
enum LiveRabbitMQ {
    static let url = ProcessInfo.processInfo.environment["RABBITCHAT_TEST_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/"

    static let required = ProcessInfo.processInfo.environment["RABBITCHAT_REQUIRE_RABBITMQ"] == "1"

    /// True when the tests that need RabbitMQ should run.
    static let enabled: Bool = required || reachable

    /// A TCP connect to the broker's address succeeds within a second.
    static var reachable: Bool {
        guard let parsed = try? AMQPURL(parsing: url) else { return false }
        return tcpConnects(host: parsed.host == "localhost" ? "127.0.0.1" : parsed.host, port: parsed.port)
    }

    static func tcpConnects(host: String, port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return false }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }

    static func broker(heartbeat: Duration = .seconds(10)) throws -> RabbitMQBroker {
        try RabbitMQBroker(url: url, heartbeat: heartbeat)
    }

    /// A name no other test run uses, for queues, exchanges and connections.
    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)-\(UInt32.random(in: .min ... .max))"
    }

    /// Runs rabbitmqctl ARGS against the test node (`RabbitMQControl`) and returns its output.
    @discardableResult
    static func rabbitmqctl(_ arguments: [String]) async throws -> String {
        try await RabbitMQControl.run(arguments, url: url)
    }

    struct CtlError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    /// Closes, through rabbitmqctl, the broker connection whose `connection_name` is `name`.
    static func closeConnection(named name: String) async throws {
        // The broker lists a new connection a moment after the login: retry briefly.
        var pid: String?
        try? await eventually("\(name) to be listed", timeout: .seconds(5), interval: .milliseconds(100)) {
            let listing = try await rabbitmqctl(["list_connections", "--quiet", "--no-table-headers", "pid", "client_properties"])
            pid = listing.split(separator: "\n").first { $0.contains("\"\(name)\"") }.map { String($0.split(separator: "\t").first ?? "") }
            return pid != nil
        }
        if let pid {
            _ = try await rabbitmqctl(["close_connection", pid, "closed by the test"])
            return
        }
        throw CtlError(
            message:
                "no connection named \(name) is listed by rabbitmqctl list_connections: the control tool may drive another RabbitMQ than the one the tests use \(RabbitMQControl.hint(for: url))"
        )
    }
}

import Foundation

/// rabbitmqctl against the RabbitMQ the tests use: `RABBITCHAT_TEST_RABBITMQCTL` when set (words
/// split on spaces, e.g. `/usr/lib/rabbitmq/bin/rabbitmqctl -n rabbit@myhost`), else this
/// project's `scripts/rabbitmq.sh ctl`, which drives only the node that script starts for the
/// URL's port. It runs through `ChildProcess`: rabbitmqctl boots an Erlang VM (seconds on a busy
/// machine) and must not hold a thread of the test run's cooperative pool meanwhile.
public enum RabbitMQControl {
    public static let command: [String] = {
        if let given = ProcessInfo.processInfo.environment["RABBITCHAT_TEST_RABBITMQCTL"],
            !given.trimmingCharacters(in: .whitespaces).isEmpty
        {
            return given.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        }
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/rabbitmq.sh")
        return ["/bin/bash", script.path, "ctl"]
    }()

    /// Said with every failure: which tool was used, and how to point it elsewhere.
    public static func hint(for url: String) -> String {
        let shown = redacted(url)
        if ProcessInfo.processInfo.environment["RABBITCHAT_TEST_RABBITMQCTL"] != nil {
            return "(the control tool is RABBITCHAT_TEST_RABBITMQCTL=\(command.joined(separator: " ")); it must control the RabbitMQ at \(shown))"
        }
        return
            "(the control tool is scripts/rabbitmq.sh ctl, which drives only the node that script started for this port; if RABBITCHAT_TEST_AMQP_URL=\(shown) is another RabbitMQ, set RABBITCHAT_TEST_RABBITMQCTL to the rabbitmqctl command that controls it)"
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs the control tool with `arguments` for the RabbitMQ at `url` (its port picks the
    /// node `scripts/rabbitmq.sh` drives) and returns its standard output.
    @discardableResult
    public static func run(_ arguments: [String], url: String) async throws -> String {
        var environment = ProcessInfo.processInfo.environment
        if let port = url.firstMatch(of: /:(\d+)\/?[^:@]*$/).map({ String($0.1) }) { environment["RABBITMQ_PORT"] = port }
        let result: ChildProcess.Result
        do {
            result = try await ChildProcess.run(command[0], Array(command.dropFirst()) + arguments, environment: environment)
        } catch {
            throw Failure(description: "could not run \(command[0]): \(error) \(hint(for: url))")
        }
        guard result.status == 0 else {
            throw Failure(description: "rabbitmqctl \(arguments.joined(separator: " ")) failed: \(result.errorOutput)\(result.output) \(hint(for: url))")
        }
        return result.output
    }

    /// `url` without the password of its user info.
    static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url.range(of: "@", options: .backwards),
            at.lowerBound > scheme.upperBound
        else { return url }
        let userInfo = url[scheme.upperBound..<at.lowerBound]
        let user = userInfo.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
        return url[..<scheme.upperBound] + user + url[at.lowerBound...]
    }
}

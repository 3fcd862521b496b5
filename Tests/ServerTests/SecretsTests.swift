import Foundation
import ServerTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Secrets stay secret, as a user of the `rabbitChat` binary meets it: no broker password in
/// anything it prints, broker URLs that `ps` does not show, a secret file only its owner reads.
@Suite("rabbitChat keeps its secrets", .serialized)
struct SecretsTests {
    /// Pieces of the password in every case below; none may appear in any output.
    static let pieces = ["Zq9s", "Ecr3t"]

    static func expectNoPassword(_ server: ServerProcess, _ comment: Comment? = nil) {
        for piece in pieces {
            #expect(!server.standardError.contains(piece), "stderr shows the password: \(server.standardError)")
            #expect(!server.standardOutput.contains(piece), "stdout shows the password: \(server.standardOutput)")
        }
    }

    @Test(
        "A broker URL that fails to parse, or holds @ , / in its password, is never printed with it",
        arguments: [
            "amqp://alice:Zq9sEcr3t@127.0.0.1:notaport/",
            "amqp://alice:Zq9s@Ecr3t@127.0.0.1:99999/",
            "amqp://alice:Zq9s/Ecr3t@127.0.0.1:5672/",
            "amqp://alice:Zq9s%zzEcr3t@127.0.0.1:5672/",
            "rabbit://alice:Zq9s@Ecr3t@127.0.0.1/",
            "alice:Zq9s,Ecr3t@127.0.0.1:5672",
            "amqp://alice:Zq9sEcr3t/",
            "amqp://alice:Zq9s,Ecr3t@127.0.0.1:notaport/,amqp://127.0.0.1:1/",
        ])
    func badBrokerURL(url: String) async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        for environment in [false, true] {
            let arguments = ["--port", "0", "--secret-file", folder.path + "/secret"] + (environment ? [] : ["--broker", url])
            let server = try ServerProcess(arguments, environment: environment ? ["RABBITCHAT_BROKER": url] : [:])
            let status = await server.waitForExit(timeout: .seconds(30))
            #expect(status != nil && status != 0)
            #expect(server.standardError.contains("rabbitChat:"), "one sentence: \(server.standardError)")
            #expect(!server.standardOutput.contains("http://"), "nothing started")
            Self.expectNoPassword(server)
            await server.stop()
        }
    }

    @Test(
        "A URL typed where no option takes it is quoted redacted in the error",
        arguments: [
            ["--port", "0", "amqp://alice:Zq9s@Ecr3t@127.0.0.1/"], ["--brokr", "amqp://alice:Zq9sEcr3t@127.0.0.1/"],
            ["--port", "0", "alice:Zq9s,Ecr3t@127.0.0.1"],
        ])
    func misplacedURL(arguments: [String]) async throws {
        let server = try ServerProcess(arguments)
        let status = await server.waitForExit(timeout: .seconds(20))
        #expect(status != nil && status != 0)
        #expect(server.standardError.hasPrefix("rabbitChat: "), "stderr: \(server.standardError)")
        Self.expectNoPassword(server)
        await server.stop()
    }

    @Test("A good URL whose broker is unreachable is named without its password, with @ and , in it")
    func unreachableBrokerWithAnAwkwardPassword() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let closed = try FreePort.next()
        let server = try ServerProcess([
            "--port", "0", "--secret-file", folder.path + "/secret",
            "--broker", "amqp://alice:Zq9s@,Ecr3t@127.0.0.1:\(closed)/",
        ])
        let status = await server.waitForExit(timeout: .seconds(30))
        #expect(status != nil && status != 0)
        #expect(server.standardError.contains("amqp://alice@127.0.0.1:\(closed)/"), "stderr: \(server.standardError)")
        Self.expectNoPassword(server)
        await server.stop()
    }

    @Test("--broker-file: read when its mode is 600, refused with `chmod 600` otherwise; never shown in ps")
    func brokerFile() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let closed = try FreePort.next()
        let file = folder.path + "/broker"
        try "# the broker\namqp://alice:Zq9s,Ecr3t@127.0.0.1:\(closed)/\n".write(toFile: file, atomically: false, encoding: .utf8)
        chmod(file, 0o644)
        let open = try ServerProcess(["--port", "0", "--secret-file", folder.path + "/secret", "--broker-file", file])
        #expect(await open.waitForExit(timeout: .seconds(30)) == 1)
        #expect(open.standardError.contains("chmod 600 \(file)"), "stderr: \(open.standardError)")
        Self.expectNoPassword(open)
        await open.stop()

        chmod(file, 0o600)
        let server = try ServerProcess(["--port", "0", "--secret-file", folder.path + "/secret", "--broker-file", file])
        #expect(await server.waitForExit(timeout: .seconds(30)) == 1)
        // It was read: the error is about that broker, by its redacted URL.
        #expect(server.standardError.contains("amqp://alice@127.0.0.1:\(closed)/"), "stderr: \(server.standardError)")
        Self.expectNoPassword(server)
        await server.stop()

        let both = try ServerProcess(["--port", "0", "--secret-file", folder.path + "/secret", "--broker-file", file, "--broker", "amqp://h/"])
        #expect(await both.waitForExit(timeout: .seconds(20)) != 0)
        #expect(both.standardError.contains("--broker-file"), "stderr: \(both.standardError)")
        await both.stop()
    }

    @Test("--help names --broker-file and RABBITCHAT_BROKER and shows no password")
    func help() async throws {
        let server = try ServerProcess(["--help"])
        #expect(await server.waitForExit(timeout: .seconds(20)) == 0)
        #expect(server.standardOutput.contains("--broker-file") && server.standardOutput.contains("RABBITCHAT_BROKER"))
        #expect(!server.standardOutput.contains("guest:guest"))
    }

    @Test(
        "A secret file others may read, or with a short key, stops the start with what to do",
        arguments: [
            (0o644, String(repeating: "ab", count: 32), "chmod 600"),
            (0o640, String(repeating: "ab", count: 32), "chmod 600"),
            (0o600, String(repeating: "ab", count: 16), "fewer than the 32 needed"),
        ])
    func secretFileRefused(mode: Int, contents: String, sentence: String) async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let secret = folder.path + "/secret"
        try (contents + "\n").write(toFile: secret, atomically: false, encoding: .utf8)
        chmod(secret, mode_t(mode))
        let server = try ServerProcess(["--port", "0", "--secret-file", secret])
        #expect(await server.waitForExit(timeout: .seconds(20)) == 1)
        let error = server.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(error.contains(sentence) && error.contains(secret), "stderr: \(error)")
        #expect(!error.contains("\n"), "one line: \(error)")
        #expect(!error.contains("abab"))
        #expect(!server.standardOutput.contains("http://"), "nothing started")
        await server.stop()
    }
}

/// The same over RabbitMQ: the chat over `amqps://`, and a node with another secret.
@Suite(
    "rabbitChat on RabbitMQ keeps its secrets", .serialized,
    .enabled(
        if: RabbitMQEnvironment.shouldRun,
        "RabbitMQ is not reachable at RABBITCHAT_TEST_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/); start it with scripts/rabbitmq.sh start, or set RABBITCHAT_REQUIRE_RABBITMQ=1 to fail instead"
    ))
struct RabbitMQSecretsTests {
    /// The test RabbitMQ's state folder, as scripts/rabbitmq.sh names it for the URL's port.
    static var stateFolder: String {
        let environment = ProcessInfo.processInfo.environment
        if let state = environment["RABBITCHAT_STATE"], !state.isEmpty { return state }
        let port = RabbitMQEnvironment.url.firstMatch(of: /:(\d+)\/?[^:]*$/).flatMap { Int($0.1) } ?? 5672
        return port == 5672 ? "/tmp/rabbitchat-rabbitmq" : "/tmp/rabbitchat-rabbitmq-\(port)"
    }

    /// `RABBITCHAT_TEST_AMQPS_URL`, else what scripts/rabbitmq.sh start wrote for its TLS listener.
    static var knownAMQPSURL: String? {
        if let url = ProcessInfo.processInfo.environment["RABBITCHAT_TEST_AMQPS_URL"], !url.isEmpty { return url }
        return (try? String(contentsOfFile: stateFolder + "/tls/amqps-url", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The TLS case runs when its listener answers, or when CI requires RabbitMQ (then a missing one fails).
    static var amqpsShouldRun: Bool {
        if RabbitMQEnvironment.required { return true }
        guard let url = knownAMQPSURL, let port = url.firstMatch(of: /@127\.0\.0\.1:(\d+)/).flatMap({ Int($0.1) }) else { return false }
        return (try? TestSocket(port: port, timeout: .seconds(1))) != nil
    }

    static func amqpsURL() throws -> String {
        guard let url = knownAMQPSURL else {
            Issue.record(
                "No RabbitMQ TLS listener is known (\(stateFolder)/tls/amqps-url is missing): start RabbitMQ with scripts/rabbitmq.sh start, or set RABBITCHAT_TEST_AMQPS_URL."
            )
            throw TestSocketError("no amqps URL")
        }
        return url
    }

    /// Runs rabbitmqctl ARGS against the test node (`RabbitMQControl`).
    @discardableResult
    static func rabbitmqctl(_ arguments: [String]) async throws -> String {
        try await RabbitMQControl.run(arguments, url: RabbitMQEnvironment.url)
    }

    @Test(
        "The server runs a chat over amqps:// (URL from --broker-file), and RabbitMQ sees a TLS connection",
        .enabled(if: amqpsShouldRun, "RabbitMQ's TLS listener is not reachable: start RabbitMQ with scripts/rabbitmq.sh start"))
    func chatOverTLS() async throws {
        let url = try Self.amqpsURL()
        #expect(url.hasPrefix("amqps://"))
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let file = folder.path + "/broker"
        try (url + "\n").write(toFile: file, atomically: false, encoding: .utf8)
        chmod(file, 0o600)
        try RabbitMQEnvironment.writeSharedSecret(to: folder.path + "/secret")
        let run = UUID().uuidString.prefix(6).lowercased()
        let server = try ServerProcess(["--port", "0", "--secret-file", folder.path + "/secret", "--node-id", "tls-\(run)", "--broker-file", file])
        let port = try #require(await server.waitForPort(), "stderr: \(server.standardError)")
        #expect(server.standardOutput.contains("RabbitMQ at amqps://guest@"), "banner: \(server.standardOutput)")
        #expect(!server.standardOutput.contains("guest:guest"))

        let alice = try TestChatClient(port: port)
        let bob = try TestChatClient(port: port)
        #expect(try alice.join("alice-tls-\(run)")["type"] as? String == "welcome")
        #expect(try bob.join("bob-tls-\(run)")["type"] as? String == "welcome")
        try alice.send(["type": "say", "id": "s1", "room": "lobby", "text": "over TLS \(run)"])
        #expect(try bob.waitFor { $0["type"] as? String == "message" && $0["text"] as? String == "over TLS \(run)" } != nil)
        try bob.send(["type": "tell", "id": "t1", "to": "alice-tls-\(run)", "text": "private over TLS"])
        #expect(try alice.waitFor { $0["type"] as? String == "message" && $0["text"] as? String == "private over TLS" } != nil)

        let listing = try await Self.rabbitmqctl(["list_connections", "--quiet", "--no-table-headers", "ssl", "client_properties"])
        #expect(listing.split(separator: "\n").contains { $0.hasPrefix("true") && $0.contains("rabbitChat node tls-\(run)") }, "\(listing)")
        await server.stop()
        #expect(await server.waitForExit(timeout: .seconds(1)) == 0)
    }

    @Test("A node whose secret differs from the running node's refuses to start in one sentence; the running node goes on")
    func anotherSecretIsRefused() async throws {
        // A vhost of its own: nodes of other suites on the same broker never hear these ones.
        let run = UUID().uuidString.prefix(6).lowercased()
        let vhost = "secret-test-\(run)"
        try await Self.rabbitmqctl(["add_vhost", vhost])
        do {
            try await Self.rabbitmqctl(["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"])
            try await refusedWithAnotherSecret(run: run, vhost: vhost)
        } catch {
            _ = try? await Self.rabbitmqctl(["delete_vhost", vhost])
            throw error
        }
        _ = try? await Self.rabbitmqctl(["delete_vhost", vhost])
    }

    private func refusedWithAnotherSecret(run: String, vhost: String) async throws {
        let base = RabbitMQEnvironment.url.hasSuffix("/") ? RabbitMQEnvironment.url : RabbitMQEnvironment.url + "/"
        let url = base + vhost

        let folder = TemporaryFolder()
        defer { folder.remove() }
        let a = try ServerProcess(["--port", "0", "--secret-file", folder.path + "/a", "--node-id", "a-\(run)", "--broker", url])
        let portA = try #require(await a.waitForPort(), "node a: \(a.standardError)")

        let b = try ServerProcess(["--port", "0", "--secret-file", folder.path + "/b", "--node-id", "b-\(run)", "--broker", url])
        let status = await b.waitForExit(timeout: .seconds(30))
        #expect(status == 1, "node b: \(b.standardError)")
        let error = b.standardError
        #expect(error.contains("rabbitChat: This node's secret file differs from the one the running node a-\(run) uses"), "stderr: \(error)")
        #expect(error.contains("same secret file"))
        #expect(!b.standardOutput.contains("http://"), "b printed no banner: \(b.standardOutput)")
        await b.stop()

        // Node a goes on.
        let alice = try TestChatClient(port: portA)
        #expect(try alice.join("alice-\(run)")["type"] as? String == "welcome")
        #expect(a.standardError.contains("another secret file"), "a warned: \(a.standardError)")

        // With a's secret file, a third node starts.
        let c = try ServerProcess(["--port", "0", "--secret-file", folder.path + "/a", "--node-id", "c-\(run)", "--broker", url])
        let portC = try #require(await c.waitForPort(), "node c: \(c.standardError)")
        let bob = try TestChatClient(port: portC)
        #expect(try bob.join("bob-\(run)")["type"] as? String == "welcome")
        await c.stop()
        await a.stop()
        #expect(await a.waitForExit(timeout: .seconds(1)) == 0)
    }
}

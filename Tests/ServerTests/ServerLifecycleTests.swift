import Foundation
import ServerTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The `rabbitChat` binary as a user meets it: start, stop with a signal, and the errors it
/// says in one sentence. Each test starts its own process on a free port and stops it by PID.
@Suite("rabbitChat process", .serialized)
struct ServerLifecycleTests {
    static func startServer(_ extra: [String] = [], folder: TemporaryFolder) async throws -> (ServerProcess, Int) {
        let server = try ServerProcess(["--port", "0", "--secret-file", folder.path + "/secret"] + extra)
        guard let port = await server.waitForPort() else {
            await server.stop()
            Issue.record("rabbitChat printed no URL; stdout: \(server.standardOutput) stderr: \(server.standardError)")
            throw TestSocketError("server did not start")
        }
        return (server, port)
    }

    @Test(
        "SIGTERM and SIGINT close every session with 3000 \"Go away!\" and exit 0 within a few seconds",
        arguments: [SIGTERM, SIGINT])
    func signalShutsDownGracefully(signal: Int32) async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (server, port) = try await Self.startServer(folder: folder)
        let client = try TestChatClient(port: port)
        try client.join("sig\(signal)user")

        let started = ContinuousClock.now
        server.signal(signal)
        let close = try client.waitForClose(timeout: .seconds(10))
        #expect(close == #"c[3000,"Go away!"]"#)
        let status = await server.waitForExit(timeout: .seconds(10))
        #expect(status == 0, "exit status; stderr: \(server.standardError)")
        #expect(ContinuousClock.now - started < .seconds(10))
        await server.stop()
    }

    /// The banner says "open this URL": it comes only once the chat node has its broker, so a
    /// join sent at once is welcomed, never answered `unavailable` (this raced on a loaded
    /// machine when the banner came as soon as the port was bound).
    @Test("A join sent as soon as the banner is out is welcomed", arguments: 1...5)
    func joinRightAfterTheBanner(start: Int) async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (server, port) = try await Self.startServer(folder: folder)
        let client = try TestChatClient(port: port)
        let welcome = try client.join("early\(start)")
        #expect(welcome["nick"] as? String == "early\(start)")
        await server.stop()
    }

    @Test("A port in use is one sentence on stderr and a non-zero exit")
    func portInUse() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (holder, port) = try await Self.startServer(folder: folder)
        let second = try ServerProcess(["--port", String(port), "--secret-file", folder.path + "/secret"])
        let status = await second.waitForExit(timeout: .seconds(20))
        let error = second.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(status != nil && status != 0)
        #expect(error.contains("Port \(port)") && error.contains("already in use"), "stderr: \(error)")
        #expect(!error.contains("\n"), "one line: \(error)")
        await second.stop()
        await holder.stop()
    }

    @Test("An unreachable RabbitMQ is one sentence on stderr and a non-zero exit")
    func unreachableBroker() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let closedPort = try FreePort.next()
        let server = try ServerProcess([
            "--port", "0", "--secret-file", folder.path + "/secret",
            "--broker", "amqp://guest:guest@127.0.0.1:\(closedPort)/",
        ])
        let status = await server.waitForExit(timeout: .seconds(30))
        let error = server.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(status != nil && status != 0)
        #expect(error.contains("RabbitMQ") && error.contains("127.0.0.1:\(closedPort)"), "stderr: \(error)")
        #expect(!error.contains("guest:guest"), "the password is not printed")
        #expect(!error.contains("\n"), "one line: \(error)")
        await server.stop()
    }

    @Test("RABBITCHAT_BROKER is read when --broker is absent")
    func brokerFromEnvironment() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let closedPort = try FreePort.next()
        let server = try ServerProcess(
            ["--port", "0", "--secret-file", folder.path + "/secret"],
            environment: ["RABBITCHAT_BROKER": "amqp://guest:guest@127.0.0.1:\(closedPort)/"])
        let status = await server.waitForExit(timeout: .seconds(30))
        #expect(status != nil && status != 0)
        #expect(server.standardError.contains("127.0.0.1:\(closedPort)"), "stderr: \(server.standardError)")
        await server.stop()
    }

    @Test("A missing sockjs-client file is one sentence that says how to install it")
    func missingSockJSClient() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let server = try ServerProcess([
            "--port", "0", "--secret-file", folder.path + "/secret",
            "--sockjs-client", folder.path + "/nope/sockjs.min.js",
        ])
        let status = await server.waitForExit(timeout: .seconds(20))
        let error = server.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(status != nil && status != 0)
        #expect(error.contains("node-sockjs-client") && error.contains("--sockjs-client"), "stderr: \(error)")
        #expect(!error.contains("\n"), "one line: \(error)")
        await server.stop()
    }

    @Test(
        "A bad option names the problem and exits non-zero",
        arguments: [
            ["--port", "70000"], ["--frobnicate"], ["--port", "many"], ["--log-level", "loud"], ["--node-id", "a b"],
            ["--broker", "http://example"], ["--embedded-history-mib", "0"],
        ])
    func badOption(arguments: [String]) async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let server = try ServerProcess(arguments + ["--secret-file", folder.path + "/secret"])
        let status = await server.waitForExit(timeout: .seconds(20))
        #expect(status != nil && status != 0)
        #expect(server.standardError.contains("rabbitChat") || server.standardError.contains("Error"), "stderr: \(server.standardError)")
        #expect(!server.standardOutput.contains("http://"), "nothing started")
        await server.stop()
    }

    @Test("--help explains every option")
    func help() async throws {
        let server = try ServerProcess(["--help"])
        let status = await server.waitForExit(timeout: .seconds(20))
        #expect(status == 0)
        for option in [
            "--port", "--host", "--broker", "RABBITCHAT_BROKER", "--node-id", "--secret-file",
            "--sockjs-client", "--log-level", "--sockjs-test-services", "--embedded-history-mib", "--help",
        ] {
            #expect(server.standardOutput.contains(option), "\(option) in --help")
        }
    }

    @Test("The banner says the URL to open, the broker and the node id; the secret file is created with mode 600")
    func bannerAndSecretFile() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let secret = folder.path + "/keys/secret"
        let server = try ServerProcess(["--port", "0", "--secret-file", secret, "--node-id", "banner-node"])
        let port = await server.waitForPort()
        #expect(port != nil)
        let banner = server.standardOutput
        #expect(banner.contains("http://127.0.0.1:\(port ?? 0)/"))
        #expect(banner.contains("built-in"))
        #expect(banner.contains("banner-node"))
        var info = stat()
        #expect(stat(secret, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let first = try String(contentsOfFile: secret, encoding: .utf8)
        #expect(first.count == 65 && first.hasSuffix("\n"))
        await server.stop()

        // A second start keeps the key: tokens stay valid across restarts.
        let again = try ServerProcess(["--port", "0", "--secret-file", secret])
        #expect(await again.waitForPort() != nil)
        #expect(try String(contentsOfFile: secret, encoding: .utf8) == first)
        await again.stop()
    }
}

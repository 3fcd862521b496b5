import Foundation
import ServerTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Where the tests look for RabbitMQ, and whether they must find it.
enum RabbitMQEnvironment {
    static var url: String {
        ProcessInfo.processInfo.environment["RABBITCHAT_TEST_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/"
    }

    static var required: Bool { ProcessInfo.processInfo.environment["RABBITCHAT_REQUIRE_RABBITMQ"] == "1" }

    /// True when something accepts TCP connections at the URL's host and port.
    static var reachable: Bool {
        guard let match = url.firstMatch(of: /@?([0-9A-Za-z.\-]+):(\d+)\/?/), let port = Int(match.2) else { return false }
        let host = String(match.1) == "localhost" ? "127.0.0.1" : String(match.1)
        guard host == "127.0.0.1" else { return false }
        return (try? TestSocket(port: port, timeout: .seconds(1))) != nil
    }

    /// Runs the test when RabbitMQ answers, or when CI requires it (then an absent broker fails).
    static var shouldRun: Bool { required || reachable }

    /// Writes the one secret every test chat on the shared RabbitMQ uses (mode 600) to `path`:
    /// a node refuses to start while a running node of the same chat has another secret, and
    /// suites run in parallel on the same broker names.
    static func writeSharedSecret(to path: String) throws {
        try (String(repeating: "5ec7e7", count: 10) + "abcd\n").write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o600)
    }
}

@Suite("rabbitChat on RabbitMQ", .serialized)
struct MultiNodeTests {
    @Test(
        "Two processes on one RabbitMQ form one chat: public and private messages cross nodes",
        .enabled(
            if: RabbitMQEnvironment.shouldRun,
            "RabbitMQ is not reachable at RABBITCHAT_TEST_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/); start it with scripts/rabbitmq.sh start, or set RABBITCHAT_REQUIRE_RABBITMQ=1 to fail instead"
        ))
    func twoNodesFormOneChat() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let secret = folder.path + "/secret"
        try RabbitMQEnvironment.writeSharedSecret(to: secret)
        let run = UUID().uuidString.prefix(6).lowercased()
        let a = try ServerProcess(["--port", "0", "--secret-file", secret, "--node-id", "test-a-\(run)", "--broker", RabbitMQEnvironment.url])
        let b = try ServerProcess(["--port", "0", "--secret-file", secret, "--node-id", "test-b-\(run)", "--broker", RabbitMQEnvironment.url])
        let portA = try #require(await a.waitForPort(), "node A: \(a.standardError)")
        let portB = try #require(await b.waitForPort(), "node B: \(b.standardError)")
        // Each node connects to the broker once it runs: /healthz turns 200 then.
        #expect(await TestHTTP.waitForStatus(200, port: portA, path: "/healthz"))
        #expect(await TestHTTP.waitForStatus(200, port: portB, path: "/healthz"))

        let alice = try TestChatClient(port: portA)
        let bob = try TestChatClient(port: portB)
        let aliceNick = "alice-\(run)"
        let bobNick = "bob-\(run)"
        try alice.send(["type": "join", "nick": aliceNick])
        #expect(try alice.waitFor { $0["type"] as? String == "welcome" } != nil)
        try bob.send(["type": "join", "nick": bobNick])
        #expect(try bob.waitFor { $0["type"] as? String == "welcome" } != nil)

        // Presence crosses nodes.
        let seen = try alice.waitFor { $0["type"] as? String == "presence" && ($0["online"] as? [String])?.contains(bobNick) == true }
        #expect(seen != nil)

        // A public message from node A reaches bob on node B.
        let text = "across nodes \(run)"
        try alice.send(["type": "say", "id": "p1", "room": "lobby", "text": text])
        let got = try bob.waitFor { $0["type"] as? String == "message" && $0["text"] as? String == text }
        #expect(got?["from"] as? String == aliceNick)

        // A private message from bob (node B) reaches alice (node A); her ack gives bob `delivered`.
        try bob.send(["type": "tell", "id": "t1", "to": aliceNick, "text": "psst"])
        let sent = try bob.waitFor { $0["type"] as? String == "sent" && $0["id"] as? String == "t1" }
        let msgId = try #require(sent?["msgId"] as? String)
        let dm = try alice.waitFor { $0["type"] as? String == "message" && $0["msgId"] as? String == msgId }
        #expect(dm?["from"] as? String == bobNick)
        try alice.send(["type": "ack", "msgIds": [msgId]])
        #expect(try bob.waitFor { $0["type"] as? String == "delivered" && $0["msgId"] as? String == msgId } != nil)

        await a.stop()
        await b.stop()
        #expect(await a.waitForExit(timeout: .seconds(1)) == 0)
        #expect(await b.waitForExit(timeout: .seconds(1)) == 0)
    }
}

@Suite("rabbitChat when RabbitMQ goes away", .serialized)
struct BrokerLossTests {
    @Test(
        "/healthz turns 503 when the broker connection is lost and 200 when it is back; the reconnect is counted",
        .enabled(
            if: RabbitMQEnvironment.shouldRun,
            "RabbitMQ is not reachable at RABBITCHAT_TEST_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/); start it with scripts/rabbitmq.sh start, or set RABBITCHAT_REQUIRE_RABBITMQ=1 to fail instead"
        ))
    func healthFollowsTheBrokerConnection() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let url = RabbitMQEnvironment.url
        let match = try #require(url.firstMatch(of: /^(amqps?:\/\/[^@\/]*@?)([0-9A-Za-z.\-]+):(\d+)(.*)$/))
        let proxy = try TestTCPProxy(to: try #require(Int(match.3)))
        let viaProxy = "\(match.1)127.0.0.1:\(proxy.port)\(match.4)"
        try RabbitMQEnvironment.writeSharedSecret(to: folder.path + "/secret")
        let server = try ServerProcess(["--port", "0", "--secret-file", folder.path + "/secret", "--broker", viaProxy])
        let port = try #require(await server.waitForPort(), "stderr: \(server.standardError)")
        #expect(await TestHTTP.waitForStatus(200, port: port, path: "/healthz"))

        proxy.cut()
        #expect(await TestHTTP.waitForStatus(503, port: port, path: "/healthz", timeout: .seconds(30)), "503 while the broker is gone")
        // A message sent meanwhile is refused as unavailable, not lost in silence.
        let client = try TestChatClient(port: port)
        try client.send(["type": "join", "nick": "lonely-\(UUID().uuidString.prefix(6))"])
        let refused = try client.waitFor { $0["type"] as? String == "error" }
        #expect(refused?["code"] as? String == "unavailable")

        try proxy.restore()
        #expect(await TestHTTP.waitForStatus(200, port: port, path: "/healthz", timeout: .seconds(30)), "200 once it is back")
        let metrics = try TestHTTP.request(port: port, path: "/metrics").text
        #expect(metrics.contains("rabbitchat_broker_reconnects_total 1") || metrics.contains("rabbitchat_broker_reconnects_total 2"), "\(metrics)")
        await server.stop()
        #expect(await server.waitForExit(timeout: .seconds(1)) == 0)
        proxy.cut()
    }
}

import Broker
import Foundation
import RabbitMQBroker
import Testing

/// Where the TLS listener of the test RabbitMQ is: `RABBITCHAT_TEST_AMQPS_URL`, else the URL
/// `scripts/rabbitmq.sh start` wrote into its state folder (`tls/amqps-url`, trusting the
/// throwaway CA it made there). Like every RabbitMQ case these run when RabbitMQ is reachable
/// and fail, not skip, under `RABBITCHAT_REQUIRE_RABBITMQ=1`.
enum LiveAMQPS {
    static let url: String? = {
        let environment = ProcessInfo.processInfo.environment
        if let url = environment["RABBITCHAT_TEST_AMQPS_URL"], !url.isEmpty { return url }
        let port = (try? AMQPURL(parsing: LiveRabbitMQ.url).port) ?? 5672
        let state = environment["RABBITCHAT_STATE"] ?? (port == 5672 ? "/tmp/rabbitchat-rabbitmq" : "/tmp/rabbitchat-rabbitmq-\(port)")
        guard let text = try? String(contentsOfFile: state + "/tls/amqps-url", encoding: .utf8) else { return nil }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }()

    static var enabled: Bool {
        if LiveRabbitMQ.required { return true }
        guard let url, let parsed = try? AMQPURL(parsing: url) else { return false }
        return LiveRabbitMQ.tcpConnects(host: parsed.host == "localhost" ? "127.0.0.1" : parsed.host, port: parsed.port)
    }

    static func requireURL() throws -> String {
        guard let url else {
            throw LiveRabbitMQ.CtlError(
                message:
                    "No RabbitMQ TLS listener is known: start RabbitMQ with scripts/rabbitmq.sh start (it writes tls/amqps-url into its state folder) or set RABBITCHAT_TEST_AMQPS_URL."
            )
        }
        return url
    }

    /// `url` with its query (the CA) replaced by `query`.
    static func with(query: String, _ url: String) -> String {
        let base = url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
        return base + "?" + query
    }

    /// Runs openssl with `arguments`; throws when it fails.
    static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw LiveRabbitMQ.CtlError(message: "openssl \(arguments.first ?? "") failed") }
    }

    /// A self-signed client certificate and its key, named `name` in `folder`.
    static func clientCertificate(_ name: String, in folder: String) throws -> (certificate: String, key: String) {
        let certificate = folder + "/\(name).pem"
        let key = folder + "/\(name).key"
        try openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=\(name)", "-keyout", key, "-out", certificate,
        ])
        return (certificate, key)
    }

    /// Makes a CA certificate of its own (it signed nothing the broker has) in `folder`.
    static func foreignCA(in folder: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=not the broker's CA", "-keyout", folder + "/foreign.key", "-out", folder + "/foreign.pem",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw LiveRabbitMQ.CtlError(message: "openssl could not make a CA") }
        return folder + "/foreign.pem"
    }
}

@Suite("RabbitMQ over TLS (amqps://)", .enabled(if: LiveAMQPS.enabled, "needs RabbitMQ's TLS listener: start it with scripts/rabbitmq.sh start"))
struct AMQPSTests {
    @Test func publishAndConsumeRoundTripOverTLS() async throws {
        let url = try LiveAMQPS.requireURL()
        let broker = try RabbitMQBroker(url: url)
        #expect(broker.urls.first?.tls != nil)
        let connection = try await broker.connect(name: LiveRabbitMQ.uniqueName("amqps-test"))
        defer { Task { await connection.close() } }
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue("", options: .exclusive).name
        // Many messages and a large one: TLS records and AMQP frames split differently, and the
        // connection's thread sleeps in poll() between them.
        let count = 300
        for index in 0..<count {
            try await channel.publish(OutgoingMessage(body: Array("tls message \(index)".utf8)), exchange: "", routingKey: queue, mandatory: true)
        }
        let large = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try await channel.publish(OutgoingMessage(body: large), exchange: "", routingKey: queue, mandatory: true)
        let consumer = try await channel.consume(queue: queue, options: ConsumeOptions(noAck: true))
        var iterator = consumer.deliveries.makeAsyncIterator()
        for index in 0..<count {
            let delivery = try #require(await iterator.next())
            #expect(delivery.body == Array("tls message \(index)".utf8))
        }
        let last = try #require(await iterator.next())
        #expect(last.body == large)

        // The broker saw a TLS connection.
        let listing = try await LiveRabbitMQ.rabbitmqctl(["list_connections", "--quiet", "--no-table-headers", "ssl", "client_properties"])
        #expect(listing.split(separator: "\n").contains { $0.hasPrefix("true") && $0.contains("amqps-test") }, "\(listing)")
    }

    /// The connection's thread sleeps in poll() on the socket: were decrypted bytes left inside
    /// OpenSSL where poll() cannot see them, each of these would wait for the poll timeout
    /// (a quarter of the 10 s heartbeat), 40 of them at least 100 s.
    @Test func oneMessageAtATimeIsNotHeldBackByTLS() async throws {
        let broker = try RabbitMQBroker(url: try LiveAMQPS.requireURL())
        let connection = try await broker.connect(name: LiveRabbitMQ.uniqueName("amqps-ping"))
        defer { Task { await connection.close() } }
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue("", options: .exclusive).name
        let consumer = try await channel.consume(queue: queue, options: ConsumeOptions(noAck: true))
        var iterator = consumer.deliveries.makeAsyncIterator()
        let started = ContinuousClock.now
        var slowest = Duration.zero
        for index in 0..<40 {
            let sent = ContinuousClock.now
            try await channel.publish(OutgoingMessage(body: Array("ping \(index)".utf8)), exchange: "", routingKey: queue, mandatory: true)
            let delivery = try #require(await iterator.next())
            #expect(delivery.body == Array("ping \(index)".utf8))
            slowest = max(slowest, ContinuousClock.now - sent)
        }
        #expect(ContinuousClock.now - started < .seconds(20), "40 round trips; the slowest took \(slowest)")
    }

    @Test func aBrokerCertificateFromAnotherCAIsRefusedWithAClearSentence() async throws {
        let url = try LiveAMQPS.requireURL()
        let folder = NSTemporaryDirectory() + "amqps-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let foreign = try LiveAMQPS.foreignCA(in: folder)
        let broker = try RabbitMQBroker(url: LiveAMQPS.with(query: "cacertfile=" + foreign, url))
        await #expect {
            _ = try await broker.connect(name: LiveRabbitMQ.uniqueName("amqps-wrong-ca"))
        } throws: { error in
            let text = "\(error)"
            return text.contains("is not signed by the CA in \(foreign)") && text.contains("cacertfile") && !text.contains("guest:guest")
        }
        // The same CA with verification off connects (what verify=verify_none is for, and why it is not the default).
        let unverified = try RabbitMQBroker(url: LiveAMQPS.with(query: "cacertfile=\(foreign)&verify=verify_none", url))
        let connection = try await unverified.connect(name: LiveRabbitMQ.uniqueName("amqps-unverified"))
        await connection.close()
    }

    /// The test broker asks for no client certificate (verify_none on its side), so this shows
    /// the certificate and key are loaded and offered, and a pair that does not match is named.
    @Test func aClientCertificateIsLoadedAndAMismatchedKeyIsNamed() async throws {
        let url = try LiveAMQPS.requireURL()
        let folder = NSTemporaryDirectory() + "amqps-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let one = try LiveAMQPS.clientCertificate("client-one", in: folder)
        let two = try LiveAMQPS.clientCertificate("client-two", in: folder)
        let more = url.contains("?") ? "&" : "?"
        let good = try RabbitMQBroker(url: url + more + "certfile=\(one.certificate)&keyfile=\(one.key)")
        #expect(good.urls.first?.tls?.certificateFile == one.certificate)
        let connection = try await good.connect(name: LiveRabbitMQ.uniqueName("amqps-client-cert"))
        await connection.close()

        let mismatched = try RabbitMQBroker(url: url + more + "certfile=\(one.certificate)&keyfile=\(two.key)")
        await #expect {
            _ = try await mismatched.connect(name: LiveRabbitMQ.uniqueName("amqps-mismatched"))
        } throws: { error in
            "\(error)".contains("the client certificate \(one.certificate) or its key \(two.key)")
        }
    }

    @Test func aMissingCAFileIsNamed() async throws {
        let url = try LiveAMQPS.requireURL()
        let broker = try RabbitMQBroker(url: LiveAMQPS.with(query: "cacertfile=/nonexistent/ca.pem", url))
        await #expect {
            _ = try await broker.connect(name: LiveRabbitMQ.uniqueName("amqps-no-ca"))
        } throws: { error in
            "\(error)".contains("the CA file /nonexistent/ca.pem")
        }
    }

    @Test func aPlainAMQPPortIsNotATLSListener() async throws {
        _ = try LiveAMQPS.requireURL()
        let plain = try AMQPURL(parsing: LiveRabbitMQ.url)
        let broker = try RabbitMQBroker(url: "amqps://guest:guest@127.0.0.1:\(plain.port)/?verify=verify_none")
        await #expect {
            _ = try await broker.connect(name: LiveRabbitMQ.uniqueName("amqps-plain-port"))
        } throws: { error in
            "\(error)".contains("TLS handshake with 127.0.0.1:\(plain.port) failed")
        }
    }
}

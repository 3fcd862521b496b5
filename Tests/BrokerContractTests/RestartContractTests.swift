import Broker
import InMemoryBroker
import RabbitMQBroker
import ServerTestSupport
import Testing

/// The restart contract (`Specs/broker-contract.md`, "Restarts"; `Specs/storage.md`): after
/// a broker restart, what was confirmed as durable is there exactly, and nothing else.
/// On the simulator with a data directory the restart is a real close and reopen of the store.
@Suite struct RestartContractTests {
    /// What one scenario leaves behind; compared after the restart.
    struct Confirmed: Equatable {
        var durableQueue: [String]
        var routedAfter: [String]
        var stream: [String]
        /// The `flags` queue drained after the restart: body, `!` when redelivered.
        var flags: [String]
    }

    static func fill(_ channel: any BrokerChannel, names: (String) -> String) async throws {
        let durable = names("durable")
        let transient = names("transient")
        let history = names("history")
        let direct = names("direct")
        let scratch = names("scratch")
        try await channel.declareQueue(durable, options: .durable)
        try await channel.declareQueue(transient, options: QueueOptions(durable: false))
        try await channel.declareQueue(history, options: .stream())
        try await channel.declareExchange(direct, kind: .direct, options: ExchangeOptions(durable: true))
        try await channel.declareExchange(scratch, kind: .fanout, options: ExchangeOptions(durable: false))
        try await channel.bindQueue(durable, exchange: direct, routingKey: "k", arguments: [:])
        for index in 1...5 {
            try await channel.send("p\(index)", to: direct, key: "k", persistent: true)
            try await channel.send("t\(index)", to: direct, key: "k", persistent: false)
        }
        try await channel.send("in transient queue", key: transient, persistent: true)
        // Take two (p1 and the transient t1) and ack them: acked messages stay gone.
        for _ in 0..<2 {
            let delivery = try #require(try await channel.get(queue: durable, autoAck: false))
            try await channel.ack(deliveryTag: delivery.deliveryTag, multiple: false)
        }
        try await fillFlags(channel, queue: names("flags"))
        for index in 1...3 { try await channel.send("s\(index)", key: history, persistent: index % 2 == 0) }
    }

    /// The redelivered flag across a restart (`Specs/storage.md`, "The redelivered flag"): six
    /// persistent messages; f1 taken by `basic.get` and not acked; f2 taken, rejected with
    /// requeue (it is back in its place, redelivered) and taken again with f3 by a consumer,
    /// neither acked; f4…f6 never delivered. After the restart f1…f3 come back redelivered,
    /// f4…f6 not, in order.
    static func fillFlags(_ channel: any BrokerChannel, queue: String) async throws {
        try await channel.declareQueue(queue, options: .durable)
        for index in 1...6 { try await channel.send("f\(index)", key: queue, persistent: true) }
        let f1 = try #require(try await channel.get(queue: queue, autoAck: false))
        let f2 = try #require(try await channel.get(queue: queue, autoAck: false))
        #expect([f1.text, f2.text] == ["f1", "f2"] && !f1.redelivered && !f2.redelivered)
        try await channel.reject(deliveryTag: f2.deliveryTag, requeue: true)
        let consumer = try await channel.collect(queue, prefetch: 2)
        let taken = await consumer.wait(for: 2)
        #expect(taken.map { $0.text + ($0.redelivered ? "!" : "") } == ["f2!", "f3"])
    }

    static func check(_ connection: any BrokerConnection, names: (String) -> String) async throws -> Confirmed {
        let durable = names("durable")
        let history = names("history")
        let direct = names("direct")
        let scratch = names("scratch")
        let channel = try await connection.openChannel()
        await expectCode(BrokerError.notFound) {
            try await channel.declareQueue(names("transient"), options: QueueOptions(passive: true))
        }
        let after = try await connection.openChannel()
        await expectCode(BrokerError.notFound) {
            try await after.declareExchange(scratch, kind: .fanout, options: ExchangeOptions(passive: true))
        }
        let fresh = try await connection.openChannel()
        let kept = try await fresh.drain(durable)
        try await fresh.send("routed after restart", to: direct, key: "k", persistent: true)
        let routed = try await fresh.drain(durable)
        let reader = try await fresh.collect(history, arguments: ["x-stream-offset": "first"])
        let stream = await reader.wait(for: 3).map(\.text)
        var flags: [String] = []
        while let delivery = try await fresh.get(queue: names("flags"), autoAck: true), flags.count < 100 {
            flags.append(delivery.text + (delivery.redelivered ? "!" : ""))
        }
        return Confirmed(durableQueue: kept, routedAfter: routed, stream: stream, flags: flags)
    }

    static let expected = Confirmed(
        durableQueue: ["p2", "p3", "p4", "p5"], routedAfter: ["routed after restart"], stream: ["s1", "s2", "s3"],
        flags: ["f1!", "f2!", "f3!", "f4", "f5", "f6"])

    @Test func theSimulatorWithADataDirectoryComesBackToWhatWasConfirmedAfterCloseAndReopen() async throws {
        let directory = try TemporaryDirectory.make(prefix: "rabbitchat-restart")
        defer { TemporaryDirectory.remove(directory) }
        let names: (String) -> String = { "r-\($0)" }
        let first = try InMemoryBroker(dataDirectory: directory)
        try await Self.fill(try await first.connect(name: "before").openChannel(), names: names)
        first.close()
        let second = try InMemoryBroker(dataDirectory: directory)
        #expect(second.queueNames == [names("durable"), names("flags"), names("history")])
        let got = try await Self.check(try await second.connect(name: "after"), names: names)
        #expect(got == Self.expected)
        second.close()
        // And once more, with what the check itself changed.
        let third = try InMemoryBroker(dataDirectory: directory)
        let channel = try await third.connect(name: "third").openChannel()
        #expect(try await channel.drain(names("durable")) == [])
        third.close()
    }

    @Test(arguments: [BackendKind.inMemory, .dataDir])
    func restartKeepsDurableThingsAndPersistentMessagesOnly(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let simulator = try #require(t.inMemory)
            let names: (String) -> String = { t.prefix + $0 }
            let channel = try await simulator.connect(name: t.prefix + "before").openChannel()
            try await Self.fill(channel, names: names)
            simulator.restart()
            #expect(channel.closeReason?.isConnectionLoss == true)
            let got = try await Self.check(try await simulator.connect(name: t.prefix + "after"), names: names)
            #expect(got == Self.expected)
        }
    }

    @Test func aSecondBrokerOnTheSameDataDirectoryIsRefusedWithAClearError() async throws {
        let directory = try TemporaryDirectory.make(prefix: "rabbitchat-locked")
        defer { TemporaryDirectory.remove(directory) }
        let first = try InMemoryBroker(dataDirectory: directory)
        #expect(throws: StoreError.self) { _ = try InMemoryBroker(dataDirectory: directory) }
        do throws(StoreError) {
            _ = try InMemoryBroker(dataDirectory: directory)
        } catch {
            #expect(error.message.contains("is in use by process"))
            #expect(error.message.contains("--data-dir"))
        }
        first.close()
        let again = try InMemoryBroker(dataDirectory: directory)
        again.close()
    }

    @Test func aBackupTakenWhileTheBrokerRunsRestoresItsConfirmedContents() async throws {
        let directory = try TemporaryDirectory.make(prefix: "rabbitchat-live")
        let backup = try TemporaryDirectory.make(prefix: "rabbitchat-backup")
        defer {
            TemporaryDirectory.remove(directory)
            TemporaryDirectory.remove(backup)
        }
        let names: (String) -> String = { "b-\($0)" }
        let live = try InMemoryBroker(dataDirectory: directory)
        try await Self.fill(try await live.connect(name: "live").openChannel(), names: names)
        try InMemoryBroker.backup(dataDirectory: directory, to: backup + "/copy")
        // The live broker goes on; the copy is what was confirmed at the backup.
        let channel = try await live.connect(name: "later").openChannel()
        try await channel.send("after the backup", key: names("durable"), persistent: true)
        #expect(throws: StoreError.self) { try InMemoryBroker.backup(dataDirectory: directory, to: backup + "/copy") }
        let restored = try InMemoryBroker(dataDirectory: backup + "/copy")
        let got = try await Self.check(try await restored.connect(name: "restored"), names: names)
        #expect(got == Self.expected)
        restored.close()
        live.close()
    }
}

/// The same restart contract on RabbitMQ: the app of a *private* node is stopped and started
/// (`scripts/rabbitmq.sh ctl stop_app` / `start_app`), which closes every connection, as a
/// restart does. It never touches the shared RabbitMQ of the other tests: it runs when
/// `RABBITCHAT_RESTART_RABBITMQ_PORT` names a node started for it, e.g.
/// `RABBITMQ_PORT=5694 scripts/rabbitmq.sh start` (scripts/test starts that node and sets the
/// variable). Without the variable it is skipped (saying so), and under
/// `RABBITCHAT_REQUIRE_RABBITMQ=1` it fails instead, as every RabbitMQ case does. Its tests run
/// one at a time (`.serialized`): each restarts that node.
@Suite(.serialized) struct RabbitMQRestartContractTests {
    static let port = TestEnvironment.environment("RABBITCHAT_RESTART_RABBITMQ_PORT")

    @Test(
        .enabled(
            if: port != nil || TestEnvironment.requireRabbitMQ,
            "set RABBITCHAT_RESTART_RABBITMQ_PORT to a private RabbitMQ node's port (RABBITMQ_PORT=5694 scripts/rabbitmq.sh start) to run the restart contract on RabbitMQ"
        ))
    func rabbitMQComesBackToWhatWasConfirmedAfterItsAppRestarts() async throws {
        let port = try #require(
            Self.port,
            "RABBITCHAT_RESTART_RABBITMQ_PORT is not set under RABBITCHAT_REQUIRE_RABBITMQ=1: start a private node (RABBITMQ_PORT=5694 scripts/rabbitmq.sh start) and set the variable to its port, as scripts/test does."
        )
        let broker = try RabbitMQBroker(url: "amqp://guest:guest@127.0.0.1:\(port)/")
        let run = String(UInt32.random(in: 0 ... .max), radix: 36)
        let names: (String) -> String = { "restart-\(run)-\($0)" }
        let before = try await broker.connect(name: "before")
        try await RestartContractTests.fill(try await before.openChannel(), names: names)
        try await Self.ctl(port, "stop_app")
        try await Self.ctl(port, "start_app")
        #expect(before.closeReason != nil)
        var after: (any BrokerConnection)?
        try? await eventually("RabbitMQ to accept a connection", timeout: .seconds(30), interval: .milliseconds(200)) {
            after = try? await broker.connect(name: "after")
            return after != nil
        }
        let connection = try #require(after, "RabbitMQ on port \(port) did not accept a connection within 30 s of start_app")
        // start_app returns before a stream's members have restarted (a passive declare says
        // 404 "home node … is down or inaccessible" meanwhile): wait for it, bounded.
        var streamUp = false
        try? await eventually("the stream to come back", timeout: .seconds(30), interval: .milliseconds(200)) {
            streamUp = (try? await connection.openChannel().declareQueue(names("history"), options: QueueOptions(passive: true))) != nil
            return streamUp
        }
        #expect(streamUp, "the stream \(names("history")) did not come back within 30 s of start_app")
        let got = try await RestartContractTests.check(connection, names: names)
        #expect(got == RestartContractTests.expected)
        let cleanup = try await connection.openChannel()
        for queue in ["durable", "history", "flags"] { _ = try? await cleanup.deleteQueue(names(queue), ifUnused: false, ifEmpty: false) }
        try? await cleanup.deleteExchange(names("direct"))
        await connection.close()
    }

    /// Runs `scripts/rabbitmq.sh ctl COMMAND` against the node on `port` and waits for it.
    static func ctl(_ port: String, _ command: String) async throws {
        let script = String(#filePath.dropLast("Tests/BrokerContractTests/RestartContractTests.swift".count)) + "scripts/rabbitmq.sh"
        let process = try ServerProcess(executable: "/bin/bash", arguments: [script, "ctl", command], environment: ["RABBITMQ_PORT": port])
        let status = await process.waitForExit(timeout: .seconds(60))
        #expect(status == 0, "rabbitmq.sh ctl \(command) ended with \(String(describing: status)): \(process.output.combined.suffix(500))")
    }
}

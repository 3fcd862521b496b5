import Broker
import InMemoryBroker
import Synchronization
import Testing

/// The simulator's fault injection and restart, which only it can do on demand.
@Suite("InMemoryBroker: fault injection and restart")
struct InMemoryFaultTests {
    private func setUp(_ broker: InMemoryBroker, queue: String = "q", options: QueueOptions = QueueOptions()) async throws -> any BrokerChannel {
        let channel = try await broker.connect(name: "setup").openChannel()
        try await channel.declareQueue(queue, options: options)
        return channel
    }

    @Test func droppingAConnectionRequeuesItsDeliveriesAndWakesItsWaiter() async throws {
        let broker = InMemoryBroker()
        let setup = try await setUp(broker)
        try await setup.sendAll(["1", "2"], key: "q")
        let node = try await broker.connect(name: "node-a")
        let consumer = try await node.openChannel().collect("q")
        await consumer.wait(for: 2)
        #expect(broker.dropConnections(named: "node-a") == 1)
        #expect(await node.waitUntilClosed().isConnectionLoss)
        #expect(await consumer.waitFinished())
        let again = try await setup.drainDeliveries("q")
        #expect(again.map(\.text) == ["1", "2"])
        #expect(again.allSatisfy { $0.redelivered })
        #expect(broker.connectionNames == ["setup"])
    }

    @Test func refusedPublishesThrowInjectedAndStoreNothing() async throws {
        let broker = InMemoryBroker()
        let channel = try await setUp(broker)
        broker.failPublishes(.refuse, count: 1)
        let error = await brokerError { try await channel.send("lost", key: "q") }
        guard case .injected? = error else {
            Issue.record("expected an injected error, got \(String(describing: error))")
            return
        }
        try await channel.send("kept", key: "q")
        #expect(try await channel.drain("q") == ["kept"])
    }

    @Test func nackedPublishesThrowNackedUntilCleared() async throws {
        let broker = InMemoryBroker()
        let channel = try await setUp(broker)
        broker.failPublishes(.nack)
        #expect(await brokerError { try await channel.send("a", key: "q") } == .nacked)
        #expect(await brokerError { try await channel.send("b", key: "q") } == .nacked)
        broker.clearPublishFault()
        try await channel.send("c", key: "q")
        #expect(try await channel.drain("q") == ["c"])
    }

    @Test func aPublishFaultThatDropsTheConnectionThrowsConnectionClosed() async throws {
        let broker = InMemoryBroker()
        _ = try await setUp(broker)
        let connection = try await broker.connect(name: "publisher")
        let channel = try await connection.openChannel()
        broker.failPublishes(.dropConnection, count: 1)
        let error = await brokerError { try await channel.send("lost", key: "q") }
        #expect(error?.isConnectionLoss == true)
        #expect(connection.closeReason?.isConnectionLoss == true)
        let reconnected = try await broker.connect(name: "publisher").openChannel()
        try await reconnected.send("after reconnect", key: "q")
        #expect(try await reconnected.drain("q") == ["after reconnect"])
    }

    @Test func stalledConfirmsHoldThePublishUntilReleased() async throws {
        let broker = InMemoryBroker()
        let channel = try await setUp(broker)
        broker.stallConfirms()
        let publish = Task { await brokerError { try await channel.send("held", key: "q") } }
        let observer = try await broker.connect(name: "observer").openChannel()
        let deadline = ContinuousClock.now + .seconds(5)
        while try await observer.declareQueue("q", options: QueueOptions(passive: true)).messageCount == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        broker.releaseConfirms()
        #expect(await publish.value == nil)
        #expect(try await observer.drain("q") == ["held"])
    }

    @Test func aStalledPublishFailsWhenItsConnectionDropsThoughTheMessageWasStored() async throws {
        let broker = InMemoryBroker()
        _ = try await setUp(broker)
        let publisher = try await broker.connect(name: "publisher").openChannel()
        broker.stallConfirms()
        let publish = Task { await brokerError { try await publisher.send("ambiguous", key: "q") } }
        let observer = try await broker.connect(name: "observer").openChannel()
        let deadline = ContinuousClock.now + .seconds(5)
        while try await observer.declareQueue("q", options: QueueOptions(passive: true)).messageCount == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        broker.dropConnections(named: "publisher")
        #expect(await publish.value?.isConnectionLoss == true)
        broker.releaseConfirms()
        #expect(try await observer.drain("q") == ["ambiguous"])
    }

    @Test func aDownBrokerRefusesConnectionsUntilItComesBack() async throws {
        let broker = InMemoryBroker()
        let channel = try await setUp(broker, options: .durable)
        try await channel.send("kept", key: "q")
        let existing = try await broker.connect(name: "node")
        broker.goDown()
        #expect(broker.isDown)
        #expect(existing.closeReason?.isConnectionLoss == true)
        let refused = await brokerError { _ = try await broker.connect(name: "node") }
        guard case .connectionFailed? = refused else {
            Issue.record("expected connectionFailed, got \(String(describing: refused))")
            return
        }
        broker.comeBack()
        let back = try await broker.connect(name: "node").openChannel()
        #expect(try await back.drain("q") == ["kept"])
    }

    @Test func aRestartKeepsDurableQueuesPersistentMessagesAndStreamsOnly() async throws {
        let broker = InMemoryBroker()
        let channel = try await broker.connect(name: "before").openChannel()
        try await channel.declareQueue("durable", options: .durable)
        try await channel.declareQueue("transient", options: QueueOptions(durable: false))
        try await channel.declareQueue("history", options: .stream())
        try await channel.declareExchange("chat.direct", kind: .direct, options: ExchangeOptions(durable: true))
        try await channel.declareExchange("scratch", kind: .fanout, options: ExchangeOptions(durable: false))
        try await channel.bindQueue("durable", exchange: "chat.direct", routingKey: "k", arguments: [:])
        try await channel.send("persistent", to: "chat.direct", key: "k", persistent: true)
        try await channel.send("transient", to: "chat.direct", key: "k", persistent: false)
        try await channel.send("in transient queue", key: "transient", persistent: true)
        try await channel.send("s1", key: "history")
        try await channel.send("s2", key: "history", persistent: true)

        broker.restart()
        #expect(channel.closeReason?.isConnectionLoss == true)

        let after = try await broker.connect(name: "after").openChannel()
        #expect(broker.queueNames == ["durable", "history"])
        await expectCode(BrokerError.notFound) {
            try await after.declareExchange("scratch", kind: .fanout, options: ExchangeOptions(passive: true))
        }
        let fresh = try await broker.connect(name: "after-2").openChannel()
        try await fresh.send("routed after restart", to: "chat.direct", key: "k", persistent: true)
        #expect(try await fresh.drain("durable") == ["persistent", "routed after restart"])
        let history = try await fresh.collect("history", arguments: ["x-stream-offset": "first"])
        #expect(await history.wait(for: 2).map(\.text) == ["s1", "s2"])
    }

    @Test func streamTimestampsComeFromTheInjectedClock() async throws {
        let now = ManualClock(100)
        let broker = InMemoryBroker(clock: { now.seconds })
        let channel = try await broker.connect(name: "c").openChannel()
        try await channel.declareQueue("s", options: .stream())
        try await channel.send("at 100", key: "s")
        now.seconds = 200
        try await channel.send("at 200", key: "s")
        now.seconds = 260
        let fromTimestamp = try await channel.collect("s", arguments: ["x-stream-offset": .timestamp(150)])
        #expect(await fromTimestamp.wait(for: 1).map(\.text) == ["at 200"])
        let lastMinute = try await channel.collect("s", arguments: ["x-stream-offset": "90s"])
        #expect(await lastMinute.wait(for: 1).map(\.text) == ["at 200"])
        // A barrier: a stream hands its entries over in order, so "at 100" would have come first.
        try await channel.send("at 260", key: "s")
        #expect(await lastMinute.wait(for: 2).map(\.text) == ["at 200", "at 260"])
    }

    @Test func nodesSharingOneBrokerSeeEachOthersQueuesButNotExclusiveOnes() async throws {
        let broker = InMemoryBroker()
        let a = try await broker.connect(name: "node-a").openChannel()
        let b = try await broker.connect(name: "node-b").openChannel()
        try await a.declareQueue("shared", options: .durable)
        try await a.declareQueue("a-only", options: .exclusive)
        try await b.send("from b", key: "shared")
        #expect(try await a.drain("shared") == ["from b"])
        await expectCode(BrokerError.resourceLocked) { _ = try await b.get(queue: "a-only", autoAck: true) }
        #expect(broker.connectionNames == ["node-a", "node-b"])
    }
}

/// A settable clock for the simulator's stream timestamps.
final class ManualClock: Sendable {
    private let value: Atomic<Int64>
    init(_ seconds: Int64) { value = Atomic(seconds) }
    var seconds: Int64 {
        get { value.load(ordering: .relaxed) }
        set { value.store(newValue, ordering: .relaxed) }
    }
}

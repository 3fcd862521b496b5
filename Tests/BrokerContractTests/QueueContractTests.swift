import Broker
import ServerTestSupport
import Testing

/// Queues: declaring, owning, limiting and deleting them.
@Suite("Contract: queues")
struct QueueContractTests {
    @Test(arguments: BackendKind.allCases)
    func anEmptyNameGetsAServerGeneratedName(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let info = try await channel.declareQueue("", options: .exclusive)
            #expect(info.name.hasPrefix("amq.gen-"))
            try await channel.send("to the generated queue", key: info.name)
            #expect(try await channel.drain(info.name) == ["to the generated queue"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func passiveDeclareOfMissingQueueIsNotFound(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            await expectCode(BrokerError.notFound) {
                try await channel.declareQueue(t.queueName("missing"), options: QueueOptions(passive: true))
            }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func passiveDeclareReportsReadyMessagesAndConsumers(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.sendAll(["1", "2", "3"], key: queue)
            var info = try await channel.declareQueue(queue, options: QueueOptions(passive: true))
            #expect(info.messageCount == 3)
            #expect(info.consumerCount == 0)
            let consumer = try await t.channel("d").collect(queue, prefetch: 1)
            await consumer.wait(for: 1)
            info = try await channel.declareQueue(queue, options: QueueOptions(passive: true))
            #expect(info.messageCount == 2)
            #expect(info.consumerCount == 1)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func redeclaringWithOtherOptionsOrArgumentsIsPreconditionFailed(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let queue = t.queueName("q")
            let options = QueueOptions(durable: false, arguments: ["x-max-length": 10])
            try await t.channel("a").declareQueue(queue, options: options)
            try await t.channel("b").declareQueue(queue, options: options)
            await expectCode(BrokerError.preconditionFailed) {
                try await t.channel("c").declareQueue(queue, options: QueueOptions(durable: false, arguments: ["x-max-length": 11]))
            }
            await expectCode(BrokerError.preconditionFailed) {
                try await t.channel("d").declareQueue(queue, options: QueueOptions(durable: true, arguments: ["x-max-length": 10]))
            }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aChannelErrorClosesOnlyThatChannel(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let connection = try await t.connect("node")
            let failing = try await connection.openChannel()
            let healthy = try await connection.openChannel()
            await expectCode(BrokerError.notFound) {
                try await failing.declareQueue(t.queueName("missing"), options: QueueOptions(passive: true))
            }
            #expect(failing.closeReason != nil)
            let queue = t.queueName("q")
            try await healthy.declareQueue(queue, options: QueueOptions())
            try await healthy.send("still fine", key: queue)
            #expect(try await healthy.drain(queue) == ["still fine"])
            #expect(connection.closeReason == nil)
            let reopened = try await connection.openChannel()
            try await reopened.declareQueue(queue, options: QueueOptions(passive: true))
        }
    }

    @Test(arguments: BackendKind.allCases)
    func anotherConnectionsExclusiveQueueIsResourceLockedButTakesPublishes(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let owner = try await t.channel("owner")
            let queue = t.queueName("excl")
            try await owner.declareQueue(queue, options: QueueOptions(exclusive: true))
            let intruder = try await t.connect("intruder")
            await expectCode(BrokerError.resourceLocked) {
                try await intruder.openChannel().declareQueue(queue, options: QueueOptions(exclusive: true))
            }
            await expectCode(BrokerError.resourceLocked) {
                try await intruder.openChannel().declareQueue(queue, options: QueueOptions(passive: true))
            }
            await expectCode(BrokerError.resourceLocked) {
                _ = try await intruder.openChannel().consume(queue: queue, options: ConsumeOptions())
            }
            await expectCode(BrokerError.resourceLocked) {
                _ = try await intruder.openChannel().get(queue: queue, autoAck: true)
            }
            await expectCode(BrokerError.resourceLocked) {
                try await intruder.openChannel().deleteQueue(queue, ifUnused: false, ifEmpty: false)
            }
            try await intruder.openChannel().send("published by another connection", key: queue)
            #expect(try await owner.drain(queue) == ["published by another connection"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func anExclusiveQueueIsDeletedWhenItsConnectionCloses(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let owner = try await t.connect("owner")
            let queue = t.queueName("excl")
            try await owner.openChannel().declareQueue(queue, options: QueueOptions(exclusive: true))
            await owner.close()
            let observer = try await t.channel("observer")
            await expectCode(BrokerError.notFound) {
                try await observer.declareQueue(queue, options: QueueOptions(passive: true))
            }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func anAutoDeleteQueueGoesWithItsLastConsumerAndNotBefore(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("auto")
            try await channel.declareQueue(queue, options: QueueOptions(autoDelete: true))
            let first = try await channel.consume(queue: queue, options: ConsumeOptions())
            let second = try await channel.consume(queue: queue, options: ConsumeOptions())
            try await channel.cancel(consumerTag: first.tag)
            try await channel.declareQueue(queue, options: QueueOptions(passive: true))
            try await channel.cancel(consumerTag: second.tag)
            let observer = try await t.channel("observer")
            await expectCode(BrokerError.notFound) {
                try await observer.declareQueue(queue, options: QueueOptions(passive: true))
            }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func deleteRespectsIfUnusedAndIfEmptyAndReportsTheCount(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.sendAll(["1", "2"], key: queue)
            await expectCode(BrokerError.preconditionFailed) {
                try await t.channel("d").deleteQueue(queue, ifUnused: false, ifEmpty: true)
            }
            let consumerChannel = try await t.channel("e")
            let consumer = try await consumerChannel.consume(queue: queue, options: ConsumeOptions(prefetch: 1))
            await expectCode(BrokerError.preconditionFailed) {
                try await t.channel("f").deleteQueue(queue, ifUnused: true, ifEmpty: false)
            }
            try await consumerChannel.cancel(consumerTag: consumer.tag)
            await consumerChannel.close()
            #expect(try await channel.deleteQueue(queue, ifUnused: true, ifEmpty: false) == 2)
            #expect(try await channel.deleteQueue(queue, ifUnused: false, ifEmpty: false) == 0)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func deletingAQueueCancelsItsConsumers(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            let consumer = try await t.channel("consumer").collect(queue)
            try await channel.deleteQueue(queue, ifUnused: false, ifEmpty: false)
            #expect(await consumer.waitFinished())
        }
    }

    @Test(arguments: BackendKind.allCases)
    func purgeRemovesReadyMessages(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.sendAll(["1", "2", "3"], key: queue)
            #expect(try await channel.purgeQueue(queue) == 3)
            try await channel.send("4", key: queue)
            #expect(try await channel.drain(queue) == ["4"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func maxLengthWithDropHeadKeepsTheNewest(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions(arguments: ["x-max-length": 3, "x-overflow": "drop-head"]))
            try await channel.sendAll(["1", "2", "3", "4", "5"], key: queue)
            #expect(try await channel.drain(queue) == ["3", "4", "5"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func maxLengthWithRejectPublishNacksTheOverflow(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions(arguments: ["x-max-length": 2, "x-overflow": "reject-publish"]))
            let results = try await channel.publishBatch(["1", "2", "3"].map { PublishRequest(message: OutgoingMessage($0), exchange: "", routingKey: queue) })
            #expect(results.map { (try? $0.get()) != nil } == [true, true, false])
            let single = await brokerError { try await channel.send("4", key: queue) }
            #expect(single == .nacked)
            #expect(try await channel.drain(queue) == ["1", "2"])
        }
    }

    /// The inbox cap of issue 13 (Specs/amqp-topology.md, "Inbox caps"): `x-max-length-bytes`
    /// with `reject-publish` nacks a publish that would pass the byte limit, keeps what it
    /// holds, and takes publishes again once a consumer took some.
    @Test(arguments: BackendKind.allCases)
    func rejectPublishRefusesOverTheByteLimitAndAcceptsAgainOnceDrained(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(
                queue,
                options: QueueOptions(
                    durable: true,
                    arguments: [
                        "x-max-length": 100, "x-max-length-bytes": 10, "x-overflow": "reject-publish",
                    ]))
            let results = try await channel.publishBatch(
                ["aaaa", "bbbb", "cc", "d"].map {
                    PublishRequest(message: OutgoingMessage($0), exchange: "", routingKey: queue)
                })
            #expect(results.map { (try? $0.get()) != nil } == [true, true, true, false])
            #expect(try await channel.declareQueue(queue, options: QueueOptions(passive: true)).messageCount == 3)
            let taken = try #require(try await channel.get(queue: queue, autoAck: false))
            #expect(String(decoding: taken.body, as: UTF8.self) == "aaaa")
            // Unacked messages do not count against the limit: 6 bytes ready, 4 more fit.
            try await channel.send("eeee", key: queue)
            #expect(await brokerError { try await channel.send("f", key: queue) } == .nacked)
            try await channel.ack(deliveryTag: taken.deliveryTag, multiple: false)
            #expect(try await channel.drain(queue) == ["bbbb", "cc", "eeee"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aRequeueOverMaxLengthDropsFromTheHead(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions(arguments: ["x-max-length": 2]))
            try await channel.send("1", key: queue)
            let taken = try #require(try await channel.get(queue: queue, autoAck: false))
            try await channel.sendAll(["2", "3"], key: queue)
            try await channel.nack(deliveryTag: taken.deliveryTag, multiple: false, requeue: true)
            #expect(try await channel.drain(queue) == ["2", "3"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func anExclusiveQueueIsNeverDurable(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions(durable: true, exclusive: true))
            try await channel.declareQueue(queue, options: QueueOptions(durable: false, exclusive: true))
            #expect(channel.closeReason == nil)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func amqPrefixedQueueNamesAreReserved(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            await expectCode(BrokerError.accessRefused) {
                try await t.channel("c").declareQueue("amq." + t.prefix + "q", options: QueueOptions())
            }
        }
    }
}

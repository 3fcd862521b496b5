import Broker
import ServerTestSupport
import Testing

/// Batched consuming (`consumeBatches`): the same semantics as `consume`, handed over as
/// batches of deliveries.
@Suite("Contract: batched consuming")
struct BatchConsumeContractTests {
    @Test(arguments: BackendKind.allCases)
    func batchesCarryEveryDeliveryInQueueOrderAndAreNeverEmpty(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            let first = (1...50).map(String.init)
            try await channel.sendAll(first, key: queue)
            let consumer = try await channel.collectBatches(queue, prefetch: 0, noAck: true)
            #expect(await consumer.wait(for: 50).map(\.text) == first)
            let second = (51...120).map(String.init)
            try await channel.sendAll(second, key: queue)
            #expect(await consumer.wait(for: 120).map(\.text) == first + second)
            #expect(consumer.batches.allSatisfy { !$0.isEmpty })
            #expect(consumer.deliveries.allSatisfy { $0.consumerTag == consumer.tag && !$0.redelivered })
        }
    }

    @Test
    func theSimulatorHandsOverWhatOneOperationMadeDeliverableAsOneBatch() async throws {
        try await withTestBroker(.inMemory) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.sendAll(["1", "2", "3"], key: queue)
            let consumer = try await channel.collectBatches(queue, prefetch: 10)
            await consumer.wait(for: 3)
            try await channel.sendAll(["4", "5", "6", "7"], key: queue)
            await consumer.wait(for: 7)
            #expect(consumer.batches.map { $0.map(\.text) } == [["1", "2", "3"], ["4", "5", "6", "7"]])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func prefetchBoundsEveryBatchAndAMultipleAckOfItsLastReleasesTheNext(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.sendAll((1...7).map(String.init), key: queue)
            let consumer = try await channel.collectBatches(queue, prefetch: 3)
            await consumer.wait(for: 3)
            // Barriers: the broker's ready count says how many went out.
            #expect(try await readyMessages(t, queue) == 4)
            #expect(consumer.texts == ["1", "2", "3"])
            let last = try #require(consumer.deliveries.last)
            try await channel.ack(deliveryTag: last.deliveryTag, multiple: true)
            await consumer.wait(for: 6)
            #expect(try await readyMessages(t, queue) == 1)
            #expect(consumer.texts == ["1", "2", "3", "4", "5", "6"])
            try await channel.ack(deliveryTag: consumer.deliveries[5].deliveryTag, multiple: true)
            #expect(await consumer.wait(for: 7).map(\.text) == (1...7).map(String.init))
            #expect(consumer.batches.allSatisfy { !$0.isEmpty && $0.count <= 3 })
            try await channel.ack(deliveryTag: consumer.deliveries[6].deliveryTag, multiple: true)
            try await channel.cancel(consumerTag: consumer.tag)
            #expect(try await afterConsumersLeft(t, queue) == 0)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func unackedBatchesComeBackRedeliveredInOrderAfterAChannelClose(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let publisher = try await t.channel("p")
            let queue = t.queueName("q")
            try await publisher.declareQueue(queue, options: QueueOptions())
            try await publisher.sendAll(["1", "2", "3", "4"], key: queue)
            let firstChannel = try await t.channel("first")
            let first = try await firstChannel.collectBatches(queue, prefetch: 3)
            await first.wait(for: 3)
            await firstChannel.close()
            #expect(await first.waitFinished())
            let second = try await t.channel("second").collectBatches(queue, prefetch: 10)
            let again = await second.wait(for: 4)
            #expect(again.map(\.text) == ["1", "2", "3", "4"])
            #expect(again.map(\.redelivered) == [true, true, true, false])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func nackWithRequeueRedeliversToTheBatchedConsumer(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.sendAll(["1", "2"], key: queue)
            let consumer = try await channel.collectBatches(queue, prefetch: 2)
            let got = await consumer.wait(for: 2)
            try await channel.nack(deliveryTag: got[1].deliveryTag, multiple: true, requeue: true)
            let all = await consumer.wait(for: 4)
            #expect(all.map(\.text) == ["1", "2", "1", "2"])
            #expect(all.map(\.redelivered) == [false, false, true, true])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func cancelFinishesTheBatchStreamAndItsUnackedCanStillBeAcked(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.sendAll(["1", "2"], key: queue)
            let consumer = try await channel.collectBatches(queue, prefetch: 10)
            let got = await consumer.wait(for: 2)
            try await channel.cancel(consumerTag: consumer.tag)
            #expect(await consumer.waitFinished())
            try await channel.send("3", key: queue)
            try await channel.ack(deliveryTag: got[1].deliveryTag, multiple: true)
            #expect(try await channel.drain(queue) == ["3"])
            #expect(consumer.texts == ["1", "2"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func deletingTheQueueFinishesTheBatchStream(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            let consumer = try await channel.collectBatches(queue, prefetch: 10)
            try await t.channel("d").deleteQueue(queue, ifUnused: false, ifEmpty: false)
            #expect(await consumer.waitFinished())
        }
    }

    @Test(arguments: BackendKind.allCases)
    func batchedConsumingFromAMissingQueueIsNotFound(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            await expectCode(BrokerError.notFound) {
                _ = try await t.channel("c").consumeBatches(queue: t.queueName("missing"), options: ConsumeOptions())
            }
        }
    }
}

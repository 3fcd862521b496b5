import Broker
import ServerTestSupport
import Testing

/// Consuming: order, prefetch, acknowledgements, redelivery, exclusivity, cancel.
@Suite("Contract: consuming")
struct ConsumeContractTests {
    @Test(arguments: BackendKind.allCases)
    func aQueueDeliversInPublishOrder(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            let texts = (1...50).map(String.init)
            try await channel.sendAll(texts, key: queue)
            let consumer = try await channel.collect(queue, prefetch: 0, noAck: true)
            #expect(await consumer.wait(for: 50).map(\.text) == texts)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func prefetchBoundsUnacknowledgedDeliveries(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.sendAll(["1", "2", "3", "4", "5"], key: queue)
            let consumer = try await channel.collect(queue, prefetch: 2)
            await consumer.wait(for: 2)
            // Barriers: the broker's ready count says how many went out.
            #expect(try await readyMessages(t, queue) == 3)
            #expect(consumer.texts == ["1", "2"])
            try await channel.ack(deliveryTag: consumer.deliveries[0].deliveryTag, multiple: false)
            await consumer.wait(for: 3)
            #expect(try await readyMessages(t, queue) == 2)
            #expect(consumer.texts == ["1", "2", "3"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func ackWithMultipleAcknowledgesEveryEarlierDelivery(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.sendAll(["1", "2", "3", "4"], key: queue)
            let consumer = try await channel.collect(queue, prefetch: 3)
            let first = await consumer.wait(for: 3)
            try await channel.ack(deliveryTag: first[2].deliveryTag, multiple: true)
            #expect(await consumer.wait(for: 4).map(\.text) == ["1", "2", "3", "4"])
            try await channel.ack(deliveryTag: consumer.deliveries[3].deliveryTag, multiple: false)
            await channel.close()
            // Nothing came back to the queue when the channel's consumer left it.
            #expect(try await afterConsumersLeft(t, queue) == 0)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aRequeuedMessageReturnsToItsPlaceMarkedRedelivered(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.sendAll(["1", "2", "3"], key: queue)
            let taken = try #require(try await channel.get(queue: queue, autoAck: false))
            #expect(taken.text == "1")
            #expect(!taken.redelivered)
            try await channel.nack(deliveryTag: taken.deliveryTag, multiple: false, requeue: true)
            let again = try #require(try await channel.get(queue: queue, autoAck: true))
            #expect(again.text == "1")
            #expect(again.redelivered)
            let next = try #require(try await channel.get(queue: queue, autoAck: true))
            #expect(next.text == "2")
            #expect(!next.redelivered)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func nackWithMultipleRequeuesEveryEarlierDeliveryInOrder(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.sendAll(["1", "2", "3", "4"], key: queue)
            let consumerChannel = try await t.channel("consumer")
            let consumer = try await consumerChannel.collect(queue, prefetch: 3)
            let first = await consumer.wait(for: 3)
            try await consumerChannel.cancel(consumerTag: consumer.tag)
            try await consumerChannel.nack(deliveryTag: first[1].deliveryTag, multiple: true, requeue: true)
            // A round trip on the same channel: the queue has seen the nack after it.
            try await consumerChannel.declareQueue(queue, options: QueueOptions(passive: true))
            let rest = try await channel.drainDeliveries(queue, atLeast: 3)
            #expect(rest.map(\.text) == ["1", "2", "4"])
            #expect(rest.map(\.redelivered) == [true, true, false])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func rejectWithoutRequeueDropsTheMessage(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.sendAll(["1", "2"], key: queue)
            let taken = try #require(try await channel.get(queue: queue, autoAck: false))
            try await channel.reject(deliveryTag: taken.deliveryTag, requeue: false)
            let second = try #require(try await channel.get(queue: queue, autoAck: false))
            try await channel.nack(deliveryTag: second.deliveryTag, multiple: false, requeue: false)
            #expect(try await channel.drain(queue) == [])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func anUnknownDeliveryTagIsPreconditionFailed(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.send("1", key: queue)
            let taken = try #require(try await channel.get(queue: queue, autoAck: false))
            try await channel.ack(deliveryTag: taken.deliveryTag, multiple: false)
            // The ack has no reply in AMQP: the call returns, the channel closes with 406 and
            // the next call says so.
            try await channel.ack(deliveryTag: taken.deliveryTag, multiple: false)
            let next = await brokerError { try await channel.declareQueue(queue, options: QueueOptions(passive: true)) }
            #expect(next != nil)
            #expect(channel.closeReason != nil)
            #expect(channel.closeReason?.description.contains("PRECONDITION_FAILED") == true)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func closingAChannelRequeuesItsUnackedDeliveriesAsRedelivered(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let publisher = try await t.channel("p")
            let queue = t.queueName("q")
            try await publisher.declareQueue(queue, options: QueueOptions())
            try await publisher.sendAll(["1", "2", "3"], key: queue)
            let consumerChannel = try await t.channel("c")
            let consumer = try await consumerChannel.collect(queue, prefetch: 2)
            await consumer.wait(for: 2)
            await consumerChannel.close()
            #expect(await consumer.waitFinished())
            // The requeue is done once the closed channel's consumer has left the queue.
            #expect(try await afterConsumersLeft(t, queue) == 3)
            let rest = try await publisher.drainDeliveries(queue, atLeast: 3)
            #expect(rest.map(\.text) == ["1", "2", "3"])
            #expect(rest.map(\.redelivered) == [true, true, false])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func closingAConnectionRequeuesAndCancelsLikeANodeDying(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let publisher = try await t.channel("p")
            let queue = t.queueName("q")
            try await publisher.declareQueue(queue, options: .durable)
            try await publisher.sendAll(["1", "2"], key: queue)
            let node = try await t.connect("node-a")
            let consumer = try await node.openChannel().collect(queue, prefetch: 10)
            await consumer.wait(for: 2)
            await node.close()
            #expect(await consumer.waitFinished())
            let survivor = try await t.channel("node-b").collect(queue, prefetch: 10)
            let again = await survivor.wait(for: 2)
            #expect(again.map(\.text) == ["1", "2"])
            #expect(again.allSatisfy { $0.redelivered })
        }
    }

    @Test(arguments: BackendKind.allCases)
    func anExclusiveConsumerIsTheOnlyOne(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            let exclusive = try await channel.consume(queue: queue, options: ConsumeOptions(exclusive: true))
            await expectCode(BrokerError.accessRefused) {
                _ = try await t.channel("d").consume(queue: queue, options: ConsumeOptions())
            }
            let other = t.queueName("other")
            try await channel.declareQueue(other, options: QueueOptions())
            let shared = try await channel.consume(queue: other, options: ConsumeOptions())
            await expectCode(BrokerError.accessRefused) {
                _ = try await t.channel("e").consume(queue: other, options: ConsumeOptions(exclusive: true))
            }
            withExtendedLifetime((exclusive, shared)) {}
        }
    }

    @Test(arguments: BackendKind.allCases)
    func cancelFinishesTheStreamAndItsUnackedCanStillBeAcked(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.send("1", key: queue)
            let consumer = try await channel.collect(queue, prefetch: 10)
            let got = await consumer.wait(for: 1)
            try await channel.cancel(consumerTag: consumer.tag)
            #expect(await consumer.waitFinished())
            try await channel.send("2", key: queue)
            try await channel.ack(deliveryTag: got[0].deliveryTag, multiple: false)
            #expect(try await channel.drain(queue) == ["2"])
            #expect(consumer.texts == ["1"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func consumersOfOneQueueShareItRoundRobin(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            let a = try await t.channel("a").collect(queue, prefetch: 0, noAck: true)
            let b = try await t.channel("b").collect(queue, prefetch: 0, noAck: true)
            try await channel.sendAll((1...6).map(String.init), key: queue)
            await a.wait(for: 3)
            await b.wait(for: 3)
            #expect(a.texts == ["1", "3", "5"])
            #expect(b.texts == ["2", "4", "6"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func droppingAConsumersStreamDoesNotCancelIt(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            var dropped: BrokerConsumer? = try await channel.consume(queue: queue, options: ConsumeOptions())
            #expect(dropped?.tag.isEmpty == false)
            dropped = nil
            // A barrier: a round trip on the same channel, behind any cancel the drop made.
            #expect(try await channel.declareQueue(queue, options: QueueOptions(passive: true)).consumerCount == 1)
        }
    }

    /// RabbitMQ's round-robin: a consumer goes to the back of the ring after each delivery,
    /// and leaves it only when its turn comes while it is at its prefetch limit.
    @Test(arguments: BackendKind.allCases)
    func aRequeuedMessageGoesToTheConsumerWhoseTurnItIs(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let publisher = try await t.channel("p")
            let queue = t.queueName("q")
            try await publisher.declareQueue(queue, options: QueueOptions())
            let aChannel = try await t.channel("a")
            let a = try await aChannel.collect(queue, prefetch: 1)
            try await publisher.send("m1", key: queue)
            let first = await a.wait(for: 1)
            let b = try await t.channel("b").collect(queue, prefetch: 3)
            try await aChannel.reject(deliveryTag: first[0].deliveryTag, requeue: true)
            #expect(await a.wait(for: 2).map { $0.text + ($0.redelivered ? "!" : "") } == ["m1", "m1!"])
            try await publisher.send("m2", key: queue)
            #expect(await b.wait(for: 1).map(\.text) == ["m2"])
            // A barrier: a's stream ends after everything delivered to it before the cancel-ok.
            try await aChannel.cancel(consumerTag: a.tag)
            #expect(await a.waitFinished())
            #expect(a.deliveries.count == 2)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func getReturnsNilOnAnEmptyQueue(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            #expect(try await channel.get(queue: queue, autoAck: true) == nil)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func consumingFromAMissingQueueIsNotFound(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            await expectCode(BrokerError.notFound) {
                _ = try await t.channel("c").consume(queue: t.queueName("missing"), options: ConsumeOptions())
            }
        }
    }
}

extension BrokerChannel {
    /// Drains a queue with `basic.get` (auto-ack), keeping the whole deliveries. Keeps
    /// trying until `atLeast` came or `timeout` passed, since requeues after a close or a
    /// nack reach a RabbitMQ queue asynchronously.
    func drainDeliveries(_ queue: String, atLeast: Int = 0, timeout: Duration = .seconds(5)) async throws(BrokerError) -> [Delivery] {
        var deliveries: [Delivery] = []
        let deadline = ContinuousClock.now + timeout
        for _ in 0..<100_000 {
            if let delivery = try await get(queue: queue, autoAck: true) {
                deliveries.append(delivery)
            } else if deliveries.count >= atLeast || ContinuousClock.now >= deadline {
                break
            } else {
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        return deliveries
    }
}

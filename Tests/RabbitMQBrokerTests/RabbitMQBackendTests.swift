import Broker
import RabbitMQBroker
import Testing

/// What the RabbitMQ backend itself encodes and decodes: field tables, properties,
/// confirms, channel errors. Needs a running RabbitMQ (see ``LiveRabbitMQ``).
@Suite("RabbitMQ backend", .enabled(if: LiveRabbitMQ.enabled, "needs RabbitMQ at RABBITCHAT_TEST_AMQP_URL: start it with scripts/rabbitmq.sh start"))
struct RabbitMQBackendTests {
    private func openChannel() async throws -> (any BrokerConnection, any BrokerChannel) {
        let connection = try await LiveRabbitMQ.broker().connect(name: LiveRabbitMQ.uniqueName("backend-test"))
        return (connection, try await connection.openChannel())
    }

    @Test func everyFieldValueAndPropertySurvivesTheRoundTrip() async throws {
        let (connection, channel) = try await openChannel()
        defer { Task { await connection.close() } }
        let queue = try await channel.declareQueue("", options: .exclusive).name
        let headers: AMQPTable = [
            "bool": true, "int": .int(-42), "big": .int(Int64.max), "double": .double(2.5), "string": "héllo",
            "timestamp": .timestamp(1_700_000_000), "bytes": .bytes([0, 1, 255]), "void": .void,
            "array": .array([1, "two", .array([false])]), "table": .table(["nested": .table(["deep": 7])]),
        ]
        let properties = MessageProperties(
            contentType: "application/json", persistent: true, messageId: "m-1", correlationId: "c-1", replyTo: "r",
            type: "chat", appId: "rabbitChat", timestamp: 1_700_000_001, expiration: "60000", headers: headers)
        try await channel.publish(OutgoingMessage(body: [1, 2, 3], properties: properties), exchange: "", routingKey: queue, mandatory: true)
        let delivery = try #require(try await channel.get(queue: queue, autoAck: true))
        #expect(delivery.body == [1, 2, 3])
        #expect(delivery.properties == properties)
        #expect(delivery.routingKey == queue)
        #expect(delivery.exchange == "")
        #expect(delivery.redelivered == false)
    }

    @Test func aMessageLargerThanOneFrameArrivesWhole() async throws {
        let (connection, channel) = try await openChannel()
        defer { Task { await connection.close() } }
        let queue = try await channel.declareQueue("", options: .exclusive).name
        // 1 MiB: eight frames at the negotiated 128 KiB frame size.
        let body = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await channel.publish(OutgoingMessage(body: body), exchange: "", routingKey: queue, mandatory: true)
        let consumer = try await channel.consume(queue: queue, options: ConsumeOptions(noAck: true))
        var iterator = consumer.deliveries.makeAsyncIterator()
        let delivery = try #require(await iterator.next())
        #expect(delivery.body == body)
    }

    @Test func aChannelErrorClosesOnlyThatChannel() async throws {
        let (connection, channel) = try await openChannel()
        defer { Task { await connection.close() } }
        await #expect(throws: BrokerError.amqp(code: 404, text: "NOT_FOUND - no queue 'no-such-queue-rabbitchat' in vhost '/'")) {
            try await channel.declareQueue("no-such-queue-rabbitchat", options: QueueOptions(passive: true))
        }
        #expect(channel.closeReason?.code == 404)
        await #expect {
            try await channel.declareQueue("", options: .exclusive)
        } throws: { error in
            guard case .channelClosed(let why) = error as? BrokerError else { return false }
            return why.contains("404")
        }
        #expect(connection.closeReason == nil)
        let other = try await connection.openChannel()
        _ = try await other.declareQueue("", options: .exclusive)
    }

    @Test func pendingPublishesFailWithTheChannelError() async throws {
        let (connection, channel) = try await openChannel()
        defer { Task { await connection.close() } }
        await #expect {
            try await channel.publish(OutgoingMessage("x"), exchange: "no-such-exchange-rabbitchat", routingKey: "k", mandatory: false)
        } throws: { error in
            (error as? BrokerError)?.code == 404
        }
        #expect(channel.closeReason?.code == 404)
    }

    @Test func aBatchReportsEachMessageUnroutableOrConfirmed() async throws {
        let (connection, channel) = try await openChannel()
        defer { Task { await connection.close() } }
        // Persistent messages in a durable queue are confirmed after the disk write, while
        // unroutable ones are returned and confirmed at once: returns overtake earlier acks.
        let queue = LiveRabbitMQ.uniqueName("batch-returns")
        try await channel.declareQueue(queue, options: .durable)
        let batch = (0..<90).map { index in
            PublishRequest(
                message: OutgoingMessage("\(index)", properties: MessageProperties(persistent: true)), exchange: "",
                routingKey: index % 3 == 1 ? "nowhere-\(index)" : queue, mandatory: true)
        }
        let results = try await channel.publishBatch(batch)
        let summary = results.map { result -> String in
            switch result {
            case .success: "ok"
            case .failure(.unroutable(_, let key)): key
            case .failure(let error): "\(error)"
            }
        }
        #expect(summary == (0..<90).map { $0 % 3 == 1 ? "nowhere-\($0)" : "ok" })
        #expect(try await channel.deleteQueue(queue, ifUnused: false, ifEmpty: false) == 60)
    }

    @Test func aFullRejectPublishQueueNacks() async throws {
        let (connection, channel) = try await openChannel()
        defer { Task { await connection.close() } }
        let queue = try await channel.declareQueue("", options: QueueOptions(exclusive: true, arguments: ["x-max-length": 1, "x-overflow": "reject-publish"]))
            .name
        try await channel.publish(OutgoingMessage("first"), exchange: "", routingKey: queue, mandatory: false)
        await #expect(throws: BrokerError.nacked) {
            try await channel.publish(OutgoingMessage("second"), exchange: "", routingKey: queue, mandatory: false)
        }
    }

    @Test func aThousandBatchedPublishesArriveInOrderAndAMultipleAckSettlesThem() async throws {
        let (connection, channel) = try await openChannel()
        defer { Task { await connection.close() } }
        // Not auto-delete: the queue must outlive the cancel to be checked.
        let queue = try await channel.declareQueue("", options: QueueOptions(exclusive: true)).name
        let results = try await channel.publishBatch(
            (0..<1000).map {
                PublishRequest(message: OutgoingMessage("\($0)", properties: MessageProperties(persistent: true)), exchange: "", routingKey: queue)
            })
        #expect(results.allSatisfy { if case .success = $0 { true } else { false } })
        let consumer = try await channel.consume(queue: queue, options: ConsumeOptions(prefetch: 1000))
        var seen: [String] = []
        for await delivery in consumer.deliveries {
            seen.append(delivery.text)
            if seen.count == 1000 {
                try await channel.ack(deliveryTag: delivery.deliveryTag, multiple: true)
                break
            }
        }
        #expect(seen == (0..<1000).map { "\($0)" })
        try await channel.cancel(consumerTag: consumer.tag)
        #expect(try await channel.declareQueue(queue, options: QueueOptions(passive: true)).messageCount == 0)
    }

    @Test func cancellingAConsumerFinishesItsStream() async throws {
        let (connection, channel) = try await openChannel()
        defer { Task { await connection.close() } }
        let queue = try await channel.declareQueue("", options: .exclusive).name
        let consumer = try await channel.consume(queue: queue, options: ConsumeOptions(consumerTag: "tag-1"))
        #expect(consumer.tag == "tag-1")
        try await channel.cancel(consumerTag: consumer.tag)
        var count = 0
        for await _ in consumer.deliveries { count += 1 }
        #expect(count == 0)
    }

    @Test func closingTheConnectionFinishesConsumersAndClosesChannels() async throws {
        let (connection, channel) = try await openChannel()
        let queue = try await channel.declareQueue("", options: .exclusive).name
        let consumer = try await channel.consume(queue: queue, options: ConsumeOptions())
        await connection.close()
        for await _ in consumer.deliveries {}
        #expect(channel.closeReason?.isConnectionLoss == true)
        #expect(await connection.waitUntilClosed().description.contains("closed by the application"))
    }
}

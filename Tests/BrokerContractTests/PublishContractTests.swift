import Broker
import ServerTestSupport
import Testing

/// Publishing: confirms, `mandatory`, batches, properties.
@Suite("Contract: publishing")
struct PublishContractTests {
    @Test(arguments: BackendKind.allCases)
    func aMandatoryMessageThatNoQueueTakesIsUnroutable(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let exchange = t.exchangeName("direct")
            try await channel.declareExchange(exchange, kind: .direct, options: ExchangeOptions(durable: false))
            let error = await brokerError {
                try await channel.publish(OutgoingMessage("nobody"), exchange: exchange, routingKey: "none", mandatory: true)
            }
            #expect(error == .unroutable(exchange: exchange, routingKey: "none"))
            try await channel.publish(OutgoingMessage("dropped silently"), exchange: exchange, routingKey: "none", mandatory: false)
            #expect(channel.closeReason == nil)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aBatchReturnsOneResultPerMessageInOrder(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            let batch = [
                PublishRequest(message: OutgoingMessage("1"), exchange: "", routingKey: queue, mandatory: true),
                PublishRequest(message: OutgoingMessage("2"), exchange: "", routingKey: t.prefix + "nowhere", mandatory: true),
                PublishRequest(message: OutgoingMessage("3"), exchange: "", routingKey: queue, mandatory: true),
            ]
            let results = try await channel.publishBatch(batch)
            #expect(results.count == 3)
            #expect((try? results[0].get()) != nil)
            #expect(results[1].brokerError == .unroutable(exchange: "", routingKey: t.prefix + "nowhere"))
            #expect((try? results[2].get()) != nil)
            #expect(try await channel.drain(queue) == ["1", "3"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func bodyAndPropertiesArriveIntact(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: .durable)
            let properties = MessageProperties(
                contentType: "application/json", persistent: true, messageId: "m-1",
                correlationId: "c-1", replyTo: "r", type: "chat", appId: "rabbitChat",
                timestamp: 1_700_000_000, headers: ["x-from": "alice", "x-n": 7])
            let body: [UInt8] = [0, 1, 2, 255, 0x7B]
            try await channel.publish(OutgoingMessage(body: body, properties: properties), exchange: "", routingKey: queue, mandatory: true)
            let delivery = try #require(try await channel.get(queue: queue, autoAck: true))
            #expect(delivery.body == body)
            #expect(delivery.properties == properties)
            #expect(delivery.exchange == "")
            #expect(delivery.routingKey == queue)
            #expect(delivery.redelivered == false)
        }
    }
}

extension Result where Failure == BrokerError {
    var brokerError: BrokerError? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

import Broker
import Testing

/// Runs `operation` and returns the error it threw, or nil.
/// Any other error is recorded as an issue and returned as nil.
func brokerError<T>(sourceLocation: SourceLocation = #_sourceLocation, _ operation: () async throws -> T) async -> BrokerError? {
    do {
        _ = try await operation()
        return nil
    } catch let error as BrokerError {
        return error
    } catch {
        Issue.record(error, "expected a BrokerError", sourceLocation: sourceLocation)
        return nil
    }
}

/// Expects `operation` to fail with the AMQP reply `code`.
func expectCode<T>(_ code: UInt16, sourceLocation: SourceLocation = #_sourceLocation,
                   _ operation: () async throws -> T) async {
    let error = await brokerError(sourceLocation: sourceLocation, operation)
    #expect(error?.code == code, "expected AMQP \(code), got \(String(describing: error))", sourceLocation: sourceLocation)
}

/// Expects `operation` to fail with a hard (connection-level) AMQP error `code`, and the
/// connection to close because of it.
func expectHardError<T>(_ code: UInt16, closing connection: any BrokerConnection, sourceLocation: SourceLocation = #_sourceLocation,
                        _ operation: () async throws -> T) async {
    let error = await brokerError(sourceLocation: sourceLocation, operation)
    #expect(error?.code == code, "expected AMQP \(code), got \(String(describing: error))", sourceLocation: sourceLocation)
    let deadline = ContinuousClock.now + .seconds(2)
    while connection.closeReason == nil, ContinuousClock.now < deadline {
        try? await Task.sleep(for: .milliseconds(5))
    }
    #expect(connection.closeReason != nil, sourceLocation: sourceLocation)
}

extension BrokerChannel {
    /// Publishes a text message and expects it confirmed.
    func send(_ text: String, to exchange: String = "", key: String, persistent: Bool = false) async throws(BrokerError) {
        try await publish(OutgoingMessage(text, properties: MessageProperties(persistent: persistent)), exchange: exchange,
                          routingKey: key, mandatory: false)
    }

    /// Publishes several texts with one round of confirms and expects all confirmed.
    func sendAll(_ texts: [String], to exchange: String = "", key: String) async throws(BrokerError) {
        let results = try await publishBatch(texts.map { PublishRequest(message: OutgoingMessage($0), exchange: exchange, routingKey: key) })
        for result in results { try result.get() }
    }

    /// Declares each queue (plain options) and fills it with `texts`, confirmed.
    func declareFilled(_ queues: [String], with texts: [String]) async throws(BrokerError) {
        for queue in queues {
            try await declareQueue(queue, options: QueueOptions())
            try await sendAll(texts, key: queue)
        }
    }

    /// Drains a queue with `basic.get` (auto-ack) and returns the texts in order.
    func drain(_ queue: String) async throws(BrokerError) -> [String] {
        var texts: [String] = []
        for _ in 0..<10_000 {
            guard let delivery = try await get(queue: queue, autoAck: true) else { break }
            texts.append(delivery.text)
        }
        return texts
    }

    /// Starts a consumer and a collector of its deliveries.
    func collect(_ queue: String, prefetch: UInt16 = 100, noAck: Bool = false, exclusive: Bool = false,
                 arguments: AMQPTable = [:]) async throws(BrokerError) -> DeliveryCollector {
        DeliveryCollector(try await consume(queue: queue, options: ConsumeOptions(prefetch: prefetch, noAck: noAck, exclusive: exclusive, arguments: arguments)))
    }
}

/// How long a test waits to be sure that nothing more arrives.
func quietPeriod(_ kind: BackendKind) -> Duration {
    kind.isSimulator ? .milliseconds(20) : .milliseconds(300)
}

import BrokerTestSupport

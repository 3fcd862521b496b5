import Broker
import ServerTestSupport
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
func expectCode<T>(
    _ code: UInt16, sourceLocation: SourceLocation = #_sourceLocation,
    _ operation: () async throws -> T
) async {
    let error = await brokerError(sourceLocation: sourceLocation, operation)
    #expect(error?.code == code, "expected AMQP \(code), got \(String(describing: error))", sourceLocation: sourceLocation)
}

/// Expects `operation` to fail with a hard (connection-level) AMQP error `code`, and the
/// connection to close because of it.
func expectHardError<T>(
    _ code: UInt16, closing connection: any BrokerConnection, sourceLocation: SourceLocation = #_sourceLocation,
    _ operation: () async throws -> T
) async {
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
        try await publish(
            OutgoingMessage(text, properties: MessageProperties(persistent: persistent)), exchange: exchange,
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
    func collect(
        _ queue: String, prefetch: UInt16 = 100, noAck: Bool = false, exclusive: Bool = false,
        arguments: AMQPTable = [:]
    ) async throws(BrokerError) -> DeliveryCollector {
        DeliveryCollector(
            try await consume(queue: queue, options: ConsumeOptions(prefetch: prefetch, noAck: noAck, exclusive: exclusive, arguments: arguments)))
    }
}

/// How long a test waits before a step whose precondition nothing shows (a stream consumer's
/// offset taking hold). Never a proof that nothing more arrives: for that, see
/// ``readyMessages(_:_:)`` and ``afterConsumersLeft(_:_:count:)``.
func quietPeriod(_ kind: BackendKind) -> Duration {
    kind.isSimulator ? .milliseconds(20) : .milliseconds(300)
}

/// The queue's ready messages (those the broker has not handed to any consumer), asked on a
/// channel of its own. A barrier for "nothing more is delivered": with `n` published and
/// `ready` left, exactly `n - ready` went out, so a collector that has that many has all.
func readyMessages(_ t: TestBroker, _ queue: String) async throws -> UInt32 {
    try await t.channel("ready-check").declareQueue(queue, options: QueueOptions(passive: true)).messageCount
}

/// Waits until the queue has `count` consumers, then returns its ready messages. The broker
/// requeues a closed channel's unacknowledged deliveries when it drops that channel's
/// consumers, so once they are gone the count says what came back.
func afterConsumersLeft(_ t: TestBroker, _ queue: String, count: UInt32 = 0) async throws -> UInt32 {
    let check = try await t.channel("consumer-check")
    var info = try await check.declareQueue(queue, options: QueueOptions(passive: true))
    try await eventually("\(queue) to have \(count) consumers", timeout: .seconds(10)) {
        info = try await check.declareQueue(queue, options: QueueOptions(passive: true))
        return info.consumerCount == count
    }
    return info.messageCount
}

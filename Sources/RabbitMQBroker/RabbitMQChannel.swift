import Broker

/// A handle on one channel of a ``RabbitMQConnection``, in publisher-confirm mode.
/// Calls are queued to the connection thread; acks are sent without waiting (AMQP has no
/// reply to them), everything else returns the broker's answer.
final class RabbitMQChannel: BrokerChannel {
    let mailbox: ConnectionMailbox
    let shared: ChannelShared

    init(mailbox: ConnectionMailbox, shared: ChannelShared) {
        self.mailbox = mailbox
        self.shared = shared
    }

    var closeReason: BrokerError? {
        shared.closeReason
    }

    /// Runs `body` on the connection thread, failing fast when the channel is known closed.
    private func call<T: Sendable>(_ body: @escaping @Sendable (ConnectionWorker, ChannelShared) -> Result<T, BrokerError>) async throws(BrokerError) -> T {
        if shared.closeReason != nil { throw shared.closedError }
        let shared = self.shared
        return try await mailbox.call { worker in body(worker, shared) }
    }

    func declareExchange(_ name: String, kind: ExchangeKind, options: ExchangeOptions) async throws(BrokerError) {
        try await call { $0.declareExchange($1, name: name, kind: kind, options: options) }
    }

    func deleteExchange(_ name: String) async throws(BrokerError) {
        try await call { $0.deleteExchange($1, name: name) }
    }

    @discardableResult
    func declareQueue(_ name: String, options: QueueOptions) async throws(BrokerError) -> QueueInfo {
        try await call { $0.declareQueue($1, name: name, options: options) }
    }

    @discardableResult
    func deleteQueue(_ name: String, ifUnused: Bool, ifEmpty: Bool) async throws(BrokerError) -> UInt32 {
        try await call { $0.deleteQueue($1, name: name, ifUnused: ifUnused, ifEmpty: ifEmpty) }
    }

    @discardableResult
    func purgeQueue(_ name: String) async throws(BrokerError) -> UInt32 {
        try await call { $0.purgeQueue($1, name: name) }
    }

    func bindQueue(_ queue: String, exchange: String, routingKey: String, arguments: AMQPTable) async throws(BrokerError) {
        try await call { $0.bind($1, queue: queue, exchange: exchange, routingKey: routingKey, arguments: arguments, unbind: false) }
    }

    func unbindQueue(_ queue: String, exchange: String, routingKey: String, arguments: AMQPTable) async throws(BrokerError) {
        try await call { $0.bind($1, queue: queue, exchange: exchange, routingKey: routingKey, arguments: arguments, unbind: true) }
    }

    func publish(_ message: OutgoingMessage, exchange: String, routingKey: String, mandatory: Bool) async throws(BrokerError) {
        if shared.closeReason != nil { throw shared.closedError }
        let shared = self.shared
        let request = PublishRequest(message: message, exchange: exchange, routingKey: routingKey, mandatory: mandatory)
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, BrokerError>, Never>) in
            mailbox.submit(
                .call(
                    run: { worker in worker.publish(shared, [request], waiter: .single(continuation)) },
                    fail: { error in continuation.resume(returning: .failure(error)) }
                ))
        }
        try result.get()
    }

    func publishBatch(_ batch: [PublishRequest]) async throws(BrokerError) -> [Result<Void, BrokerError>] {
        if batch.isEmpty { return [] }
        if shared.closeReason != nil { throw shared.closedError }
        let shared = self.shared
        let results = await withCheckedContinuation { (continuation: CheckedContinuation<[Result<Void, BrokerError>], Never>) in
            mailbox.submit(
                .call(
                    run: { worker in worker.publish(shared, batch, waiter: .batch(continuation)) },
                    fail: { error in continuation.resume(returning: Array(repeating: .failure(error), count: batch.count)) }
                ))
        }
        // A lost connection or a closed channel fails the whole batch: say so as a throw.
        if let first = results.first, case .failure(let error) = first, error.isConnectionLoss || shared.closeReason != nil,
            results.allSatisfy({ if case .failure = $0 { true } else { false } })
        {
            throw error
        }
        return results
    }

    func consume(queue: String, options: ConsumeOptions) async throws(BrokerError) -> BrokerConsumer {
        // Unbounded buffering is safe with manual ack: the broker never has more than
        // `prefetch` unacknowledged deliveries out on this consumer. With noAck the
        // consumer must keep up; the broker's own flow control then slows the queue.
        // Dropping the stream does not cancel the consumer (as on the simulator): its
        // deliveries are then discarded unacknowledged until `cancel` or a close.
        let (stream, continuation) = DeliveryStream.makeStream()
        let tag = try await startConsumer(queue: queue, options: options, output: .stream(continuation))
        return BrokerConsumer(tag: tag, deliveries: stream)
    }

    /// A batch is every delivery for this consumer that one pass of the connection thread
    /// read (at most 512 frames a pass, and at most `prefetch` with manual ack). Buffering
    /// as in ``consume(queue:options:)``.
    func consumeBatches(queue: String, options: ConsumeOptions) async throws(BrokerError) -> BrokerBatchConsumer {
        let (stream, continuation) = AsyncStream.makeStream(of: [Delivery].self, bufferingPolicy: .unbounded)
        let tag = try await startConsumer(queue: queue, options: options, output: .stream(continuation))
        return BrokerBatchConsumer(tag: tag, batches: stream)
    }

    /// Deliveries go to `sink` in the same batches (one pass of the connection thread).
    func consume(queue: String, options: ConsumeOptions, into sink: DeliverySink) async throws(BrokerError) -> String {
        try await startConsumer(queue: queue, options: options, output: .sink(sink))
    }

    /// Sends `basic.consume`; on failure finishes the consumer's own stream.
    private func startConsumer(queue: String, options: ConsumeOptions, output: DeliveryOutput) async throws(BrokerError) -> String {
        do {
            return try await call { worker, shared -> Result<String, BrokerError> in
                let result = worker.consume(shared, queue: queue, options: options, output: output)
                if case .failure = result { output.abandon() }
                return result
            }
        } catch {
            // Failed before reaching the thread (closed channel or connection).
            output.abandon()
            throw error
        }
    }

    func cancel(consumerTag: String) async throws(BrokerError) {
        try await call { $0.cancel($1, tag: consumerTag) }
    }

    func ack(deliveryTag: UInt64, multiple: Bool) async throws(BrokerError) {
        try settle(deliveryTag, .ack(multiple: multiple))
    }

    func nack(deliveryTag: UInt64, multiple: Bool, requeue: Bool) async throws(BrokerError) {
        try settle(deliveryTag, .nack(multiple: multiple, requeue: requeue))
    }

    func reject(deliveryTag: UInt64, requeue: Bool) async throws(BrokerError) {
        try settle(deliveryTag, .reject(requeue: requeue))
    }

    private func settle(_ deliveryTag: UInt64, _ how: ConnectionWorker.Settle) throws(BrokerError) {
        if shared.closeReason != nil { throw shared.closedError }
        mailbox.submit(.settle(shared, deliveryTag: deliveryTag, how))
    }

    func get(queue: String, autoAck: Bool) async throws(BrokerError) -> Delivery? {
        try await call { $0.get($1, queue: queue, autoAck: autoAck) }
    }

    func close() async {
        guard shared.closeReason == nil else { return }
        let shared = self.shared
        let _: Void? = try? await mailbox.call { worker in
            worker.closeChannel(shared)
            return .success(())
        }
    }
}

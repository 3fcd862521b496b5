import Broker

/// A channel of an ``InMemoryConnection``, always in confirm mode. Every method runs
/// atomically in the broker; only a publish under ``InMemoryBroker/stallConfirms()``
/// suspends. Sendable: all fields are immutable or themselves thread-safe.
public final class InMemoryChannel: BrokerChannel {
    let broker: InMemoryBroker
    let id: SimChannelID
    let closeState: SimCloseState

    init(broker: InMemoryBroker, id: SimChannelID, closeState: SimCloseState) {
        self.broker = broker
        self.id = id
        self.closeState = closeState
    }

    /// Runs `body` on the open channel under the broker's lock and returns once what it
    /// changed in durable state is on disk (at once without a data directory).
    private func withChannelDurably<T: Sendable>(_ body: (inout SimBrokerState, SimChannel) throws(BrokerError) -> T) async throws(BrokerError) -> T {
        let closeState = self.closeState
        let id = self.id
        return try await broker.withStateDurably { state throws(BrokerError) -> T in
            let channel = try state.channel(id, closeState)
            return try body(&state, channel)
        }
    }

    /// Runs `body` on the open channel under the broker's lock.
    private func withChannel<T: Sendable>(_ body: (inout SimBrokerState, SimChannel) throws(BrokerError) -> T) throws(BrokerError) -> T {
        let closeState = self.closeState
        let id = self.id
        return try broker.withState { state throws(BrokerError) -> T in
            let channel = try state.channel(id, closeState)
            return try body(&state, channel)
        }
    }

    public func declareExchange(_ name: String, kind: ExchangeKind, options: ExchangeOptions) async throws(BrokerError) {
        try await withChannelDurably { state, channel throws(BrokerError) in try state.declareExchange(channel, name, kind: kind, options: options) }
    }

    public func deleteExchange(_ name: String) async throws(BrokerError) {
        try await withChannelDurably { state, channel throws(BrokerError) in try state.deleteExchange(channel, name) }
    }

    @discardableResult
    public func declareQueue(_ name: String, options: QueueOptions) async throws(BrokerError) -> QueueInfo {
        try await withChannelDurably { state, channel throws(BrokerError) in try state.declareQueue(channel, name, options: options) }
    }

    @discardableResult
    public func deleteQueue(_ name: String, ifUnused: Bool, ifEmpty: Bool) async throws(BrokerError) -> UInt32 {
        try await withChannelDurably { state, channel throws(BrokerError) in try state.deleteQueue(channel, name, ifUnused: ifUnused, ifEmpty: ifEmpty) }
    }

    @discardableResult
    public func purgeQueue(_ name: String) async throws(BrokerError) -> UInt32 {
        try await withChannelDurably { state, channel throws(BrokerError) in try state.purgeQueue(channel, name) }
    }

    public func bindQueue(_ queue: String, exchange: String, routingKey: String, arguments: AMQPTable) async throws(BrokerError) {
        try await withChannelDurably { state, channel throws(BrokerError) in
            try state.bind(channel, queue: queue, exchange: exchange, key: routingKey, arguments: arguments, add: true)
        }
    }

    public func unbindQueue(_ queue: String, exchange: String, routingKey: String, arguments: AMQPTable) async throws(BrokerError) {
        try await withChannelDurably { state, channel throws(BrokerError) in
            try state.bind(channel, queue: queue, exchange: exchange, key: routingKey, arguments: arguments, add: false)
        }
    }

    public func publish(_ message: OutgoingMessage, exchange: String, routingKey: String, mandatory: Bool) async throws(BrokerError) {
        let results = try await publishBatch([PublishRequest(message: message, exchange: exchange, routingKey: routingKey, mandatory: mandatory)])
        try results[0].get()
    }

    public func publishBatch(_ batch: [PublishRequest]) async throws(BrokerError) -> [Result<Void, BrokerError>] {
        let outcome = try await withChannelDurably { state, channel throws(BrokerError) in try state.publish(channel, batch) }
        switch outcome {
        case .done(let results):
            return results
        case .stalled(let ticket):
            let broker = self.broker
            let decided = await withCheckedContinuation { continuation in
                broker.withState { $0.awaitConfirm(ticket, continuation) }
            }
            return try decided.get()
        }
    }

    /// Starts a consumer. It lives until cancelled, its channel closes or its queue goes;
    /// dropping its stream does not cancel it (as with the RabbitMQ backend).
    public func consume(queue: String, options: ConsumeOptions) async throws(BrokerError) -> BrokerConsumer {
        try withChannel { state, channel throws(BrokerError) in try state.consume(channel, queue: queue, options: options) }
    }

    /// Starts a batched consumer (see ``BrokerChannel/consumeBatches(queue:options:)``): each
    /// batch is what one broker operation (a publish batch, an ack, a requeue) made
    /// deliverable to it. Lives like a ``consume(queue:options:)`` consumer.
    public func consumeBatches(queue: String, options: ConsumeOptions) async throws(BrokerError) -> BrokerBatchConsumer {
        try withChannel { state, channel throws(BrokerError) in try state.consumeBatches(channel, queue: queue, options: options) }
    }

    /// Starts a consumer whose deliveries go to a shared sink (see
    /// ``BrokerChannel/consume(queue:options:into:)``); its `ended` event comes where a
    /// ``consume(queue:options:)`` consumer's stream would finish.
    public func consume(queue: String, options: ConsumeOptions, into sink: DeliverySink) async throws(BrokerError) -> String {
        try withChannel { state, channel throws(BrokerError) in try state.consume(channel, queue: queue, options: options, into: sink) }
    }

    public func cancel(consumerTag: String) async throws(BrokerError) {
        try withChannel { state, channel throws(BrokerError) in state.cancel(channel, tag: consumerTag) }
    }

    public func ack(deliveryTag: UInt64, multiple: Bool) async throws(BrokerError) {
        try withChannel { state, channel throws(BrokerError) in try state.settle(channel, tag: deliveryTag, multiple: multiple, requeue: false) }
    }

    public func nack(deliveryTag: UInt64, multiple: Bool, requeue: Bool) async throws(BrokerError) {
        try withChannel { state, channel throws(BrokerError) in try state.settle(channel, tag: deliveryTag, multiple: multiple, requeue: requeue) }
    }

    public func reject(deliveryTag: UInt64, requeue: Bool) async throws(BrokerError) {
        try withChannel { state, channel throws(BrokerError) in try state.settle(channel, tag: deliveryTag, multiple: false, requeue: requeue) }
    }

    public func get(queue: String, autoAck: Bool) async throws(BrokerError) -> Delivery? {
        try withChannel { state, channel throws(BrokerError) in try state.get(channel, queue: queue, autoAck: autoAck) }
    }

    public func close() async {
        let id = self.id
        broker.withState { state in
            if let channel = state.channels[id] {
                state.closeChannel(channel, reason: .channelClosed("the channel was closed by the application."))
            }
        }
    }

    public var closeReason: BrokerError? { closeState.reason }
}

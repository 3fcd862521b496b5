/// The seam between rabbitChat and an AMQP 0-9-1 broker.
///
/// Two backends conform: `RabbitMQBroker` (RabbitMQ through rabbitmq-c) and `InMemoryBroker`
/// (an in-process simulator of the same semantics). Everything the chat server needs from a
/// broker is expressed here, and `Specs/broker-contract.md` lists the rules that the contract
/// suite holds both backends to.
///
/// The shape follows AMQP: a `Broker` opens connections, a connection opens channels, and a
/// channel declares, binds, publishes and consumes. A channel-level error (NOT_FOUND,
/// RESOURCE_LOCKED, PRECONDITION_FAILED, ...) closes that channel, exactly as AMQP does;
/// the connection and its other channels go on.
public protocol Broker: Sendable {
    /// Opens a new connection. `name` shows up in the broker's management view
    /// (`connection_name` client property) and in errors.
    func connect(name: String) async throws(BrokerError) -> any BrokerConnection

    /// A short human description for banners and logs, e.g. `amqp://127.0.0.1:5672/` or
    /// `in-process broker`. Never contains a password.
    var displayName: String { get }
}

/// One AMQP connection. Closing it closes its channels, cancels its consumers (their
/// unacknowledged deliveries go back to their queues, marked redelivered) and deletes the
/// exclusive queues it declared.
public protocol BrokerConnection: Sendable {
    /// Opens a channel in confirm mode: every publish on it returns only once confirmed.
    func openChannel() async throws(BrokerError) -> any BrokerChannel

    /// Closes the connection cleanly. Idempotent.
    func close() async

    /// `nil` while the connection is open, else why it closed.
    var closeReason: BrokerError? { get }

    /// Waits until the connection is closed, by us or by the broker, and says why.
    /// This is the way to observe connection loss; reconnecting is `Broker.connect` again.
    func waitUntilClosed() async -> BrokerError
}

/// One AMQP channel, always in publisher-confirm mode.
///
/// Methods that talk to the broker suspend until the broker answered. A channel error
/// closes the channel: every later call throws ``BrokerError/channelClosed(_:)``.
public protocol BrokerChannel: Sendable {
    /// Declares an exchange (or with `passive`, checks that it exists).
    func declareExchange(_ name: String, kind: ExchangeKind, options: ExchangeOptions) async throws(BrokerError)

    /// Deletes an exchange. Deleting one that does not exist is not an error (RabbitMQ 3.x).
    func deleteExchange(_ name: String) async throws(BrokerError)

    /// Declares a queue (or with `passive`, checks that it exists). An empty name asks the
    /// broker to generate one; the result carries the name and the current counts.
    @discardableResult
    func declareQueue(_ name: String, options: QueueOptions) async throws(BrokerError) -> QueueInfo

    /// Deletes a queue and returns how many messages it held.
    @discardableResult
    func deleteQueue(_ name: String, ifUnused: Bool, ifEmpty: Bool) async throws(BrokerError) -> UInt32

    /// Removes every ready message of a queue and returns how many.
    @discardableResult
    func purgeQueue(_ name: String) async throws(BrokerError) -> UInt32

    func bindQueue(_ queue: String, exchange: String, routingKey: String, arguments: AMQPTable) async throws(BrokerError)
    func unbindQueue(_ queue: String, exchange: String, routingKey: String, arguments: AMQPTable) async throws(BrokerError)

    /// Publishes one message and returns once the broker confirmed it (`basic.ack`).
    ///
    /// Throws ``BrokerError/nacked`` on `basic.nack` (e.g. `x-overflow=reject-publish`),
    /// ``BrokerError/unroutable(exchange:routingKey:)`` when `mandatory` and no queue took it
    /// (`basic.return` 312 NO_ROUTE), and ``BrokerError/connectionClosed(_:)`` when the
    /// connection was lost before the confirm: then the message may or may not have been
    /// stored, and a retry is the caller's decision.
    func publish(_ message: OutgoingMessage, exchange: String, routingKey: String, mandatory: Bool) async throws(BrokerError)

    /// Publishes several messages in order with one round of confirms. The result has one
    /// entry per message, in the same order. Faster than awaiting each publish.
    func publishBatch(_ batch: [PublishRequest]) async throws(BrokerError) -> [Result<Void, BrokerError>]

    /// Starts a consumer. Deliveries arrive on the consumer's stream in queue order;
    /// with manual ack at most `prefetch` are unacknowledged at a time.
    func consume(queue: String, options: ConsumeOptions) async throws(BrokerError) -> BrokerConsumer

    /// Starts a consumer whose deliveries arrive in batches: each element of its stream is
    /// every delivery the backend had for this consumer at that moment, in queue order,
    /// never empty. With manual ack a batch holds at most `prefetch` deliveries (the
    /// broker sends no more before acks), so acking the last delivery of a batch with
    /// `multiple` settles the whole batch in one call.
    ///
    /// Same semantics as ``consume(queue:options:)`` (prefetch, `redelivered`, exclusive,
    /// cancel, what a channel close does); only the unit of hand-over differs. It exists
    /// for throughput: one stream element per message costs more than the broker work
    /// itself. On the simulator a batch is everything one broker operation (a publish
    /// batch, an ack) made deliverable; on RabbitMQ, every delivery read in one pass of
    /// the connection thread.
    func consumeBatches(queue: String, options: ConsumeOptions) async throws(BrokerError) -> BrokerBatchConsumer

    /// Starts a consumer whose deliveries go to `sink`, which other consumers (of this or
    /// other channels) may share: the way to run thousands of consumers without a stream and
    /// a reading task each. Same semantics as ``consume(queue:options:)`` (prefetch per
    /// consumer, `redelivered`, exclusive, cancel, what a channel close does); where that
    /// consumer's stream would finish, the sink gets ``DeliverySink/Event/ended(consumerTag:)``.
    /// Returns the consumer tag. A consume that fails leaves the sink as it is.
    func consume(queue: String, options: ConsumeOptions, into sink: DeliverySink) async throws(BrokerError) -> String

    /// Cancels a consumer: its stream finishes; its unacknowledged deliveries stay
    /// unacknowledged until acked, nacked or the channel closes.
    func cancel(consumerTag: String) async throws(BrokerError)

    /// Acknowledges a delivery of this channel (and, with `multiple`, every earlier one).
    func ack(deliveryTag: UInt64, multiple: Bool) async throws(BrokerError)

    /// Negatively acknowledges; with `requeue` the message goes back to its queue (marked
    /// redelivered), without it the message is dropped.
    func nack(deliveryTag: UInt64, multiple: Bool, requeue: Bool) async throws(BrokerError)

    /// Rejects one delivery; same as a single `nack`.
    func reject(deliveryTag: UInt64, requeue: Bool) async throws(BrokerError)

    /// Fetches one message without a consumer (`basic.get`), `nil` when the queue is empty.
    /// Refused by stream queues.
    func get(queue: String, autoAck: Bool) async throws(BrokerError) -> Delivery?

    /// Closes the channel. Its unacknowledged deliveries go back to their queues. Idempotent.
    func close() async

    /// `nil` while open, else why the channel closed.
    var closeReason: BrokerError? { get }
}

/// One message to publish, as part of a batch.
public struct PublishRequest: Sendable, Hashable {
    public var message: OutgoingMessage
    public var exchange: String
    public var routingKey: String
    public var mandatory: Bool

    public init(message: OutgoingMessage, exchange: String, routingKey: String, mandatory: Bool = false) {
        self.message = message
        self.exchange = exchange
        self.routingKey = routingKey
        self.mandatory = mandatory
    }
}

/// A running consumer: its tag and the stream of its deliveries. The stream finishes when
/// the consumer is cancelled (by us or by the broker, e.g. queue deleted) or its channel or
/// connection closes. Buffering as in ``BrokerBatchConsumer``.
public struct BrokerConsumer: Sendable {
    public let tag: String
    public let deliveries: DeliveryStream

    public init(tag: String, deliveries: DeliveryStream) {
        self.tag = tag
        self.deliveries = deliveries
    }
}

/// A running batched consumer (``BrokerChannel/consumeBatches(queue:options:)``): its tag and
/// the stream of its delivery batches. The stream finishes, after the last batch, when the
/// consumer is cancelled (by us or by the broker, e.g. queue deleted) or its channel or
/// connection closes.
///
/// Overflow rule: the stream buffers without a bound of its own; with manual ack the broker
/// bounds it (at most `prefetch` deliveries are unacknowledged, so at most that many are
/// buffered). With `noAck` the reader must keep up.
public struct BrokerBatchConsumer: Sendable {
    public let tag: String
    public let batches: AsyncStream<[Delivery]>

    public init(tag: String, batches: AsyncStream<[Delivery]>) {
        self.tag = tag
        self.batches = batches
    }
}

/// How a backend hands deliveries to one consumer's stream; both backends use it, so a
/// consumer sees the same units of hand-over on either.
///
/// A backend produces deliveries in units of its own work (one pass of a RabbitMQ
/// connection thread over the frames it has read, one locked simulator operation). During
/// the unit it calls ``emit(_:)`` for each delivery, and at the end of the unit ``flush()``
/// on every consumer that ``emit(_:)`` asked it to remember. The consumer's stream then gets
/// one element with all of the unit's deliveries: a batched consumer
/// (``BrokerBatchConsumer``) sees it as it is, a per-delivery consumer (``DeliveryStream``)
/// walks it one delivery at a time. Either way its reader wakes once per unit, not once per
/// delivery (each wake-up of a waiting reader is a thread hand-off that costs more than
/// reading the delivery).
///
/// Not thread-safe and not `Sendable`: it belongs to the backend's own isolation (the
/// connection thread, the simulator's lock), as the consumer's other state does.
///
/// Overflow rule: what is kept between ``emit(_:)`` and ``flush()`` is bounded by the unit
/// (a RabbitMQ pass reads a bounded number of frames; with manual ack the prefetch window
/// bounds what a simulator operation dispatches); the stream behind it buffers as
/// ``BrokerBatchConsumer`` says.
public final class DeliveryHandOver {
    private let output: DeliveryOutput
    /// The consumer's tag, for ``DeliverySink/Event/ended(consumerTag:)``.
    private let consumerTag: String
    /// Deliveries of the current unit, not yet handed over.
    private var pending: [Delivery] = []
    /// The capacity a batch starts with: the most a unit is expected to hold.
    private let expectedBatch: Int

    /// - Parameters:
    ///   - continuation: the consumer's stream (``DeliveryStream/makeStream()`` or an
    ///     `AsyncStream<[Delivery]>` of a batched consumer).
    ///   - expectedBatch: how many deliveries a unit usually holds at most (e.g. the
    ///     prefetch window), so that a batch is allocated once at its final size.
    public convenience init(_ continuation: AsyncStream<[Delivery]>.Continuation, expectedBatch: Int = 64) {
        self.init(.stream(continuation), consumerTag: "", expectedBatch: expectedBatch)
    }

    /// - Parameters:
    ///   - output: the consumer's own stream or a shared ``DeliverySink``.
    ///   - consumerTag: the consumer's tag (a sink's `ended` event names it).
    ///   - expectedBatch: as above.
    public init(_ output: DeliveryOutput, consumerTag: String, expectedBatch: Int = 64) {
        self.output = output
        self.consumerTag = consumerTag
        self.expectedBatch = max(1, expectedBatch)
    }

    /// Keeps `delivery` for the end of the unit. Returns true when it is the unit's first,
    /// i.e. when the caller must remember to call ``flush()`` on this consumer.
    public func emit(_ delivery: consuming Delivery) -> Bool {
        if pending.isEmpty { pending.reserveCapacity(expectedBatch) }
        pending.append(delivery)
        return pending.count == 1
    }

    /// Hands over what the unit produced, as one batch (nothing when it produced nothing).
    public func flush() {
        guard !pending.isEmpty else { return }
        let batch = pending
        pending = []
        switch output {
        case .stream(let continuation): continuation.yield(batch)
        case .sink(let sink): sink.yield(.deliveries(batch))
        }
    }

    /// Hands over what is left, then ends the consumer: its own stream finishes, a sink gets
    /// its `ended` event.
    public func finish() {
        flush()
        switch output {
        case .stream(let continuation): continuation.finish()
        case .sink(let sink): sink.yield(.ended(consumerTag: consumerTag))
        }
    }
}

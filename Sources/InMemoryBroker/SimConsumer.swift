import Broker

/// Where a consumer's deliveries go: one stream element per delivery (`consume`), or one per
/// broker operation with everything it made deliverable (`consumeBatches`).
enum SimConsumerOutput {
    case single(AsyncStream<Delivery>.Continuation)
    case batches(AsyncStream<[Delivery]>.Continuation)
}

/// A consumer: where its deliveries go and how many it may hold unacknowledged.
final class SimConsumer {
    let tag: String
    /// The consumer's channel. The reference cycle (the channel keeps its consumers) is
    /// broken whenever the consumer goes: cancel, channel close and queue delete all take
    /// it out of `SimChannel.consumers`.
    let owner: SimChannel
    var channel: SimChannelID { owner.id }
    let queue: SimQueue
    let prefetch: UInt16
    let noAck: Bool
    let exclusive: Bool
    let output: SimConsumerOutput
    /// Deliveries to a batched consumer not yet handed over: ``SimCore/flushBatches()``
    /// yields them as one batch when the broker operation that made them ends.
    private var pending: [Delivery] = []
    /// Deliveries to this consumer not yet acknowledged.
    var unacked = 0
    /// For a stream consumer: the offset of the next entry to deliver.
    var streamCursor: Int64 = 0
    var isActive = false
    var isCancelled = false

    init(tag: String, channel: SimChannel, queue: SimQueue, prefetch: UInt16, noAck: Bool, exclusive: Bool,
         output: SimConsumerOutput) {
        self.tag = tag
        self.owner = channel
        self.queue = queue
        self.prefetch = prefetch
        self.noAck = noAck
        self.exclusive = exclusive
        self.output = output
    }

    /// Whether the consumer may take one more delivery now.
    var hasCapacity: Bool { noAck || prefetch == 0 || unacked < Int(prefetch) }

    /// Hands over one delivery, or for a batched consumer keeps it for the batch. Returns
    /// true when the batch was empty before, i.e. the consumer now needs a flush.
    func emit(_ delivery: consuming Delivery) -> Bool {
        switch output {
        case .single(let continuation):
            continuation.yield(delivery)
            return false
        case .batches:
            if pending.isEmpty {
                pending.reserveCapacity(prefetch == 0 || noAck ? 64 : min(Int(prefetch), 1024))
            }
            pending.append(delivery)
            return pending.count == 1
        }
    }

    /// Yields the kept deliveries of a batched consumer as one batch.
    func flush() {
        guard case .batches(let continuation) = output, !pending.isEmpty else { return }
        let batch = pending
        pending = []
        continuation.yield(batch)
    }

    /// Finishes the stream, after the last batch.
    func finish() {
        switch output {
        case .single(let continuation):
            continuation.finish()
        case .batches(let continuation):
            flush()
            continuation.finish()
        }
    }
}

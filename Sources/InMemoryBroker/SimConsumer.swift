import Broker

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
    /// Where its deliveries go: ``SimBrokerState/flushDeliveries()`` hands them over when the
    /// broker operation that made them ends.
    let handOver: DeliveryHandOver
    /// Deliveries to this consumer not yet acknowledged.
    var unacked = 0
    /// For a stream consumer: the offset of the next entry to deliver.
    var streamCursor: Int64 = 0
    var isActive = false
    var isCancelled = false

    init(
        tag: String, channel: SimChannel, queue: SimQueue, prefetch: UInt16, noAck: Bool, exclusive: Bool,
        output: DeliveryOutput
    ) {
        self.tag = tag
        self.owner = channel
        self.queue = queue
        self.prefetch = prefetch
        self.noAck = noAck
        self.exclusive = exclusive
        // One operation dispatches at most the prefetch window (everything, without one).
        handOver = DeliveryHandOver(output, consumerTag: tag, expectedBatch: prefetch == 0 || noAck ? 64 : min(Int(prefetch), 1024))
    }

    /// Whether the consumer may take one more delivery now.
    var hasCapacity: Bool { noAck || prefetch == 0 || unacked < Int(prefetch) }
}

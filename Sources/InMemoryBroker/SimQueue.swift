import Broker
import DequeModule

/// A queue of the simulator: a classic FIFO (with requeue to the original place), or a
/// stream (an append-only log read from offsets, where acks do not remove anything).
final class SimQueue {
    let name: String
    let durable: Bool
    /// The connection that owns an exclusive queue.
    let exclusiveOwner: SimConnectionID?
    let autoDelete: Bool
    let arguments: AMQPTable
    let limits: SimQueueLimits
    /// Set when the queue is deleted, so that late acks and requeues of its messages are
    /// recognised and dropped.
    var isDeleted = false
    /// The queue's id in the store: set for a durable queue of a broker with a data directory.
    var storeID: Int64?

    /// Ready messages, ordered by `seq`.
    var ready: Deque<SimQueuedMessage> = []
    var readyBytes = 0
    var nextSeq: UInt64 = 0
    /// Consumers in subscription order.
    var consumers: [SimConsumer] = []
    /// The round-robin ring of consumers: the head gets the next message and then goes to
    /// the back. A consumer found at its prefetch limit when its turn comes leaves the ring
    /// and comes back at the back when an ack makes room (RabbitMQ's order exactly).
    var active: Deque<SimConsumer> = []
    /// Auto-delete applies only once a queue has had a consumer.
    var hadConsumer = false
    /// The log of a stream queue, oldest first. Retention drops entries from the front
    /// (``appendToLog(_:timestamp:maxBodyBytes:maxMemoryBytes:)``), so offsets are not
    /// indices: the entry at offset `o` is `log[o - log.first!.offset]`.
    var log: Deque<SimStreamEntry> = []
    /// Body bytes of the entries in `log`: what retention counts.
    var logBytes = 0
    /// The offset the next appended entry gets; it keeps counting when old entries are dropped.
    var nextOffset: Int64 = 0

    var isStream: Bool { limits.kind == .stream }

    init(name: String, durable: Bool, exclusiveOwner: SimConnectionID?, autoDelete: Bool, arguments: AMQPTable, limits: SimQueueLimits) {
        self.name = name
        self.durable = durable
        self.exclusiveOwner = exclusiveOwner
        self.autoDelete = autoDelete
        self.arguments = arguments
        self.limits = limits
    }

    /// The next offset a stream appends at.
    var streamEnd: Int64 { nextOffset }

    /// Appends one entry to a stream's log, then drops the oldest entries (the newest always
    /// stays) while the bodies in the log add up to more than `maxBodyBytes` (the stream's
    /// `x-max-length-bytes`; RabbitMQ drops whole segment files instead, so it keeps a little
    /// more than its limit; the bound is the same), or while the log's memory, counted as
    /// bodies plus ``SimStreamEntry/bookkeepingBytes`` per entry, is over `maxMemoryBytes`.
    func appendToLog(_ payload: SimPayload, timestamp: Int64, maxBodyBytes: Int?, maxMemoryBytes: Int?) {
        log.append(SimStreamEntry(offset: nextOffset, timestamp: timestamp, payload: payload))
        nextOffset += 1
        logBytes += payload.body.count
        let maxBody = maxBodyBytes ?? .max
        let maxMemory = maxMemoryBytes ?? .max
        while log.count > 1, logBytes > maxBody || logBytes + log.count * SimStreamEntry.bookkeepingBytes > maxMemory,
            let dropped = log.popFirst()
        {
            logBytes -= dropped.payload.body.count
        }
    }

    /// Ready count as `queue.declare-ok` reports it (0 for streams, like RabbitMQ).
    var messageCount: UInt32 { isStream ? 0 : UInt32(ready.count) }

    func appendReady(_ message: SimQueuedMessage) {
        ready.append(message)
        readyBytes += message.payload.body.count
    }

    func popReady() -> SimQueuedMessage? {
        guard let message = ready.popFirst() else { return nil }
        readyBytes -= message.payload.body.count
        return message
    }

    /// Puts a message back at its original place (by `seq`), marked redelivered.
    func requeue(_ message: SimQueuedMessage) {
        var message = message
        message.redelivered = true
        readyBytes += message.payload.body.count
        if let last = ready.last, last.seq > message.seq {
            var low = 0
            var high = ready.count
            while low < high {
                let mid = (low + high) / 2
                if ready[mid].seq < message.seq { low = mid + 1 } else { high = mid }
            }
            ready.insert(message, at: low)
        } else {
            ready.append(message)
        }
    }

    /// Removes every ready message; returns how many.
    func purge() -> UInt32 {
        let count = ready.count
        ready.removeAll()
        readyBytes = 0
        return UInt32(count)
    }

    /// Whether one more message of `bytes` would exceed a length limit.
    func isFull(adding bytes: Int) -> Bool {
        if let max = limits.maxLength, ready.count + 1 > max { return true }
        if let max = limits.maxLengthBytes, readyBytes + bytes > max { return true }
        return false
    }

    /// Drops ready messages from the head until the limits hold (`x-overflow=drop-head`);
    /// returns them.
    @discardableResult
    func dropHeadOverLimits() -> [SimQueuedMessage] {
        var dropped: [SimQueuedMessage] = []
        while let max = limits.maxLength, ready.count > max, let message = popReady() { dropped.append(message) }
        while let max = limits.maxLengthBytes, readyBytes > max, let message = popReady() { dropped.append(message) }
        return dropped
    }
}

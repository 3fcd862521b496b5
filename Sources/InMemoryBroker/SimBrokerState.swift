import Broker
import DequeModule

typealias SimConnectionID = UInt64
typealias SimChannelID = UInt64

/// One open connection of the simulator.
final class SimConnection {
    let id: SimConnectionID
    let name: String
    let closeState: SimCloseState
    var channels: [SimChannelID: SimChannel] = [:]

    init(id: SimConnectionID, name: String, closeState: SimCloseState) {
        self.id = id
        self.name = name
        self.closeState = closeState
    }
}

/// A delivery not yet acknowledged, kept by its channel in delivery-tag order.
struct SimUnacked {
    let tag: UInt64
    let queue: SimQueue
    let message: SimQueuedMessage
    /// nil for `basic.get`.
    let consumer: SimConsumer?
}

/// One open channel of the simulator.
final class SimChannel {
    let id: SimChannelID
    let connection: SimConnection
    let closeState: SimCloseState
    var nextTag: UInt64 = 1
    /// Unacknowledged deliveries, ordered by tag.
    var unacked: Deque<SimUnacked> = []
    var consumers: [String: SimConsumer] = [:]

    init(id: SimChannelID, connection: SimConnection, closeState: SimCloseState) {
        self.id = id
        self.connection = connection
        self.closeState = closeState
    }
}

/// What a publish came to: the per-message results now, or a ticket to wait on while
/// confirms are stalled by fault injection.
enum SimPublishOutcome: Sendable {
    case done([Result<Void, BrokerError>])
    case stalled(UInt64)
}

/// A batch of confirms held back by ``InMemoryBroker/stallConfirms()``.
struct SimPendingConfirm {
    let connection: SimConnectionID
    var results: [Result<Void, BrokerError>]
    var continuation: CheckedContinuation<Result<[Result<Void, BrokerError>], BrokerError>, Never>?
    /// Set when the batch is decided (released, or the connection was lost).
    var outcome: Result<[Result<Void, BrokerError>], BrokerError>?
}

/// The whole state of the simulated broker: one value, protected by one `Mutex` in
/// ``InMemoryBroker``. Every method runs under that lock, so each AMQP method is atomic,
/// as it is inside a RabbitMQ queue process, and deliveries are handed to the consumers'
/// streams in queue order while the lock is held.
struct SimBrokerState: ~Copyable {
    var exchanges: [String: SimExchange] = [:]
    var queues: [String: SimQueue] = [:]
    var connections: [SimConnectionID: SimConnection] = [:]
    var channels: [SimChannelID: SimChannel] = [:]
    var nextID: UInt64 = 1
    var faults = SimFaults()
    var pendingConfirms: [UInt64: SimPendingConfirm] = [:]
    /// Batched consumers holding deliveries that the current operation made.
    var unflushed: [SimConsumer] = []
    let clock: @Sendable () -> Int64
    /// The most memory any stream's log takes (bodies and bookkeeping), whatever its
    /// `x-max-length-bytes` says (nil: only the queue's own limit): the simulator keeps streams
    /// in memory, not on disk.
    let maxStreamBytes: Int?
    /// Whether durable state is kept in a store (``InMemoryBroker/init(dataDirectory:clock:maxStreamBytes:log:)``):
    /// then every change to it is also appended to `journal`, which the broker hands to the
    /// store at the end of the operation.
    var storing = false
    var journal: [StoreOp] = []
    /// The store id the next durable queue gets.
    var nextStoreQueueID: Int64 = 1

    init(clock: @escaping @Sendable () -> Int64, maxStreamBytes: Int? = nil) {
        self.clock = clock
        self.maxStreamBytes = maxStreamBytes
        for (name, kind) in [("amq.direct", ExchangeKind.direct), ("amq.fanout", .fanout), ("amq.topic", .topic)] {
            exchanges[name] = SimExchange(name: name, kind: kind, durable: true, autoDelete: false, arguments: [:])
        }
    }

    mutating func makeID() -> UInt64 {
        defer { nextID += 1 }
        return nextID
    }

    // MARK: Lookups that raise AMQP's errors

    /// The open channel, or the error that says why it is not open.
    func channel(_ id: SimChannelID, _ closeState: SimCloseState) throws(BrokerError) -> SimChannel {
        if let channel = channels[id] { return channel }
        throw closeState.reason ?? .channelClosed("the channel is closed")
    }

    /// The queue `name`, checked for the access of `connection` (lax: an exclusive queue is
    /// usable only by its owner; a shared one by all).
    mutating func queue(_ name: String, for channel: SimChannel) throws(BrokerError) -> SimQueue {
        guard let queue = queues[name] else {
            throw channelError(channel, BrokerError.notFound, "NOT_FOUND - no queue '\(name)' in vhost '/'")
        }
        if let owner = queue.exclusiveOwner, owner != channel.connection.id {
            throw channelError(channel, BrokerError.resourceLocked, Self.lockedText(name))
        }
        return queue
    }

    mutating func exchange(_ name: String, for channel: SimChannel) throws(BrokerError) -> SimExchange {
        guard let exchange = exchanges[name] else {
            throw channelError(channel, BrokerError.notFound, "NOT_FOUND - no exchange '\(name)' in vhost '/'")
        }
        return exchange
    }

    static func lockedText(_ name: String) -> String {
        "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '\(name)' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration."
    }

    /// A channel exception: closes the channel as AMQP does and returns the error to throw.
    /// Later calls on the channel throw ``BrokerError/channelClosed(_:)`` with the same text.
    mutating func channelError(_ channel: SimChannel, _ code: UInt16, _ text: String) -> BrokerError {
        closeChannel(channel, reason: .channelClosed(text))
        return .amqp(code: code, text: text)
    }

    /// A connection exception (a hard error such as 530 or 540): closes the whole connection
    /// and returns the error to throw, ``BrokerError/amqp(code:text:)``; later calls on the
    /// connection throw ``BrokerError/connectionClosed(_:)`` naming the code.
    mutating func connectionError(_ channel: SimChannel, _ code: UInt16, _ text: String) -> BrokerError {
        closeConnection(channel.connection, reason: .connectionClosed("the broker closed the connection with \(code) \(text); connect again."))
        return .amqp(code: code, text: text)
    }
}

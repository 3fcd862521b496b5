import Broker
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An in-process simulator of the AMQP 0-9-1 semantics that rabbitChat relies on: not a
/// mock, but the same rules as RabbitMQ, held to them by the broker contract suite
/// (`Specs/broker-contract.md`).
///
/// Several server nodes in one process share one instance, each with its own connections,
/// so exclusive queues, consumer ownership and requeue-on-close behave per connection just as
/// they do against a real broker. Everything is deterministic: no timers, no threads; each
/// AMQP method runs atomically under one lock and deliveries are handed to the consumers'
/// streams before the method returns.
///
/// What it simulates: direct, fanout and topic exchanges (and the default exchange `""`,
/// `amq.direct`, `amq.fanout`, `amq.topic`); durable, exclusive, auto-delete and server-named
/// queues; passive declares; the errors NOT_FOUND, RESOURCE_LOCKED, PRECONDITION_FAILED,
/// ACCESS_REFUSED and NOT_IMPLEMENTED where RabbitMQ gives them; confirms, `mandatory`,
/// `x-max-length`/`x-max-length-bytes` with `drop-head` or `reject-publish`; consumers with
/// per-consumer prefetch, acks, nacks and rejects, `multiple`, `redelivered`, exclusive
/// consumers and cancel; streams (`x-queue-type=stream`) read from an offset; restarts.
/// What it does not simulate: TTLs, dead-lettering, priorities, headers exchanges.
///
/// Fault injection (for recovery tests) is in `InMemoryBroker+Faults.swift`.
public final class InMemoryBroker: Broker {
    let core: Mutex<SimCore>

    /// Creates an empty broker with `amq.direct`, `amq.fanout` and `amq.topic`.
    ///
    /// - Parameters:
    ///   - clock: seconds since the epoch, used to stamp stream entries for
    ///     `x-stream-offset` timestamps; inject one to make timestamp reads deterministic.
    ///   - maxStreamBytes: the most memory each stream queue's log may take, counted as its
    ///     message bodies plus about 400 bytes of bookkeeping per message; applies besides the
    ///     stream's own `x-max-length-bytes` (which counts bodies). RabbitMQ keeps a stream on
    ///     disk; the simulator keeps it in the process's memory, where a 1 GiB history would
    ///     be a leak in all but name. The oldest entries go first; readers behind them go on
    ///     from the oldest entry kept. nil: only each stream's own limit applies.
    public init(clock: @escaping @Sendable () -> Int64 = { Int64(time(nil)) }, maxStreamBytes: Int? = nil) {
        precondition(maxStreamBytes.map { $0 > 0 } ?? true, "maxStreamBytes must be positive")
        core = Mutex(SimCore(clock: clock, maxStreamBytes: maxStreamBytes))
    }

    /// Closes whatever is still open when the last handle goes: consumers' streams finish,
    /// waiters wake, and the core's internal references (channel ↔ consumer) are released.
    deinit {
        withCore { core in
            _ = core.dropConnections(named: nil, reason: .connectionClosed("the in-process broker was released."))
        }
    }

    /// Runs `body` on the core under the lock, then hands every batched consumer what the
    /// operation made deliverable: one stream element per consumer and operation.
    func withCore<T: Sendable, E: Error>(_ body: (inout SimCore) throws(E) -> T) throws(E) -> T {
        try core.withLock { core throws(E) -> T in
            defer { core.flushDeliveries() }
            return try body(&core)
        }
    }

    public var displayName: String { "in-process broker" }

    public func connect(name: String) async throws(BrokerError) -> any BrokerConnection {
        try connectInMemory(name: name)
    }

    /// ``connect(name:)`` without the existential, for tests that use the fault API of
    /// the connection.
    public func connectInMemory(name: String) throws(BrokerError) -> InMemoryConnection {
        let closeState = SimCloseState()
        let id = try withCore { core throws(BrokerError) in try core.connect(name: name, closeState: closeState) }
        return InMemoryConnection(broker: self, id: id, name: name, closeState: closeState)
    }

    /// Simulates a broker restart: every connection closes with
    /// ``BrokerError/connectionClosed(_:)``; non-durable queues and exchanges vanish; a
    /// durable classic queue keeps only its persistent messages; streams keep everything.
    /// New connections are accepted at once.
    public func restart() {
        withCore { $0.restart() }
    }

    /// The names of the open connections, oldest first (for tests and diagnostics).
    public var connectionNames: [String] {
        withCore { core in core.connections.values.sorted { $0.id < $1.id }.map(\.name) }
    }

    /// The names of the queues that exist, sorted (for tests and diagnostics).
    public var queueNames: [String] {
        withCore { core in core.queues.keys.sorted() }
    }
}

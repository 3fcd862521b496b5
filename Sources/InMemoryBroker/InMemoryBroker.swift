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
    let state: Mutex<SimBrokerState>
    /// The store under the simulator when it was opened with a data directory; nil in memory.
    let store: DurableStore?
    private let log: @Sendable (String) -> Void

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
        state = Mutex(SimBrokerState(clock: clock, maxStreamBytes: maxStreamBytes))
        store = nil
        log = { _ in }
    }

    /// Opens the broker on the store in `dataDirectory` (made with mode 0700 when absent):
    /// durable exchanges, durable queues with their bindings and persistent messages, and
    /// streams come back exactly as they were confirmed (`Specs/storage.md`). From then on a
    /// publisher confirm (and a declare's reply) comes only once the change is on disk;
    /// acknowledgements are written in the same order, so a crash may redeliver but never
    /// loses. Non-durable and exclusive queues, and non-persistent messages of classic queues,
    /// stay in memory only.
    ///
    /// Throws one sentence saying what to do when the directory is locked by another process,
    /// not readable or writable, or holds a store this version cannot read.
    ///
    /// - Parameter log: receives the store's notes, such as the one line that says a torn
    ///   write at the end of the log was dropped after a crash.
    public init(
        dataDirectory: String, clock: @escaping @Sendable () -> Int64 = { Int64(time(nil)) }, maxStreamBytes: Int? = nil,
        log: @escaping @Sendable (String) -> Void = InMemoryBroker.standardErrorLog
    ) throws(StoreError) {
        precondition(maxStreamBytes.map { $0 > 0 } ?? true, "maxStreamBytes must be positive")
        let store = try DurableStore(directory: dataDirectory, log: log)
        let snapshot = try store.load()
        var state = SimBrokerState(clock: clock, maxStreamBytes: maxStreamBytes)
        state.load(snapshot)
        if !state.journal.isEmpty {
            _ = store.submit(state.journal)
            state.journal = []
        }
        self.state = Mutex(state)
        self.store = store
        self.log = log
    }

    /// Writes a line to standard error (the default log of a broker with a data directory).
    public static let standardErrorLog: @Sendable (String) -> Void = { line in
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// The data directory, or nil for a broker that keeps everything in memory.
    public var dataDirectory: String? { store?.directory }

    /// Closes every connection, writes what is pending, and closes the store (releasing the
    /// data directory for another process). The broker must not be used afterwards; without a
    /// data directory it only closes the connections.
    public func close() {
        withState { state in
            _ = state.dropConnections(named: nil, reason: .connectionClosed("the in-process broker was closed."))
        }
        store?.close()
    }

    /// Makes a consistent copy of the store in `dataDirectory` (and its secret file, when
    /// there is one) in `destination`, while a server may be running on it. Restoring is
    /// starting the server with `--data-dir` pointing at the copy.
    public static func backup(dataDirectory: String, to destination: String) throws(StoreError) {
        try DurableStore.backup(directory: dataDirectory, to: destination)
    }

    /// How many messages and stream entries are on disk now (after what is pending is
    /// written); 0 without a data directory.
    public func storedMessageCount() throws(StoreError) -> Int {
        try store?.storedMessageCount() ?? 0
    }

    /// How many store transactions (each one fsync) have been committed: with group commit
    /// far fewer than the publishes they covered. 0 without a data directory.
    public var storeCommits: UInt64 { store?.commitCount ?? 0 }

    /// Closes whatever is still open when the last handle goes: consumers' streams finish,
    /// waiters wake, and the state's internal references (channel ↔ consumer) are released.
    deinit {
        withState { state in
            _ = state.dropConnections(named: nil, reason: .connectionClosed("the in-process broker was released."))
        }
    }

    /// Runs `body` on the state under the lock, then hands every batched consumer what the
    /// operation made deliverable: one stream element per consumer and operation.
    func withState<T: Sendable, E: Error>(_ body: (inout SimBrokerState) throws(E) -> T) throws(E) -> T {
        try state.withLock { state throws(E) -> T in
            defer {
                state.flushDeliveries()
                submitJournal(&state)
            }
            return try body(&state)
        }
    }

    /// Hands what the operation changed in durable state to the store (under the lock, so
    /// that the store writes changes in the order they were made); returns the ticket to wait
    /// on, nil when nothing durable changed.
    @discardableResult
    private func submitJournal(_ state: inout SimBrokerState) -> UInt64? {
        guard !state.journal.isEmpty, let store else { return nil }
        defer { state.journal.removeAll(keepingCapacity: true) }
        return store.submit(state.journal)
    }

    /// ``withState(_:)`` for an operation whose reply must wait until its changes are on disk
    /// (publishes, declares, binds, deletes). With a data directory it returns only once the
    /// store has committed them; when the store cannot write, it throws.
    func withStateDurably<T: Sendable>(_ body: (inout SimBrokerState) throws(BrokerError) -> T) async throws(BrokerError) -> T {
        let (value, ticket) = try state.withLock { state throws(BrokerError) -> (T, UInt64?) in
            defer { state.flushDeliveries() }
            let value: T
            do throws(BrokerError) {
                value = try body(&state)
            } catch {
                submitJournal(&state)
                throw error
            }
            return (value, submitJournal(&state))
        }
        if let ticket, let store {
            do {
                try await store.waitDurable(ticket)
            } catch {
                throw .connectionClosed("the broker could not write its data directory: \(error)")
            }
        }
        return value
    }

    public var displayName: String { "in-process broker" }

    public func connect(name: String) async throws(BrokerError) -> any BrokerConnection {
        try connectInMemory(name: name)
    }

    /// ``connect(name:)`` without the existential, for tests that use the fault API of
    /// the connection.
    public func connectInMemory(name: String) throws(BrokerError) -> InMemoryConnection {
        let closeState = SimCloseState()
        let id = try withState { state throws(BrokerError) in try state.connect(name: name, closeState: closeState) }
        return InMemoryConnection(broker: self, id: id, name: name, closeState: closeState)
    }

    /// Simulates a broker restart: every connection closes with
    /// ``BrokerError/connectionClosed(_:)``; non-durable queues and exchanges vanish; a
    /// durable classic queue keeps only its persistent messages; streams keep everything.
    /// New connections are accepted at once.
    ///
    /// With a data directory this is a real reopen: after the connections close and what is
    /// pending is written, the simulator is rebuilt from the store alone.
    public func restart() {
        guard let store else {
            withState { $0.restart() }
            return
        }
        withState { state in
            _ = state.dropConnections(named: nil, reason: .connectionClosed("the broker restarted (CONNECTION_FORCED); reconnect."))
            submitJournal(&state)
            do throws(StoreError) {
                try store.flushSync()
                let snapshot = try store.load()
                state.load(snapshot)
            } catch {
                log("the in-process broker could not reload its data directory on restart: \(error)")
                state.restart()
            }
        }
    }

    /// The names of the open connections, oldest first (for tests and diagnostics).
    public var connectionNames: [String] {
        withState { state in state.connections.values.sorted { $0.id < $1.id }.map(\.name) }
    }

    /// The names of the queues that exist, sorted (for tests and diagnostics).
    public var queueNames: [String] {
        withState { state in state.queues.keys.sorted() }
    }
}

import Broker
import InMemoryBroker
import RabbitMQBroker
import Synchronization
import Testing

/// A broker for one test, with unique names and cleanup.
///
/// Use it through ``withTestBroker(_:_:)``:
///
/// ```swift
/// @Test(arguments: BackendKind.allCases)
/// func somethingHolds(_ kind: BackendKind) async throws {
///     try await withTestBroker(kind) { broker in
///         let queue = broker.queueName("inbox")      // unique, deleted afterwards
///         let connection = try await broker.connect("node-a") // closed afterwards
///         ...
///     }
/// }
/// ```
///
/// On `.rabbitMQ` when RabbitMQ is not reachable the test case is cancelled (`Test.cancel`)
/// and ``TestEnvironment/skipMessage`` is written to standard error once; unless
/// `RABBITCHAT_REQUIRE_RABBITMQ=1`, when it runs and fails. For a line in the test report,
/// give one test the trait
/// `.enabled(if: TestEnvironment.rabbitMQEnabled, Comment(rawValue: TestEnvironment.skipMessage))`
/// (as `RabbitMQAvailabilityTests` does).
public final class TestBroker: Sendable {
    public let kind: BackendKind
    /// The broker under test: a fresh `InMemoryBroker`, or a `RabbitMQBroker` on the test URL.
    public let broker: any Broker
    /// The simulator, for fault injection in in-memory-only tests; nil on RabbitMQ.
    public let inMemory: InMemoryBroker?
    /// Prefix shared by every name this test makes: `t<run>-<test>-`.
    public let prefix: String
    /// The temporary data directory of a `.dataDir` broker, removed by ``cleanUp()``.
    public let dataDirectory: String?

    private struct Tracked {
        var queues: [String] = []
        var exchanges: [String] = []
        var connections: [any BrokerConnection] = []
    }

    private let tracked = Mutex(Tracked())

    /// Makes the broker for `kind`, or cancels the current test case when it is RabbitMQ and
    /// RabbitMQ is neither reachable nor required. `simulatorStreamBytes` caps the simulator's
    /// streams (``InMemoryBroker/init(clock:maxStreamBytes:)``). `rabbitMQURL` points a
    /// `.rabbitMQ` broker at another node than the shared one (a private node the test may
    /// restart); the caller then decides whether the test runs.
    public init(_ kind: BackendKind, simulatorStreamBytes: Int? = nil, rabbitMQURL: String? = nil) throws {
        self.kind = kind
        prefix = "t\(Self.runID)-\(Self.counter.add(1, ordering: .relaxed).newValue)-"
        switch kind {
        case .inMemory:
            let simulator = InMemoryBroker(maxStreamBytes: simulatorStreamBytes)
            inMemory = simulator
            broker = simulator
            dataDirectory = nil
        case .rabbitMQ:
            inMemory = nil
            if let rabbitMQURL {
                broker = try RabbitMQBroker(url: rabbitMQURL)
            } else {
                try Self.cancelUnlessRabbitMQEnabled()
                broker = try Self.makeRabbitMQ()
            }
            dataDirectory = nil
        case .dataDir:
            let directory = try TemporaryDirectory.make(prefix: "rabbitchat-store")
            let simulator = try InMemoryBroker(dataDirectory: directory, maxStreamBytes: simulatorStreamBytes)
            inMemory = simulator
            broker = simulator
            dataDirectory = directory
        }
    }

    /// A unique queue name for this test, deleted by ``cleanUp()``.
    public func queueName(_ base: String) -> String {
        let name = prefix + base
        tracked.withLock { $0.queues.append(name) }
        return name
    }

    /// A unique exchange name for this test, deleted by ``cleanUp()``.
    public func exchangeName(_ base: String) -> String {
        let name = prefix + base
        tracked.withLock { $0.exchanges.append(name) }
        return name
    }

    /// Opens a connection that ``cleanUp()`` closes.
    public func connect(_ name: String) async throws(BrokerError) -> any BrokerConnection {
        let connection = try await broker.connect(name: prefix + name)
        tracked.withLock { $0.connections.append(connection) }
        return connection
    }

    /// Opens a connection and a channel on it.
    public func channel(_ name: String) async throws(BrokerError) -> any BrokerChannel {
        try await connect(name).openChannel()
    }

    /// Closes the test's connections and deletes its queues and exchanges. Errors are
    /// ignored: cleanup must not hide the test's own result.
    public func cleanUp() async {
        let tracked = self.tracked.withLock { state in
            defer { state = Tracked() }
            return state
        }
        for connection in tracked.connections { await connection.close() }
        if let dataDirectory, let simulator = inMemory {
            // Nothing outlives the test in a private directory: close the store and remove it.
            simulator.close()
            TemporaryDirectory.remove(dataDirectory)
            return
        }
        guard !tracked.queues.isEmpty || !tracked.exchanges.isEmpty,
            let connection = try? await broker.connect(name: prefix + "cleanup")
        else { return }
        var channel = try? await connection.openChannel()
        for queue in Set(tracked.queues) {
            if channel?.closeReason != nil { channel = try? await connection.openChannel() }
            _ = try? await channel?.deleteQueue(queue, ifUnused: false, ifEmpty: false)
        }
        for exchange in Set(tracked.exchanges) {
            if channel?.closeReason != nil { channel = try? await connection.openChannel() }
            try? await channel?.deleteExchange(exchange)
        }
        await connection.close()
    }

    /// Cancels the current test case (it shows as skipped, with ``TestEnvironment/skipMessage``)
    /// when RabbitMQ is neither reachable nor required.
    static func cancelUnlessRabbitMQEnabled() throws {
        if !TestEnvironment.rabbitMQEnabled {
            TestEnvironment.announceSkip
            try Test.cancel(Comment(rawValue: TestEnvironment.skipMessage))
        }
    }

    /// The RabbitMQ backend on ``TestEnvironment/amqpURL``.
    static func makeRabbitMQ() throws -> any Broker {
        try RabbitMQBroker(url: TestEnvironment.amqpURL)
    }

    /// Distinguishes this test process from others against the same RabbitMQ.
    static let runID: String = {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() % 1_000_000_000, radix: 36)
    }()

    private static let counter = Atomic<Int>(0)
}

/// Runs `body` with a ``TestBroker`` for `kind` and cleans up afterwards, also when the
/// body throws.
public func withTestBroker<T>(_ kind: BackendKind, _ body: (TestBroker) async throws -> T) async throws -> T {
    let broker = try TestBroker(kind)
    do {
        let result = try await body(broker)
        await broker.cleanUp()
        return result
    } catch {
        await broker.cleanUp()
        throw error
    }
}

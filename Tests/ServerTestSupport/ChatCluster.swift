import Broker
import Chat
import InMemoryBroker
import Logging
import Synchronization
import Testing

/// The suite's in-process chat harness: `ChatNode`s sharing one test broker (a fresh
/// simulator, the durable simulator, or RabbitMQ with unique names), each run in a task, and
/// simulated clients (`TestClient`) attached to them. Stop it with ``shutdown()``, or use
/// ``withCluster(_:limits:_:)``.
public final class ChatCluster: Sendable {
    public let testBroker: TestBroker
    public let topology: ChatTopology
    public let secret: [UInt8] = Array("the cluster secret for tests".utf8)
    public let limits: ChatLimits
    private let nodes = Mutex<[String: RunningNode]>([:])

    struct RunningNode: Sendable {
        var node: ChatNode
        var broker: SwitchableBroker
        var task: Task<Void, any Error>
    }

    public init(_ kind: BackendKind, limits: ChatLimits = ChatLimits(), simulatorStreamBytes: Int? = nil) throws {
        testBroker = try TestBroker(kind, simulatorStreamBytes: simulatorStreamBytes)
        topology = ChatTopology(prefix: testBroker.prefix)
        self.limits = limits
        for exchange in ["chat.public", "chat.direct", "chat.presence"] { _ = testBroker.exchangeName(exchange) }
        _ = testBroker.queueName("chat.history")
        _ = testBroker.queueName("chat.claims")
        _ = testBroker.queueName("chat.state")
    }

    /// The simulator under the cluster, for fault injection; nil on RabbitMQ.
    public var simulator: InMemoryBroker? { testBroker.inMemory }

    /// Starts a node and waits until it is connected to the broker. `presenceExpiry`,
    /// `takeoverTimeout` and `publishTimeout` shorten what fault tests wait for; `logLevel`
    /// quiets the nodes of tests that break things on purpose.
    @discardableResult
    public func start(
        _ nodeId: String, clock: any ChatClock = SystemChatClock(), claimTimeout: Duration = .seconds(10),
        broadcaster: any ChatBroadcaster = LoopingBroadcaster(), secret: [UInt8]? = nil,
        secretCheckWindow: Duration = .milliseconds(200), joinTimeout: Duration = .seconds(30),
        presenceExpiry: Duration = .seconds(12), takeoverTimeout: Duration = .seconds(30),
        publishTimeout: Duration? = nil, logLevel: Logger.Level = .warning, registrationClosed: Bool = false
    ) async throws -> ChatNode {
        var configuration = ChatConfiguration(
            nodeId: testBroker.prefix + nodeId, secret: secret ?? self.secret, limits: limits,
            presenceInterval: .milliseconds(100), presenceExpiry: presenceExpiry,
            reconnectBackoff: .milliseconds(20) ... .milliseconds(200), takeoverTimeout: takeoverTimeout,
            claimTimeout: claimTimeout, clock: clock, topology: topology)
        configuration.secretCheckWindow = secretCheckWindow
        configuration.joinTimeout = joinTimeout
        configuration.registrationClosed = registrationClosed
        configuration.passwordCost = Self.passwordCost
        if let publishTimeout { configuration.publishTimeout = publishTimeout }
        var logger = Logger(label: "chat-test-\(nodeId)")
        logger.logLevel = logLevel
        let broker = SwitchableBroker(testBroker.broker)
        let node = ChatNode(broker: broker, configuration: configuration, logger: logger, broadcaster: broadcaster)
        let task = Task { try await node.run() }
        nodes.withLock { $0[nodeId] = RunningNode(node: node, broker: broker, task: task) }
        // A node connects in milliseconds, but the whole suite shares two cores and a cooperative
        // pool of two threads with CPU-heavy property and store tests (``TestPatience``).
        try await eventually("node \(nodeId) to connect", timeout: TestPatience.wait) { node.isBrokerConnected }
        return node
    }

    public func node(_ nodeId: String) -> ChatNode { nodes.withLock { $0[nodeId]!.node } }

    /// Stops a node gracefully: its run task is cancelled and awaited for at most 10 s (a node
    /// that does not stop by then is a failure of the test, not a hang of the run).
    public func stop(_ nodeId: String) async {
        guard let running = nodes.withLock({ $0.removeValue(forKey: nodeId) }) else { return }
        running.task.cancel()
        let stopped = Flag()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                _ = try? await running.task.value
                stopped.set()
            }
            group.addTask {
                try? await eventually("node \(nodeId) to stop", timeout: .seconds(10)) { stopped.isSet }
            }
            await group.next()
            group.cancelAll()
        }
        if !stopped.isSet {
            Issue.record("Node \(nodeId) did not stop within 10 s of its run task being cancelled.")
        }
    }

    /// Cuts a node off the broker as a crash would, and keeps it off until ``reconnect(_:)``.
    public func cutOff(_ nodeId: String) async {
        guard let broker = nodes.withLock({ $0[nodeId]?.broker }) else { return }
        await broker.goDown()
    }

    public func reconnect(_ nodeId: String) {
        nodes.withLock { $0[nodeId]?.broker }?.comeBack()
    }

    /// scrypt's cost in tests (2^10, about 5 ms, instead of 2^15): dozens of password tests run
    /// side by side in one process, and at full cost their derivations took the CPU from every
    /// other suite's nodes (claims and secret checks then missed their deadlines).
    public static let passwordCost = 1 << 10

    /// Whether a record of this cluster's `chat.state` stream (its body) satisfies `match`,
    /// reading from the stream's start for at most `timeout` (records published meanwhile too).
    public func stateStreamHas(timeout: Duration = TestPatience.wait, _ match: @escaping @Sendable ([UInt8]) -> Bool) async throws -> Bool {
        let connection = try await testBroker.broker.connect(name: "state-reader")
        let channel = try await connection.openChannel()
        let consumer = try await channel.consume(queue: topology.stateStream, options: .stream(from: .first, prefetch: 100))
        // The stream finishes when its channel closes: at the deadline, unless a record matched first.
        let closer = Task {
            try? await Task.sleep(for: timeout)
            await channel.close()
        }
        var found = false
        for await delivery in consumer.deliveries {
            try? await channel.ack(deliveryTag: delivery.deliveryTag, multiple: false)
            if match(delivery.body) {
                found = true
                break
            }
        }
        closer.cancel()
        await connection.close()
        return found
    }

    /// A simulated client attached to a node, from `address` (for the password limits).
    public func client(on nodeId: String, address: String = "local") -> TestClient {
        let outlet = TestOutlet()
        return TestClient(session: node(nodeId).attach(outlet, address: address), outlet: outlet)
    }

    /// Makes an operator account, as `rabbitChat user add NAME` does (`cost`: scrypt's `N`).
    public func addAccount(_ nick: String, password: String, cost: Int = passwordCost) async throws {
        let connection = try await testBroker.broker.connect(name: "operator")
        do {
            try await ChatAccounts.setPassword(password, for: nick, on: connection, topology: topology, cost: cost)
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    /// A client on `nodeId` that joined `nick` (uses `nick`).
    @discardableResult
    public func joined(_ nick: String, on nodeId: String, rooms: [String]? = nil) async throws -> TestClient {
        uses(nick)
        let client = client(on: nodeId)
        try await client.join(nick, rooms: rooms)
        return client
    }

    /// Declares that the test uses `nick`, so its queue is deleted afterwards.
    public func uses(_ nicks: String...) {
        for nick in nicks { _ = testBroker.queueName("user." + nick) }
    }

    public func shutdown() async {
        let ids = nodes.withLock { Array($0.keys) }
        for id in ids { await stop(id) }
        await testBroker.cleanUp()
    }
}

/// Runs `body` with a cluster for `kind` and shuts it down afterwards.
public func withCluster(
    _ kind: BackendKind, limits: ChatLimits = ChatLimits(), simulatorStreamBytes: Int? = nil,
    _ body: (ChatCluster) async throws -> Void
) async throws {
    let cluster = try ChatCluster(kind, limits: limits, simulatorStreamBytes: simulatorStreamBytes)
    do {
        try await body(cluster)
        await cluster.shutdown()
    } catch {
        await cluster.shutdown()
        throw error
    }
}

/// A flag that tasks can share.
public final class Flag: Sendable {
    private let value = Atomic<Bool>(false)

    public init() {}

    public func set() { value.store(true, ordering: .relaxed) }
    public var isSet: Bool { value.load(ordering: .relaxed) }
}

extension ChatCluster {
    /// Starts nodes `a` and `b` and joins `alice` on `a` and `bob` on `b`: the two-node set-up
    /// many tests start from.
    public func aliceOnAAndBobOnB() async throws -> (alice: TestClient, bob: TestClient) {
        uses("alice", "bob")
        try await start("a")
        try await start("b")
        let alice = client(on: "a")
        let bob = client(on: "b")
        try await alice.join("alice")
        try await bob.join("bob")
        return (alice, bob)
    }

    /// Clients for alice, bob and carol (not joined yet: tests join them their own way), on
    /// the nodes named, each node started once.
    public func aliceBobAndCarol(on nodes: (alice: String, bob: String, carol: String)) async throws -> (alice: TestClient, bob: TestClient, carol: TestClient)
    {
        uses("alice", "bob", "carol")
        var started: [String] = []
        for node in [nodes.alice, nodes.bob, nodes.carol] where !started.contains(node) {
            try await start(node)
            started.append(node)
        }
        return (client(on: nodes.alice), client(on: nodes.bob), client(on: nodes.carol))
    }
}

import Broker
import Logging
import Synchronization

/// One rabbitChat node: the chat service of DESIGN.md over a ``Broker``. Several nodes on one
/// broker form one chat. The server creates one, calls ``run()`` in a task for its lifetime and
/// ``attach(_:)`` for each client connection.
public final class ChatNode: Sendable {
    /// What the node was created with (its id, limits and timings).
    public let configuration: ChatConfiguration
    let executor: ChatNodeExecutor
    private let broker: any Broker
    private let logger: Logger
    private let nextSessionId = Atomic<UInt64>(1)

    /// - Parameters:
    ///   - broker: the broker every node of the chat shares.
    ///   - broadcaster: hands one encoded public frame to many outlets; the server plugs in
    ///     its transport's prepared broadcast.
    public init(
        broker: any Broker, configuration: ChatConfiguration, logger: Logger,
        broadcaster: any ChatBroadcaster = LoopingBroadcaster()
    ) {
        self.configuration = configuration
        self.broker = broker
        self.logger = logger
        executor = ChatNodeExecutor(configuration: configuration, logger: logger, broadcaster: broadcaster)
    }

    /// True while the node has a working broker connection (for `/healthz`). Cheap.
    public var isBrokerConnected: Bool { executor.connected.load(ordering: .relaxed) }

    /// True once the node is connected and has found that its secret is the chat's (it read its
    /// own `sync` record back from the claims stream): joins can be served.
    public var isReady: Bool { isBrokerConnected && executor.secretConfirmed.load(ordering: .relaxed) }

    /// Why the node refused to start (its secret differs from the chat's), else nil.
    public var refusal: String? { executor.refusal.withLock { $0 } }

    /// Sessions attached and not yet ended (joined or not).
    public var sessionCount: Int { executor.sessionCount.load(ordering: .relaxed) }

    /// A new client connection. Frames go in through the returned session, out through `outlet`.
    /// `address` is the client's (its IP without the port): password attempts are limited per
    /// address (Specs/chat-protocol.md, "Rate limits").
    public func attach(_ outlet: any ChatOutlet, address: String = "local") -> ChatSession {
        let id = nextSessionId.wrappingAdd(1, ordering: .relaxed).oldValue
        executor.sessionCount.add(1, ordering: .relaxed)
        let session = ChatSession(
            id: id, outlet: outlet, address: address, executor: executor, limits: configuration.limits, clock: configuration.clock)
        // A connection that has not joined within the join timeout is closed (4004): an idle
        // stranger holds no session for long. A join still under way counts as joined
        // (``SessionsMachine/joinTimerFired(_:)``).
        Task { [executor] in await executor.attached(session) }
        return session
    }

    /// Runs the node until its task is cancelled: connects, declares the topology, consumes,
    /// announces presence, and reconnects with backoff whenever the connection is lost. On
    /// cancellation it announces that its users left, closes the broker connection (consumers
    /// end, unacknowledged private messages go back to their queues) and returns. Throws
    /// ``ChatNodeRefused`` when its secret differs from the chat's (then it never served a join).
    public func run() async throws {
        var delay = configuration.reconnectBackoff.lowerBound
        var everConnected = false
        while !Task.isCancelled {
            let connection: any BrokerConnection
            do {
                connection = try await connectUnlessCancelled(broker, name: "rabbitChat node \(configuration.nodeId)")
            } catch is CancellationError {
                break
            } catch {
                logger.warning("The broker is unreachable, retrying in \(delay)", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: Self.jittered(delay))
                delay = min(delay * 2, configuration.reconnectBackoff.upperBound)
                continue
            }
            if everConnected { executor.metrics.reconnects.increment() }
            everConnected = true
            let executor = executor
            await withTaskCancellationHandler {
                do {
                    try await executor.serve(connection)
                    delay = configuration.reconnectBackoff.lowerBound
                } catch let error where !Task.isCancelled && executor.refusal.withLock({ $0 }) == nil {
                    logger.warning("Lost the broker connection", metadata: ["error": "\(error)"])
                } catch {
                    // A graceful stop closed the connection: nothing was lost.
                }
            } onCancel: {
                Task { await executor.shutdown(connection) }
            }
            // A stop lets the publishes awaiting confirms finish before the link goes.
            if Task.isCancelled { await executor.shutdown(connection) }
            await executor.linkLost()
            await connection.close()
            if let refusal = self.refusal { throw ChatNodeRefused(refusal) }
            if Task.isCancelled { break }
            try? await Task.sleep(for: Self.jittered(delay))
            delay = min(delay * 2, configuration.reconnectBackoff.upperBound)
        }
        logger.info("Chat node stopped", metadata: ["node": "\(configuration.nodeId)"])
    }

    private static func jittered(_ delay: Duration) -> Duration {
        delay * Double.random(in: 0.5...1.0)
    }
}

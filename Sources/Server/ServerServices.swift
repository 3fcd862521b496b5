import Chat
import Logging
import ServiceLifecycle
import SockJS
import Synchronization

/// The chat node as a lifecycle service: runs until graceful shutdown, then lets the node finish
/// (pending confirms, consumer cancels, broker close) by cancelling its run.
///
/// The node's stop is bounded by ``stopBudget``: a broker that stopped answering can keep a
/// close or a login waiting for rabbitmq-c's RPC timeout, and a service that outlives the
/// group's cancellation deadline is a fatal error in ServiceLifecycle. Past the budget the
/// service returns without the node, says so in the log, and the process exits normally (the
/// broker then sees the connection drop, which it handles like a crashed node).
struct ChatNodeService: Service {
    let node: ChatNode
    let logger: Logger
    static let stopBudget: Duration = .seconds(5)

    func run() async throws {
        let (stopped, signal) = AsyncStream<Void>.makeStream()
        let finished = StopFlag()
        let running = Task {
            defer {
                finished.set()
                signal.finish()
            }
            try await node.run()
        }
        let budget = Self.stopBudget
        let startDeadline: @Sendable () -> Void = {
            running.cancel()
            Task {
                try? await Task.sleep(for: budget)
                signal.finish()
            }
        }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                for await _ in stopped {}
            } onCancel: {
                startDeadline()
            }
        } onGracefulShutdown: {
            startDeadline()
        }
        if !finished.isSet {
            logger.warning("The chat node did not stop within \(budget); exiting without it.")
        }
        // A node that refused to start (its secret is not the chat's) stops the whole process.
        if let refusal = node.refusal { throw ChatNodeRefused(refusal) }
    }
}

/// Set once, read from any thread.
private final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// The HTTP/SockJS listener as a lifecycle service. It is started (bound) before the group runs,
/// so a port in use is a start-up error; on graceful shutdown it stops accepting and closes every
/// session with `c[3000,"Go away!"]`.
struct HTTPServerService: Service {
    let server: SockJSServer
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.info("Closing SockJS sessions", metadata: ["sessions": "\(server.sessionCount)"])
        await server.shutdown()
    }
}

import Chat
import Logging
import ServiceLifecycle
import SockJS

/// The chat node as a lifecycle service: runs until graceful shutdown, then lets the node finish
/// (pending confirms, consumer cancels, broker close) by cancelling its run.
struct ChatNodeService: Service {
    let node: ChatNode

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await node.run()
        }
    }
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

import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A SockJS server on SwiftNIO: SockJS services mounted under prefixes, plain HTTP routes next
/// to them, one listening socket.
///
/// ```swift
/// let server = SockJSServer(configuration: .init { $0.port = 9191 })
/// server.mount("/chat", options: SockJSOptions { $0.sockjsURL = "/sockjs.min.js" }, service: chat)
/// server.route("/healthz") { _ in SockJSHTTPResponse(status: 200, text: "ok\n") }
/// let port = try await server.start()
/// ...
/// await server.shutdown()   // every session gets c[3000,"Go away!"]
/// ```
///
/// Mount services and add routes before ``start()``.
public final class SockJSServer: Sendable {
    private struct Setup {
        var mounts: [(prefix: String, options: SockJSOptions, service: any SockJSService)] = []
        var routes: [String: SockJSHTTPHandler] = [:]
        var shared: SockJSServerContext?
        var channel: (any Channel)?
    }

    /// The server's settings.
    public let configuration: SockJSServerConfiguration
    /// The event loops connections and sessions run on.
    public let eventLoopGroup: any EventLoopGroup
    private let setup = Mutex(Setup())
    let registry: SockJSSessionRegistry

    /// A server that will listen as `configuration` says, on `eventLoopGroup`.
    public init(
        configuration: SockJSServerConfiguration = SockJSServerConfiguration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.registry = SockJSSessionRegistry(flushDelay: configuration.broadcastFlushDelay)
    }

    /// Mounts a SockJS service at `prefix` (e.g. `/chat`; no trailing slash).
    public func mount(_ prefix: String, options: SockJSOptions = SockJSOptions(), service: any SockJSService) {
        var p = prefix
        while p.hasSuffix("/") { p.removeLast() }
        if !p.hasPrefix("/") { p = "/" + p }
        setup.withLock { $0.mounts.append((p, options, service)) }
    }

    /// Serves `path` (exact match, query ignored) with `handler`, for any method.
    public func route(_ path: String, handler: @escaping SockJSHTTPHandler) {
        setup.withLock { $0.routes[path] = handler }
    }

    /// Binds and starts accepting; returns the bound port (useful with port 0).
    public func start() async throws -> Int {
        let shared = setup.withLock { s -> SockJSServerContext in
            let endpoints = s.mounts.map { SockJSEndpoint(prefix: $0.prefix, options: $0.options, service: $0.service, registry: registry) }
            let shared = SockJSServerContext(configuration: configuration, endpoints: endpoints, routes: s.routes, registry: registry)
            s.shared = shared
            return shared
        }
        let config = configuration
        let bootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AcceptPauseHandler(logger: shared.logger))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelOption(
                .writeBufferWaterMark,
                value: .init(low: config.writeBufferLowWaterMark, high: config.writeBufferHighWaterMark)
            )
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try config.connectionSetup?(channel)
                    // No reading while the client does not read what it was sent (HTTP
                    // pipelining, websocket pings): outbound bytes stay bounded.
                    try channel.pipeline.syncOperations.addHandler(BackPressureHandler())
                    try channel.pipeline.syncOperations.addHandler(SockJSConnectionHandler(shared: shared))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: config.host, port: config.port).get()
        } catch {
            throw SockJSServerError.bindFailed(host: config.host, port: config.port, underlying: "\(error)")
        }
        setup.withLock { $0.channel = channel }
        return channel.localAddress?.port ?? config.port
    }

    /// The bound port, once started.
    public var port: Int? {
        setup.withLock { $0.channel?.localAddress?.port }
    }

    /// Number of live sessions on every mounted service.
    public var sessionCount: Int { registry.count }

    /// Live sessions by transport (for metrics).
    public func sessionCountsByTransport() -> [SockJSTransport: Int] { registry.countsByTransport() }

    /// Stops accepting, closes every session with `c[3000,"Go away!"]`, waits (up to the grace
    /// period) for those writes to go out, and closes every connection.
    public func shutdown() async {
        let (channel, shared) = setup.withLock { s in
            let c = s.channel
            s.channel = nil
            return (c, s.shared)
        }
        try? await channel?.close()
        let sessions = registry.stopAccepting()
        var closed: [EventLoopFuture<Void>] = []
        for session in sessions {
            closed.append(
                session.eventLoop.submit {
                    session.closeOnLoop(.goAway, reason: .serverShutdown)
                    session.forget()
                })
        }
        for f in closed { try? await f.get() }
        guard let shared else { return }
        for connection in shared.openConnections {
            connection.pipeline.fireUserInboundEventTriggered(SockJSShutdownEvent())
        }
        let deadline = NIODeadline.now() + configuration.shutdownGracePeriod
        while !shared.openConnections.isEmpty, NIODeadline.now() < deadline {
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        for connection in shared.openConnections {
            try? await connection.close()
        }
    }
}

/// Errors ``SockJSServer`` throws, each saying what to do.
public enum SockJSServerError: Error, CustomStringConvertible {
    case bindFailed(host: String, port: Int, underlying: String)

    public var description: String {
        switch self {
        case .bindFailed(let host, let port, let underlying):
            return "Cannot listen on \(host):\(port) (\(underlying)); choose another port with --port or stop the program using it."
        }
    }
}

/// Out of file descriptors (EMFILE, ENFILE), `accept` fails at once while the listening socket
/// stays readable, and NIO 2.101 keeps the channel's read pending, so its event loop would call
/// `accept` again in a busy loop (measured: 26,000 calls in 3 s; NIO's `AcceptBackoffHandler`
/// delays only the next `read()`, which never comes). This handler pauses accepting instead
/// (auto-read off, which takes the socket out of the poll set) and resumes after `pause`; the
/// connections the server has keep being served meanwhile. It logs the first failure and then
/// at most one line a minute.
final class AcceptPauseHandler: ChannelInboundHandler {
    typealias InboundIn = any Channel
    private let logger: Logger
    private let pause: TimeAmount
    private var lastLogged: NIODeadline?
    private var resume: Scheduled<Void>?

    init(logger: Logger, pause: TimeAmount = .seconds(1)) {
        self.logger = logger
        self.pause = pause
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let ioError = error as? IOError, [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(ioError.errnoCode) else {
            context.fireErrorCaught(error)
            return
        }
        let now = NIODeadline.now()
        if lastLogged.map({ now - $0 > .seconds(60) }) ?? true {
            lastLogged = now
            logger.error(
                "Cannot accept connections: \(error). Existing connections are still served; accepting again every second (raise the open-file limit: ulimit -n)."
            )
        }
        guard resume == nil, let options = context.channel.syncOptions else { return }
        try? options.setOption(.autoRead, value: false)
        let loop = context.eventLoop.assumeIsolated()
        resume = loop.scheduleTask(in: pause) { [weak self] in
            self?.resume = nil
            try? options.setOption(.autoRead, value: true)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        resume?.cancel()
        resume = nil
    }
}

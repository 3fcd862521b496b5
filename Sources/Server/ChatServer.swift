import Broker
import Chat
import Foundation
import InMemoryBroker
import Logging
import NIOCore
import RabbitMQBroker
import ServiceLifecycle
import SockJS

/// One `rabbitChat` process: checks what a user can get wrong, builds the broker, the chat node
/// and the SockJS server, prints the banner, then runs until SIGINT or SIGTERM and shuts down in
/// order (listener and sessions first, then the chat node and its broker connection).
struct ChatServer {
    let configuration: ServerConfiguration

    /// How long the whole graceful shutdown may take before the rest is cancelled.
    static let shutdownBudget: Duration = .seconds(8)

    /// How long the banner waits for the chat node's first broker connection.
    static let readinessBudget: Duration = .seconds(15)

    func run() async throws {
        let level = configuration.logLevel.level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "rabbitChat")
        let metrics = ServerMetrics.bootstrap()
        if let files = OpenFileLimit.raiseToHardLimit() {
            logger.debug("Open-file limit raised to the hard limit", metadata: ["limit": "\(files)"])
        }

        // Everything that can be wrong on the command line or the machine, before anything listens.
        guard let publicDirectory = Bundle.module.url(forResource: "Public", withExtension: nil) else {
            throw StartupError("The page's files are missing next to the rabbitChat binary; rebuild it with `swift build` and run it from its build folder.")
        }
        let site = try StaticSite.load(publicDirectory: publicDirectory, sockJSClient: configuration.sockJSClient)
        let secret = try SecretFile(path: configuration.secretFile).loadOrCreate()
        var tlsSetup: (@Sendable (any Channel) throws -> Void)?
        if let certificate = configuration.tlsCertificate, let key = configuration.tlsKey {
            tlsSetup = ServerTLS.connectionSetup(try ServerTLS.context(certificate: certificate, key: key))
        }
        let broker = try await makeBroker(logger: logger)

        let nodeId = configuration.nodeId ?? ServerConfiguration.defaultNodeId(port: configuration.port)
        var chatConfiguration = ChatConfiguration(
            nodeId: nodeId, secret: secret.key, topology: ChatTopology(replicatedInboxes: configuration.replicatedQueues))
        // The built-in broker lives in this process: no other node can answer the secret check.
        if configuration.broker == .embedded { chatConfiguration.secretCheckWindow = .zero }
        chatConfiguration.registrationClosed = configuration.registration == .closed
        let node = ChatNode(
            broker: broker,
            configuration: chatConfiguration,
            logger: Logger(label: "rabbitChat.chat"),
            broadcaster: SockJSBroadcaster(metrics: metrics)
        )

        // Routes and services are mounted before the server binds; the node starts talking to
        // the broker only once the group runs, so a port in use is said before anything else.
        let http = SockJSServer(
            configuration: SockJSServerConfiguration {
                $0.host = configuration.host
                $0.port = configuration.port
                $0.logger = Logger(label: "rabbitChat.sockjs")
                $0.hostPolicy = HostPolicy(names: ServerConfiguration.machineHostNames() + configuration.allowedHosts, allowOption: "--allow-host")
                if let tlsSetup {
                    $0.secure = true
                    $0.connectionSetup = tlsSetup
                }
            })
        let chatService = ChatSockJSService(node: node, metrics: metrics)
        let sockJSOptions = SockJSOptions { $0.sockjsURL = StaticSite.sockJSClientPath }
        var chatOptions = sockJSOptions
        chatOptions.originPolicy = OriginPolicy(allowedOrigins: configuration.allowedOrigins.compactMap(WebOrigin.init), allowOption: "--allow-origin")
        http.mount("/chat", options: chatOptions, service: chatService)
        if configuration.sockJSTestServices {
            // The protocol suite's services answer any origin, as the suite expects.
            SockJSTestServices.mount(on: http, base: sockJSOptions)
        }
        HTTPRoutes(site: site, metrics: metrics, node: node, outboundQueueCap: sockJSOptions.maxQueuedBytes).install(on: http)
        let port: Int
        do {
            port = try await http.start()
        } catch let error as SockJSServerError {
            throw Self.listenError(error, host: configuration.host, port: configuration.port)
        }

        let banner = Banner(
            configuration: configuration, port: port, nodeId: nodeId, secretCreated: secret.created,
            networkAddresses: NetworkAddresses.ipv4())
        // The banner says "open this URL", so it waits until a join there can be welcomed: the
        // node connects to its broker only once the group runs, and a join before that is
        // answered `unavailable` (clients retry, but a person or a script following the banner
        // should not meet that). A broker that does not come within `readinessBudget` gets the
        // banner printed anyway, with a warning: the listener is up and /healthz says 503.
        let announcer = Task {
            guard await Self.waitUntilConnected(node, budget: Self.readinessBudget) else {
                if Task.isCancelled || node.refusal != nil { return }
                logger.warning("The chat is not connected to its broker yet; joins are answered unavailable until it is.")
                Self.printBanner(banner)
                return
            }
            Self.printBanner(banner)
        }
        defer { announcer.cancel() }

        let group = ServiceGroup(
            configuration: {
                var group = ServiceGroupConfiguration(
                    services: [
                        .init(service: ChatNodeService(node: node, logger: logger)),
                        .init(service: HTTPServerService(server: http, logger: logger)),
                    ],
                    gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger
                )
                group.maximumGracefulShutdownDuration = Self.shutdownBudget
                group.maximumCancellationDuration = .seconds(2)
                return group
            }())
        do {
            try await group.run()
        } catch {
            // A node whose secret differs from the chat's stops the process with its sentence.
            if let refusal = node.refusal { throw StartupError(refusal) }
            throw error
        }
        if let refusal = node.refusal { throw StartupError(refusal) }
        logger.info("rabbitChat stopped")
    }

    /// Unbuffered: whoever reads the pipe (a person, a script, a test) sees the URL at once.
    private static func printBanner(_ banner: Banner) {
        FileHandle.standardOutput.write(Data((banner.text + "\n").utf8))
    }

    /// True once `node` has a broker connection and knows its secret is the chat's; false after
    /// `budget`, when cancelled, or when the node refused to start. Start-up only: it looks at
    /// the node's flags every few milliseconds.
    static func waitUntilConnected(_ node: ChatNode, budget: Duration) async -> Bool {
        let deadline = ContinuousClock.now + budget
        while !node.isReady {
            guard ContinuousClock.now < deadline, !Task.isCancelled, node.refusal == nil else { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    /// The broker of `--broker`: the simulator, or RabbitMQ after one connection proves it answers.
    private func makeBroker(logger: Logger) async throws(StartupError) -> any Broker {
        switch configuration.broker {
        case .embedded:
            guard let directory = configuration.dataDirectory else {
                return InMemoryBroker(maxStreamBytes: configuration.embeddedStreamBytes)
            }
            do throws(StoreError) {
                let storeLogger = Logger(label: "rabbitChat.store")
                return try InMemoryBroker(
                    dataDirectory: directory, maxStreamBytes: configuration.embeddedStreamBytes,
                    log: { storeLogger.warning("\($0)") })
            } catch {
                throw StartupError(error.message)
            }
        case .rabbitMQ(let urls):
            // rabbitmq-c is loaded only now (the built-in broker runs without it); when it is
            // missing, what to install is the whole message, not a reason RabbitMQ is unreachable.
            do {
                try RabbitMQBroker.loadLibrary()
            } catch {
                throw StartupError(Self.oneLine(Self.reason(error)) + ".")
            }
            let broker: RabbitMQBroker
            do {
                broker = try RabbitMQBroker(urls: urls)
            } catch {
                // The parser's sentence quotes the URL redacted and names what is wrong with it.
                throw StartupError(Self.oneLine(Self.reason(error)) + "; write each URL as amqp://user:password@host:port/vhost (amqps:// for TLS).")
            }
            do {
                let probe = try await broker.connect(name: "rabbitChat start-up check")
                await probe.close()
            } catch {
                throw StartupError.brokerUnreachable(
                    url: urls.map(ServerConfiguration.redacted).joined(separator: ","),
                    reason: Self.oneLine(Self.reason(error)))
            }
            return broker
        }
    }

    static func listenError(_ error: SockJSServerError, host: String, port: Int) -> StartupError {
        switch error {
        case .bindFailed(_, _, let underlying):
            if underlying.contains("already in use") || underlying.contains("errno: 98") {
                return .portInUse(host: host, port: port)
            }
            if underlying.contains("ermission denied") || underlying.contains("errno: 13") {
                return StartupError("Not allowed to listen on port \(port) of \(host); choose a port above 1023 with --port.")
            }
            if underlying.contains("ssign requested address") || underlying.contains("errno: 99") {
                return StartupError("This machine has no address \(host); use --host 127.0.0.1 or --host 0.0.0.0.")
            }
            return .cannotListen(host: host, port: port, reason: oneLine(underlying))
        }
    }

    static func reason(_ error: BrokerError) -> String {
        switch error {
        case .connectionFailed(let why), .connectionClosed(let why): why
        default: error.description
        }
    }

    /// The first sentence of `text`, on one line, without its final period.
    static func oneLine(_ text: String) -> String {
        var line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        if let end = line.range(of: ". ") { line = String(line[..<end.lowerBound]) }
        while line.hasSuffix(".") { line.removeLast() }
        return line
    }
}

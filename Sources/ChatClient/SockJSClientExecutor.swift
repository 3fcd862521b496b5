import NIOCore
import SockJSWire

/// The loop-confined heart of a `SockJSClient`: runs the state machine and carries out its
/// actions through a transport driver. Only ever touched on `eventLoop`.
final class SockJSClientExecutor {
    let endpoint: SockJSEndpoint
    let transport: SockJSTransportKind
    let eventLoop: any EventLoop
    let configuration: SockJSClient.Configuration
    private let onEvent: @Sendable (SockJSClientEvent) -> Void
    private var machine: SockJSClientStateMachine
    private var driver: (any SockJSTransportDriver)?
    private var ticker: Scheduled<Void>?

    init(
        endpoint: SockJSEndpoint,
        transport: SockJSTransportKind,
        eventLoop: any EventLoop,
        configuration: SockJSClient.Configuration,
        onEvent: @escaping @Sendable (SockJSClientEvent) -> Void
    ) {
        self.endpoint = endpoint
        self.transport = transport
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.onEvent = onEvent
        self.machine = SockJSClientStateMachine(
            configuration: configuration.session,
            pipelinesSends: transport == .websocket,
            now: .now()
        )
    }

    func start() {
        let server = SockJSSessionID.server()
        let session = SockJSSessionID.session()
        let driver: any SockJSTransportDriver =
            switch transport {
            case .websocket:
                WebSocketTransportDriver(executor: self, server: server, session: session)
            case .xhrStreaming, .xhrPolling:
                XHRTransportDriver(executor: self, server: server, session: session)
            }
        self.driver = driver
        scheduleTick()
        driver.start()
    }

    // MARK: Inputs from the owner

    func send(_ messages: [String]) -> Bool {
        switch machine.send(messages) {
        case .accepted(let actions):
            perform(actions)
            return true
        case .queueFull, .closed:
            return false
        }
    }

    func closeRequested(code: Int, reason: String) {
        perform(machine.closeRequested(code: code, reason: reason))
    }

    // MARK: Inputs from the driver

    var isClosed: Bool { machine.isClosed }

    /// One SockJS frame's bytes (a websocket text frame, or one line of an xhr response).
    func received(frame bytes: [UInt8]) {
        guard !machine.isClosed else { return }
        do {
            let frame = try SockJSFrame.parse(utf8: bytes)
            perform(machine.frameReceived(frame, now: .now()))
        } catch {
            perform(machine.malformedFrameReceived())
        }
    }

    func transmitCompleted() {
        perform(machine.transmitCompleted())
    }

    func transportFailed(_ reason: String) {
        perform(machine.transportFailed(reason: reason))
    }

    // MARK: Actions

    private func perform(_ actions: [SockJSClientStateMachine.Action]) {
        for action in actions {
            switch action {
            case .deliverOpen:
                onEvent(.open)
            case .deliverMessages(let messages):
                for message in messages { onEvent(.message(message)) }
            case .transmit(let messages):
                driver?.transmit(SockJSJSON.encodeStringArray(messages))
            case .stopTransport:
                ticker?.cancel()
                ticker = nil
                driver?.stop()
            case .deliverClosed(let code, let reason):
                driver = nil
                onEvent(.closed(code: code, reason: reason))
            }
        }
    }

    private func scheduleTick() {
        ticker = eventLoop.assumeIsolated().scheduleTask(in: configuration.tickInterval) { [weak self] in
            guard let self, !self.machine.isClosed else { return }
            self.perform(self.machine.tick(now: .now()))
            if !self.machine.isClosed { self.scheduleTick() }
        }
    }
}

/// A transport carries SockJS frames for one `SockJSClientExecutor`. It reports back through the
/// executor's `received(frame:)`, `transmitCompleted()` and `transportFailed(_:)`, on the loop.
protocol SockJSTransportDriver: AnyObject {
    /// Opens the connection(s) and starts receiving.
    func start()
    /// Sends one payload, a JSON array of strings.
    func transmit(_ payload: String)
    /// Closes every connection; no more reports.
    func stop()
}

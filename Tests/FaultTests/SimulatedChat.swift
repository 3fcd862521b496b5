import Broker
import Chat
import InMemoryBroker
import Logging
import Synchronization
import Testing

/// Chat nodes on one in-process simulator, each run in a task, and clients attached to them:
/// the fault scenarios of `scripts/faults.sh` without RabbitMQ. Stop it with ``shutdown()``.
final class SimulatedChat: Sendable {
    let broker = InMemoryBroker()
    let secret: [UInt8] = Array("the secret of the simulated fault chat".utf8)
    let publishTimeout: Duration
    private let nodes = Mutex<[String: (node: ChatNode, task: Task<Void, any Error>)]>([:])

    init(publishTimeout: Duration = .seconds(10)) {
        self.publishTimeout = publishTimeout
    }

    /// Starts node `nodeId` and waits until it is connected.
    @discardableResult
    func start(_ nodeId: String) async throws -> ChatNode {
        var configuration = ChatConfiguration(
            nodeId: nodeId, secret: secret, presenceInterval: .milliseconds(100), presenceExpiry: .seconds(2),
            reconnectBackoff: .milliseconds(20) ... .milliseconds(200), takeoverTimeout: .seconds(5))
        configuration.publishTimeout = publishTimeout
        configuration.secretCheckWindow = .milliseconds(100)
        var logger = Logger(label: "fault-test-\(nodeId)")
        logger.logLevel = .critical
        let node = ChatNode(broker: broker, configuration: configuration, logger: logger)
        let task = Task { try await node.run() }
        nodes.withLock { $0[nodeId] = (node, task) }
        try await waitUntil("node \(nodeId) to connect") { node.isBrokerConnected }
        return node
    }

    func node(_ nodeId: String) -> ChatNode {
        nodes.withLock { $0[nodeId]!.node }
    }

    /// Stops node `nodeId` (its task cancelled and awaited): its sessions close, its users go offline.
    func stop(_ nodeId: String) async {
        guard let running = nodes.withLock({ $0.removeValue(forKey: nodeId) }) else { return }
        running.task.cancel()
        _ = try? await running.task.value
    }

    /// A client attached to node `nodeId`.
    func client(on nodeId: String) -> SimulatedClient {
        let outlet = RecordingOutlet()
        return SimulatedClient(session: node(nodeId).attach(outlet), outlet: outlet)
    }

    func shutdown() async {
        for id in nodes.withLock({ Array($0.keys) }) { await stop(id) }
    }
}

/// Runs `body` with a fresh simulated chat and shuts it down afterwards.
func withSimulatedChat(publishTimeout: Duration = .seconds(10), _ body: (SimulatedChat) async throws -> Void) async throws {
    let chat = SimulatedChat(publishTimeout: publishTimeout)
    do {
        try await body(chat)
        await chat.shutdown()
    } catch {
        await chat.shutdown()
        throw error
    }
}

/// Where a simulated client's frames go: kept in order, with the close code if the chat closed it.
final class RecordingOutlet: ChatOutlet {
    private let state = Mutex<(frames: [String], closeCode: Int?)>(([], nil))

    func send(_ text: String) { state.withLock { $0.frames.append(text) } }
    func close(code: Int, reason: String) { state.withLock { $0.closeCode = code } }

    var frames: [String] { state.withLock { $0.frames } }
    var closeCode: Int? { state.withLock { $0.closeCode } }
}

/// A client of the simulated chat: sends frames into its session, reads its outlet.
final class SimulatedClient: Sendable {
    let session: ChatSession
    let outlet: RecordingOutlet

    init(session: ChatSession, outlet: RecordingOutlet) {
        self.session = session
        self.outlet = outlet
    }

    func send(_ frame: ClientFrame) { session.receive(ChatFrameCodec.encode(frame)) }

    var received: [ServerFrame] { outlet.frames.compactMap { try? ChatFrameCodec.decodeServerFrame($0) } }

    @discardableResult
    func join(_ nick: String, token: String? = nil) async throws -> Welcome {
        send(.join(JoinRequest(nick: nick, token: token, rooms: nil)))
        var welcome: Welcome?
        try await waitUntil("\(nick)'s welcome") {
            welcome = self.received.lazy.compactMap { if case .welcome(let w) = $0 { w } else { nil } }.first
            return welcome != nil
        }
        return welcome!
    }

    /// The `sent` for client id `id`, if it came.
    func sent(_ id: String) -> Sent? {
        received.lazy.compactMap { if case .sent(let s) = $0, s.id == id { s } else { nil } }.first
    }

    /// How many `unavailable` errors answered client id `id`.
    func unavailableCount(_ id: String) -> Int {
        received.filter { if case .error(let e) = $0, e.code == .unavailable, e.id == id { true } else { false } }.count
    }

    /// Every message received, by `msgId` (duplicates dropped, as clients are told to).
    var messagesById: [String: ChatMessage] {
        var byId: [String: ChatMessage] = [:]
        for case .message(let message) in received { byId[message.msgId] = message }
        return byId
    }

    /// How many `unavailable` or `rate_limited` errors (not accepted, to be retried) answered id `id`.
    func refusals(_ id: String) -> Int {
        received.filter { if case .error(let e) = $0, e.code == .unavailable || e.code == .rateLimited, e.id == id { true } else { false } }.count
    }

    /// The msgIds that came back as `delivered`.
    var receipts: Set<String> {
        Set(received.compactMap { if case .delivered(let d) = $0 { d.msgId } else { nil } })
    }
}

struct WaitTimeout: Error, CustomStringConvertible {
    var description: String
}

/// Polls `condition` every 10 ms until it holds; throws after `timeout`.
func waitUntil(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw WaitTimeout(description: "Timed out after \(timeout) waiting for \(what).")
}

extension SimulatedChat {
    /// Starts nodes `a` and `b` and joins `alice` on `a` and `bob` on `b`: the two-node set-up
    /// most fault tests start from.
    func aliceOnAAndBobOnB() async throws -> (alice: SimulatedClient, bob: SimulatedClient) {
        try await start("a")
        try await start("b")
        let alice = client(on: "a")
        try await alice.join("alice")
        let bob = client(on: "b")
        try await bob.join("bob")
        return (alice, bob)
    }
}

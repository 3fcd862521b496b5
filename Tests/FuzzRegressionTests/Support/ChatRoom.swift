import Chat
import InMemoryBroker
import Logging
import Synchronization

/// One chat node on a fresh in-process broker, and clients attached to it: enough to show what
/// bad input does to the session that sends it and to everyone else, without a server process.
final class ChatRoom: Sendable {
    let node: ChatNode
    private let task: Task<Void, any Error>

    init(limits: ChatLimits = ChatLimits()) async throws {
        var logger = Logger(label: "bad-input")
        logger.logLevel = .critical
        var configuration = ChatConfiguration(
            nodeId: "bad-input", secret: Array("a secret for bad input tests".utf8), limits: limits,
            presenceInterval: .milliseconds(200), reconnectBackoff: .milliseconds(20) ... .milliseconds(200))
        configuration.secretCheckWindow = .milliseconds(100)
        node = ChatNode(broker: InMemoryBroker(), configuration: configuration, logger: logger)
        let node = node
        task = Task { try await node.run() }
        try await waitFor("the node to connect") { node.isBrokerConnected }
    }

    func client() -> Client {
        let outlet = Outlet()
        return Client(session: node.attach(outlet), outlet: outlet)
    }

    /// A client that joined `nick` (into `lobby`).
    func joined(_ nick: String) async throws -> Client {
        let client = client()
        client.send(.join(JoinRequest(nick: nick)))
        _ = try await client.next("welcome of \(nick)") { if case .welcome(let w) = $0 { w } else { nil } }
        return client
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    /// Records frames and the close, like a SockJS session would carry them.
    final class Outlet: ChatOutlet {
        private let state = Mutex<(frames: [String], close: Int?)>(([], nil))
        func send(_ text: String) { state.withLock { $0.frames.append(text) } }
        func close(code: Int, reason: String) { state.withLock { $0.close = code } }
        var frames: [String] { state.withLock { $0.frames } }
        var closeCode: Int? { state.withLock { $0.close } }
    }

    final class Client: Sendable {
        let session: ChatSession
        let outlet: Outlet
        private let cursor = Mutex(0)

        init(session: ChatSession, outlet: Outlet) {
            self.session = session
            self.outlet = outlet
        }

        func send(_ frame: ClientFrame) { session.receive(ChatFrameCodec.encode(frame)) }
        func sendRaw(_ text: String) { session.receive(text) }

        var frames: [ServerFrame] { outlet.frames.compactMap { try? ChatFrameCodec.decodeServerFrame($0) } }
        var messages: [ChatMessage] { frames.compactMap { if case .message(let m) = $0 { m } else { nil } } }
        var errors: [ErrorFrame] { frames.compactMap { if case .error(let e) = $0 { e } else { nil } } }

        /// Waits for the next frame after the ones already consumed that `match` accepts.
        func next<T>(_ what: String, _ match: (ServerFrame) -> T?) async throws -> T {
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                let texts = outlet.frames
                let start = cursor.withLock { $0 }
                for index in start..<texts.count {
                    if let frame = try? ChatFrameCodec.decodeServerFrame(texts[index]), let value = match(frame) {
                        cursor.withLock { $0 = index + 1 }
                        return value
                    }
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            throw WaitTimeout(what: what, last: outlet.frames.suffix(5).joined(separator: " "))
        }

        func error() async throws -> ErrorFrame {
            try await next("an error") { if case .error(let e) = $0 { e } else { nil } }
        }

        func message(_ text: String) async throws -> ChatMessage {
            try await next("message '\(text)'") { if case .message(let m) = $0, m.text == text { m } else { nil } }
        }

        func sent(_ id: String) async throws -> Sent {
            try await next("sent \(id)") { if case .sent(let s) = $0, s.id == id { s } else { nil } }
        }
    }
}

struct WaitTimeout: Error, CustomStringConvertible {
    var what: String
    var last: String
    var description: String { "Timed out waiting for \(what); the last frames: \(last)" }
}

/// Polls `condition` every few milliseconds for at most 10 seconds.
func waitFor(_ what: String, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
        if condition() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    throw WaitTimeout(what: what, last: "")
}

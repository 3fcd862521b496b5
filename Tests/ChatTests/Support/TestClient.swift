import Chat
import Synchronization
import Testing

/// One simulated client: sends frames into its session, reads what its outlet got.
final class TestClient: Sendable {
    let session: ChatSession
    let outlet: TestOutlet
    private let cursor = Mutex(0)

    init(session: ChatSession, outlet: TestOutlet) {
        self.session = session
        self.outlet = outlet
    }

    func send(_ frame: ClientFrame) {
        session.receive(ChatFrameCodec.encode(frame))
    }

    func sendRaw(_ text: String) {
        session.receive(text)
    }

    /// Every frame received so far, decoded.
    var received: [ServerFrame] {
        outlet.frames.compactMap { try? ChatFrameCodec.decodeServerFrame($0) }
    }

    /// Waits for the next frame (after the ones already consumed) that matches, and consumes
    /// everything up to it.
    @discardableResult
    func next<T>(_ what: String, timeout: Duration = .seconds(10), _ match: (ServerFrame) -> T?) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let frames = outlet.frames
            let start = cursor.withLock { $0 }
            for index in start..<frames.count {
                if let frame = try? ChatFrameCodec.decodeServerFrame(frames[index]), let value = match(frame) {
                    cursor.withLock { $0 = index + 1 }
                    return value
                }
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw Timeout(description: "Timed out waiting for \(what); got \(outlet.frames.suffix(8))")
    }

    /// Waits for the join's answer: its welcome, or the error that refused it (thrown).
    @discardableResult
    func welcome(timeout: Duration = .seconds(10)) async throws -> Welcome {
        let answer = try await next("welcome", timeout: timeout) { frame -> Result<Welcome, JoinRefused>? in
            if case .error(let error) = frame, error.id == nil { return .failure(JoinRefused(error: error)) }
            if case .welcome(let welcome) = frame { return .success(welcome) }
            return nil
        }
        return try answer.get()
    }

    /// Joins the way a client does while a node is still starting: an `unavailable` answer is
    /// retried every half second until `timeout`; any other refusal is thrown.
    @discardableResult
    func joinRetryingWhileUnavailable(_ nick: String, timeout: Duration) async throws -> Welcome {
        let deadline = ContinuousClock.now + timeout
        while true {
            send(.join(JoinRequest(nick: nick)))
            do {
                return try await welcome(timeout: deadline - ContinuousClock.now)
            } catch let refused as JoinRefused where refused.error.code == .unavailable && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    @discardableResult
    func join(_ nick: String, token: String? = nil, rooms: [String]? = nil) async throws -> Welcome {
        send(.join(JoinRequest(nick: nick, token: token, rooms: rooms)))
        return try await welcome()
    }

    @discardableResult
    func error(_ code: ChatErrorCode, timeout: Duration = .seconds(10)) async throws -> ErrorFrame {
        try await next("error \(code.rawValue)", timeout: timeout) { frame -> ErrorFrame? in
            if case .error(let error) = frame, error.code == code { return error }
            return nil
        }
    }

    /// Waits for a message with `text`, wherever it is among the frames (public and private
    /// messages travel different paths, so their relative order is not fixed).
    @discardableResult
    func message(_ text: String, timeout: Duration = .seconds(10)) async throws -> ChatMessage {
        try await waitForMessage(text, timeout: timeout)
    }

    @discardableResult
    func sent(_ id: String) async throws -> Sent {
        try await next("sent \(id)") { frame -> Sent? in
            if case .sent(let sent) = frame, sent.id == id { return sent }
            if case .error(let error) = frame, error.id == id { Issue.record("\(id) refused: \(error.code) \(error.message)") }
            return nil
        }
    }

    /// Waits until a message with `text` arrived, whenever it did (ignores the cursor).
    @discardableResult
    func waitForMessage(_ text: String, timeout: Duration = .seconds(10)) async throws -> ChatMessage {
        try await eventually("message '\(text)'", timeout: timeout) { messages.contains { $0.text == text } }
        return messages.first { $0.text == text }!
    }

    /// Every `message` frame received so far.
    var messages: [ChatMessage] {
        received.compactMap { if case .message(let message) = $0 { message } else { nil } }
    }

    /// The close code the chat closed this client with.
    var closeCode: Int? { outlet.closeCode }
}

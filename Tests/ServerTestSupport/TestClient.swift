import Chat
import Synchronization
import Testing

/// One simulated client of a `ChatCluster` node: sends frames into its session, reads what
/// its outlet got. `next` and the waits built on it consume frames up to the one they return;
/// the `received`, `messages` and barrier waits look at everything and consume nothing.
public final class TestClient: Sendable {
    public let session: ChatSession
    public let outlet: TestOutlet
    private let cursor = Mutex(0)
    private let joinedNick = Mutex<String?>(nil)

    public init(session: ChatSession, outlet: TestOutlet) {
        self.session = session
        self.outlet = outlet
    }

    /// The nick of this client's last successful `join` (nil before).
    public var nick: String? { joinedNick.withLock { $0 } }

    public func send(_ frame: ClientFrame) {
        session.receive(ChatFrameCodec.encode(frame))
    }

    public func sendRaw(_ text: String) {
        session.receive(text)
    }

    /// Every frame received so far, decoded.
    public var received: [ServerFrame] {
        outlet.frames.compactMap { try? ChatFrameCodec.decodeServerFrame($0) }
    }

    /// Waits for the next frame (after the ones already consumed) that matches, and consumes
    /// everything up to it.
    @discardableResult
    public func next<T>(_ what: String, timeout: Duration = TestPatience.wait, _ match: (ServerFrame) -> T?) async throws -> T {
        var found: T?
        do {
            try await eventually(what, timeout: timeout) {
                let frames = outlet.frames
                let start = cursor.withLock { $0 }
                for index in start..<frames.count {
                    if let frame = try? ChatFrameCodec.decodeServerFrame(frames[index]), let value = match(frame) {
                        cursor.withLock { $0 = index + 1 }
                        found = value
                        return true
                    }
                }
                return false
            }
        } catch is TimedOut {
            throw TimedOut("Timed out after \(timeout) waiting for \(what); got \(outlet.frames.suffix(8))")
        }
        return found!
    }

    /// Waits for the join's answer: its welcome, or the error that refused it (thrown).
    @discardableResult
    public func welcome(timeout: Duration = TestPatience.wait) async throws -> Welcome {
        let answer = try await next("welcome", timeout: timeout) { frame -> Result<Welcome, JoinRefused>? in
            if case .error(let error) = frame, error.id == nil { return .failure(JoinRefused(error: error)) }
            if case .welcome(let welcome) = frame { return .success(welcome) }
            return nil
        }
        let welcome = try answer.get()
        joinedNick.withLock { $0 = welcome.nick }
        return welcome
    }

    /// Joins the way a client does while a node is still starting: an `unavailable` answer is
    /// retried every half second until `timeout`; any other refusal is thrown.
    @discardableResult
    public func joinRetryingWhileUnavailable(_ nick: String, timeout: Duration) async throws -> Welcome {
        let deadline = ContinuousClock.now + timeout
        while true {
            send(.join(JoinRequest(nick: nick)))
            do {
                return try await welcome(timeout: deadline - ContinuousClock.now)
            } catch let refused as JoinRefused where refused.error.code == .unavailable && ContinuousClock.now < deadline {
                // A client's retry pace, not a wait for anything.
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    @discardableResult
    public func join(_ nick: String, token: String? = nil, rooms: [String]? = nil) async throws -> Welcome {
        send(.join(JoinRequest(nick: nick, token: token, rooms: rooms)))
        return try await welcome()
    }

    @discardableResult
    public func error(_ code: ChatErrorCode, timeout: Duration = TestPatience.wait) async throws -> ErrorFrame {
        try await next("error \(code.rawValue)", timeout: timeout) { frame -> ErrorFrame? in
            if case .error(let error) = frame, error.code == code { return error }
            return nil
        }
    }

    /// The next error frame, whatever its code.
    @discardableResult
    public func anyError(timeout: Duration = TestPatience.wait) async throws -> ErrorFrame {
        try await next("an error", timeout: timeout) { frame -> ErrorFrame? in
            if case .error(let error) = frame { return error }
            return nil
        }
    }

    /// Waits for a message with `text`, wherever it is among the frames (public and private
    /// messages travel different paths, so their relative order is not fixed).
    @discardableResult
    public func message(_ text: String, timeout: Duration = TestPatience.wait) async throws -> ChatMessage {
        try await waitForMessage(text, timeout: timeout)
    }

    @discardableResult
    public func sent(_ id: String) async throws -> Sent {
        try await next("sent \(id)") { frame -> Sent? in
            if case .sent(let sent) = frame, sent.id == id { return sent }
            if case .error(let error) = frame, error.id == id { Issue.record("\(id) refused: \(error.code) \(error.message)") }
            return nil
        }
    }

    /// The `sent` for client id `id`, if it came (consumes nothing, does not wait).
    public func sentSoFar(_ id: String) -> Sent? {
        received.lazy.compactMap { if case .sent(let sent) = $0, sent.id == id { sent } else { nil } }.first
    }

    /// Waits until a message with `text` arrived, whenever it did (ignores the cursor).
    @discardableResult
    public func waitForMessage(_ text: String, timeout: Duration = TestPatience.wait) async throws -> ChatMessage {
        var found: ChatMessage?
        try await eventually("message '\(text)'", timeout: timeout) {
            found = messages.first { $0.text == text }
            return found != nil
        }
        return found!
    }

    /// Every `message` frame received so far.
    public var messages: [ChatMessage] {
        received.compactMap { if case .message(let message) = $0 { message } else { nil } }
    }

    /// Every `error` frame received so far.
    public var errors: [ErrorFrame] {
        received.compactMap { if case .error(let error) = $0 { error } else { nil } }
    }

    /// The close code the chat closed this client with.
    public var closeCode: Int? { outlet.closeCode }
}

// MARK: Barriers

/// What proves that something did NOT arrive: a round trip that must come after anything that
/// would have arrived. Each barrier's marker is unique and starts with ``TestClient/barrierPrefix``.
extension TestClient {
    public static let barrierPrefix = "barrier-"
    private static let barriers = Atomic<Int>(0)

    private static func nextMarker() -> String {
        barrierPrefix + String(barriers.add(1, ordering: .relaxed).newValue)
    }

    /// A barrier on this session: a `users` request, answered only after every frame this
    /// client sent before it has run, with the broker work each awaits (a `say`'s or `tell`'s
    /// publish, an `ack`'s receipts and broker acks, a `typing`'s publish): a session's frames
    /// run one after another (Specs/chat-protocol.md). Consumes nothing.
    public func roundTrip(timeout: Duration = TestPatience.wait) async throws {
        let prefix = Self.nextMarker()
        send(.users(UsersRequest(prefix: prefix, limit: 1)))
        try await eventually("the answer to users \(prefix)", timeout: timeout) {
            received.contains { if case .users(let users) = $0 { users.prefix == prefix } else { false } }
        }
    }

    /// A barrier on the public path: this client says a fresh marker in `room` and waits for
    /// its `sent` and for each observer's copy. Every node reads the one history stream in
    /// order, so once an observer has the marker, its node has handed it every public message
    /// published before the marker (this client's earlier ones included: they ran first).
    /// The observers must be in `room`. Consumes nothing. Returns the marker's text.
    @discardableResult
    public func publicBarrier(in room: String = ChatName.lobby, reaching observers: [TestClient], timeout: Duration = TestPatience.wait) async throws -> String
    {
        let marker = Self.nextMarker()
        send(.say(SayRequest(id: marker, room: room, text: marker)))
        try await eventually("the sent of \(marker)", timeout: timeout) { sentSoFar(marker) != nil }
        for observer in observers {
            try await observer.waitForMessage(marker, timeout: timeout)
        }
        return marker
    }

    /// A barrier on `addressee`'s queue: this client tells `addressee` a fresh marker and waits
    /// until it came. A user's queue hands its messages over in order, so everything queued for
    /// `addressee` before the marker (this client's earlier tells included) came first.
    /// The marker stays unacked. Consumes nothing. Returns the marker's text.
    @discardableResult
    public func privateBarrier(to addressee: TestClient, timeout: Duration = TestPatience.wait) async throws -> String {
        guard let nick = addressee.nick else { throw TimedOut("a private barrier to a client that has not joined") }
        let marker = Self.nextMarker()
        send(.tell(TellRequest(id: marker, to: nick, text: marker)))
        try await addressee.waitForMessage(marker, timeout: timeout)
        return marker
    }

    /// A barrier on `addressee`'s node queue (typing, presence and take-overs travel there):
    /// this client sends `typing` to `addressee` and waits until it came. The queue hands
    /// over in order, so whatever was published to that node before it came first. Counts
    /// against this session's typing rate (2 a second, bursts of 5). Consumes nothing.
    public func typingBarrier(to addressee: TestClient, timeout: Duration = TestPatience.wait) async throws {
        guard let nick = addressee.nick, let me = self.nick else { throw TimedOut("a typing barrier between clients that have not joined") }
        let typings = { addressee.received.filter { if case .typing(let typing) = $0 { typing.from == me && typing.to == nick } else { false } }.count }
        let before = typings()
        send(.typing(TypingRequest(to: nick)))
        try await eventually("\(nick) to get a typing from \(me)", timeout: timeout) { typings() > before }
    }

    /// The messages received that are not barrier markers.
    public var messagesButBarriers: [ChatMessage] {
        messages.filter { !$0.text.hasPrefix(Self.barrierPrefix) }
    }
}

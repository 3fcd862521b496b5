import DequeModule
import NIOCore
import SockJSWire

/// The transport-independent life of one SockJS client session, as a value type: it takes
/// inputs (a frame arrived, the owner wants to send, a transport finished a send, time passed)
/// and returns the actions the transport driver must carry out. No I/O, no clocks of its own:
/// the time comes in as an argument, so heartbeat and connect timeouts are tested in
/// microseconds.
///
/// Outbound messages wait in a bounded queue while the session is connecting and, on the xhr
/// transports, while one `xhr_send` is in flight (everything queued goes out in the next POST,
/// which coalesces sends). Overflow rule: a `send` that would exceed `maxQueuedMessages` is
/// refused (`SendResult.queueFull`) and nothing already queued is dropped.
public struct SockJSClientStateMachine: Sendable {
    /// Tunables of one client session.
    public struct Configuration: Sendable, Equatable {
        /// How long to wait for the server's `o` frame.
        public var connectTimeout: TimeAmount
        /// How long the server may stay silent on an open session (no frame, no heartbeat)
        /// before the session is considered dead. SockJS servers send `h` every 25 s by default.
        public var silenceTimeout: TimeAmount
        /// The cap of the outbound queue (see the overflow rule above).
        public var maxQueuedMessages: Int

        public init(
            connectTimeout: TimeAmount = .seconds(10),
            silenceTimeout: TimeAmount = .seconds(60),
            maxQueuedMessages: Int = 10_000
        ) {
            self.connectTimeout = connectTimeout
            self.silenceTimeout = silenceTimeout
            self.maxQueuedMessages = maxQueuedMessages
        }
    }

    /// What the driver must do.
    public enum Action: Equatable, Sendable {
        /// Tell the owner that the session is open.
        case deliverOpen
        /// Hand these messages to the owner, in order.
        case deliverMessages([String])
        /// Send these messages to the server as one SockJS payload (`["m1","m2"]`).
        case transmit([String])
        /// Close the transport's connections; nothing more will be read or sent.
        case stopTransport
        /// Tell the owner the session is closed, with the code and reason.
        case deliverClosed(code: Int, reason: String)
    }

    /// The answer to `send`.
    public enum SendResult: Equatable, Sendable {
        /// Accepted; carry out the actions (possibly none, when the messages were queued).
        case accepted([Action])
        /// The outbound queue is full; nothing was queued.
        case queueFull
        /// The session is closed.
        case closed
    }

    enum State: Sendable {
        case connecting(since: NIODeadline)
        case open(transmitting: Bool)
        case closed(code: Int, reason: String)
    }

    /// Close codes this client reports itself (the server's own come from its `c` frames).
    public enum LocalCloseCode {
        /// The connection dropped or the server stayed silent too long.
        public static let connectionLost = 1006
        /// The server broke the SockJS protocol.
        public static let protocolError = 1002
        /// The owner closed the session.
        public static let normal = 1000
    }

    public let configuration: Configuration
    /// Whether the transport may carry several sends at once (websocket) or one at a time (xhr_send).
    public let pipelinesSends: Bool
    private(set) var state: State
    private var queued: Deque<String> = []
    private var lastHeard: NIODeadline

    public init(configuration: Configuration = .init(), pipelinesSends: Bool, now: NIODeadline) {
        self.configuration = configuration
        self.pipelinesSends = pipelinesSends
        self.state = .connecting(since: now)
        self.lastHeard = now
    }

    /// Whether the session has closed (for whatever reason).
    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// Whether the session is open.
    public var isOpen: Bool {
        if case .open = state { return true }
        return false
    }

    /// Messages waiting to be sent.
    public var queuedCount: Int { queued.count }

    /// A frame arrived from the server.
    public mutating func frameReceived(_ frame: SockJSFrame, now: NIODeadline) -> [Action] {
        lastHeard = now
        switch (state, frame) {
        case (.closed, _):
            return []
        case (.connecting, .open):
            state = .open(transmitting: false)
            return [.deliverOpen] + transmitQueued()
        case (.connecting, .heartbeat), (.open, .heartbeat):
            return []
        case (.open, .messages(let messages)):
            return messages.isEmpty ? [] : [.deliverMessages(messages)]
        case (_, .close(let code, let reason)):
            return close(code: code, reason: reason)
        case (.connecting, .messages):
            return close(code: LocalCloseCode.protocolError, reason: "The server sent messages before its open frame.")
        case (.open, .open):
            return close(code: LocalCloseCode.protocolError, reason: "The server sent a second open frame.")
        }
    }

    /// A frame that could not be parsed arrived.
    public mutating func malformedFrameReceived() -> [Action] {
        close(code: LocalCloseCode.protocolError, reason: "The server sent a frame that is not SockJS.")
    }

    /// The owner wants to send messages.
    public mutating func send(_ messages: [String]) -> SendResult {
        guard !isClosed else { return .closed }
        guard queued.count + messages.count <= configuration.maxQueuedMessages else { return .queueFull }
        switch state {
        case .open(transmitting: false):
            queued.append(contentsOf: messages)
            return .accepted(transmitQueued())
        case .open(transmitting: true), .connecting:
            queued.append(contentsOf: messages)
            return .accepted([])
        case .closed:
            return .closed
        }
    }

    /// The transport finished the previous `transmit` (the `xhr_send` POST was answered).
    public mutating func transmitCompleted() -> [Action] {
        guard case .open = state else { return [] }
        state = .open(transmitting: false)
        return transmitQueued()
    }

    /// The transport lost its connection or a request failed.
    public mutating func transportFailed(reason: String) -> [Action] {
        close(code: LocalCloseCode.connectionLost, reason: reason)
    }

    /// The owner closes the session.
    public mutating func closeRequested(code: Int = LocalCloseCode.normal, reason: String = "Closed by the client.")
        -> [Action]
    {
        close(code: code, reason: reason)
    }

    /// Time passed: closes a session whose open frame is overdue or whose server went silent.
    public mutating func tick(now: NIODeadline) -> [Action] {
        switch state {
        case .connecting(let since) where now - since >= configuration.connectTimeout:
            return close(
                code: LocalCloseCode.connectionLost,
                reason: "The server did not open the session within \(Self.describe(configuration.connectTimeout))."
            )
        case .open where now - lastHeard >= configuration.silenceTimeout:
            return close(
                code: LocalCloseCode.connectionLost,
                reason: "The server sent nothing, not even a heartbeat, for \(Self.describe(configuration.silenceTimeout))."
            )
        default:
            return []
        }
    }

    private mutating func transmitQueued() -> [Action] {
        guard !queued.isEmpty else { return [] }
        if !pipelinesSends { state = .open(transmitting: true) }
        let batch = Array(queued)
        queued.removeAll(keepingCapacity: true)
        return [.transmit(batch)]
    }

    private mutating func close(code: Int, reason: String) -> [Action] {
        if case .closed = state { return [] }
        state = .closed(code: code, reason: reason)
        queued.removeAll()
        return [.stopTransport, .deliverClosed(code: code, reason: reason)]
    }

    static func describe(_ amount: TimeAmount) -> String {
        let ms = amount.nanoseconds / 1_000_000
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
    }
}

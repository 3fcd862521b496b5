import Synchronization

/// One client connection as the chat sees it. The server calls ``receive(_:)`` with each
/// client frame (in order) and ``disconnected()`` once at the end; the chat answers through
/// the ``ChatOutlet`` given to ``ChatNode/attach(_:)``.
///
/// Frames are checked against the rate limit as they arrive (refused ones never queue), then
/// run one after another on a task of their own: a frame that waits for the broker holds back
/// the session's later frames, which is what keeps each sender's messages in order.
public final class ChatSession: Sendable {
    /// Unique within its node.
    public let id: UInt64
    let outlet: any ChatOutlet
    private let core: ChatNodeCore
    private let limits: ChatLimits
    private let clock: any ChatClock
    private let state: Mutex<InputState>

    private struct InputState: ~Copyable {
        var limiter: RateLimiter
        var continuation: AsyncStream<String>.Continuation?
        var closed = false
        var detached = false
    }

    init(id: UInt64, outlet: any ChatOutlet, core: ChatNodeCore, limits: ChatLimits, clock: any ChatClock) {
        self.id = id
        self.outlet = outlet
        self.core = core
        self.limits = limits
        self.clock = clock
        state = Mutex(InputState(limiter: RateLimiter(rate: limits.ratePerSecond, burst: limits.burst, strikesToClose: limits.floodStrikes)))
    }

    /// True once the client disconnected or the chat closed the session.
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// One frame from the client (a JSON text). Never blocks. Frames over the rate limit are
    /// answered `rate_limited` at once; frames beyond `sessionInboundQueue` waiting ones are
    /// answered `unavailable` (both carry the frame's `id`, the client may retry).
    public func receive(_ text: String) {
        enum Outcome { case queued, refused, flooding, busy, closed }
        let now = clock.nowMilliseconds()
        var newStream: AsyncStream<String>?
        let outcome: Outcome = state.withLock { state in
            guard !state.closed else { return .closed }
            switch state.limiter.admit(now: now) {
            case .reject:
                return .refused
            case .close:
                state.closed = true
                state.continuation?.finish()
                return .flooding
            case .accept:
                if state.continuation == nil {
                    let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingOldest(limits.sessionInboundQueue))
                    state.continuation = continuation
                    newStream = stream
                }
                // Counted before the yield, so the frame task never uncounts it first.
                core.inboundFrames.add(1, ordering: .relaxed)
                if case .dropped = state.continuation!.yield(text) {
                    core.inboundFrames.subtract(1, ordering: .relaxed)
                    return .busy
                }
                return .queued
            }
        }
        if let newStream {
            let core = core
            Task { [self] in
                for await text in newStream {
                    await core.process(text, from: self)
                    core.inboundFrames.subtract(1, ordering: .relaxed)
                }
                await core.sessionEnded(id)
            }
        }
        switch outcome {
        case .queued, .closed:
            return
        case .refused:
            core.refused()
            send(ChatProtocolError(.rateLimited, "You are sending too fast: wait a moment, then send this again.", id: Self.probeId(text)).frame)
        case .busy:
            core.refused()
            send(ChatProtocolError(.unavailable, "The server is still busy with your earlier messages: send this again in a moment.", id: Self.probeId(text)).frame)
        case .flooding:
            core.refused()
            send(ChatProtocolError(.rateLimited, "You kept sending too fast, so this connection is closed: reconnect and send slower.").frame)
            outlet.close(code: ChatCloseCode.flooding, reason: "Flooding")
        }
    }

    /// The client's connection is gone. Its unacknowledged private messages go back to its
    /// queue; its nick shows offline once no other session holds it.
    public func disconnected() {
        let (wasAttached, hasTask) = state.withLock { state in
            defer {
                state.closed = true
                state.detached = true
                state.continuation?.finish()
            }
            return (!state.detached, state.continuation != nil)
        }
        guard wasAttached else { return }
        core.sessionCount.subtract(1, ordering: .relaxed)
        // With a frame task, it ends the session itself once the frames before this point
        // are done (an ack in flight reaches the broker before the inbox is released).
        if !hasTask {
            Task { [core, id] in await core.sessionEnded(id) }
        }
    }

    /// Marks the session closed by the chat (replaced), so later frames are ignored.
    func markClosed() {
        state.withLock { state in
            state.closed = true
            state.continuation?.finish()
        }
    }

    func send(_ frame: ServerFrame) {
        outlet.send(ChatFrameCodec.encode(frame))
    }

    private static func probeId(_ text: String) -> String? {
        guard text.utf8.count <= 64 * 1024 else { return nil }
        return (try? ChatFrameCodec.decodeClientFrame(text, limits: ChatLimits()))?.id
    }
}

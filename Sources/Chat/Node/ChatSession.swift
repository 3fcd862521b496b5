import DequeModule
import Synchronization

/// One client connection as the chat sees it. The server calls ``receive(_:)`` with each
/// client frame (in order) and ``disconnected()`` once at the end; the chat answers through
/// the ``ChatOutlet`` given to ``ChatNode/attach(_:)``.
///
/// Frames are checked against the rate limit as they arrive (refused ones never queue), then
/// run one after another by a task that exists only while frames wait: a frame that waits for
/// the broker holds back the session's later frames, which is what keeps each sender's
/// messages in order. An idle session holds no task and no stream (10,000 idle sessions are
/// the common case). A `say` or `tell` refused as not accepted holds back the newer ones until
/// it is sent again (``SendOrderHold``), so a resend cannot be overtaken either.
public final class ChatSession: Sendable {
    /// Unique within its node.
    public let id: UInt64
    let outlet: any ChatOutlet
    /// The client's address (its IP, without the port), for the password limits per address.
    let address: String
    private let executor: ChatNodeExecutor
    private let limits: ChatLimits
    private let clock: any ChatClock
    private let state: Mutex<InputState>

    /// A frame admitted to the session's queue, numbered in arrival order.
    struct Inbound: Sendable {
        var text: String
        var admission: UInt64
    }

    private struct InputState: ~Copyable {
        var limiter: RateLimiter
        /// Admitted frames not yet taken by the drain task; at most `sessionInboundQueue`.
        var queue = Deque<Inbound>()
        /// A task is running the queued frames (there is never more than one).
        var draining = false
        /// A frame was admitted once: the chat knows the session.
        var started = false
        /// ``ChatNodeExecutor/detached(_:)`` was called or is about to be.
        var endScheduled = false
        var admitted: UInt64 = 0
        var orderHold = SendOrderHold()
        /// A task telling the node about a refused `ack` has not started yet: a flood of refused
        /// acks keeps at most one such task waiting (the node coalesces the refusals anyway).
        var ackRefusalQueued = false
        var closed = false
        var detached = false

        /// Whether the session's end is due now (closed, no frame left to run, a frame was
        /// ever queued or the client left); true once at most.
        mutating func takeEnd() -> Bool {
            guard closed, !draining, !endScheduled, started || detached else { return false }
            endScheduled = true
            return true
        }
    }

    init(id: UInt64, outlet: any ChatOutlet, address: String, executor: ChatNodeExecutor, limits: ChatLimits, clock: any ChatClock) {
        self.id = id
        self.outlet = outlet
        self.address = address
        self.executor = executor
        self.limits = limits
        self.clock = clock
        state = Mutex(InputState(limiter: RateLimiter(rate: limits.ratePerSecond, burst: limits.burst, strikesToClose: limits.floodStrikes)))
    }

    /// True once the client disconnected or the chat closed the session.
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// One frame from the client (a JSON text). Never blocks. Frames over the rate limit are
    /// answered `rate_limited` at once; frames beyond `sessionInboundQueue` waiting ones are
    /// answered `unavailable` (both carry the frame's `id`, the client may retry). The server
    /// calls it for one session's frames one at a time, in order.
    public func receive(_ text: String) {
        enum Outcome { case queued, refused, flooding, busy, closed }
        let now = clock.nowMilliseconds()
        var startDrain = false
        var endNow = false
        var lastAdmitted: UInt64 = 0
        let outcome: Outcome = state.withLock { state in
            guard !state.closed else { return .closed }
            lastAdmitted = state.admitted
            switch state.limiter.admit(now: now) {
            case .reject:
                return .refused
            case .close:
                state.closed = true
                endNow = state.takeEnd()
                return .flooding
            case .accept:
                guard state.queue.count < limits.sessionInboundQueue else { return .busy }
                executor.inboundFrames.add(1, ordering: .relaxed)
                state.admitted += 1
                state.queue.append(Inbound(text: text, admission: state.admitted))
                state.started = true
                if !state.draining {
                    state.draining = true
                    startDrain = true
                }
                return .queued
            }
        }
        if startDrain {
            Task { await drain() }
        }
        if endNow { endSession() }
        switch outcome {
        case .queued, .closed:
            return
        case .refused:
            executor.refused()
            switch refusedOnArrival(text, lastAdmitted: lastAdmitted) {
            case .ack:
                send(
                    ChatProtocolError(.rateLimited, "You are sending too fast: that ack was not recorded, so its messages will come again; ack them then.")
                        .frame)
            case .other(let id):
                send(ChatProtocolError(.rateLimited, "You are sending too fast: wait a moment, then send this again.", id: id).frame)
            }
        case .busy:
            executor.refused()
            switch refusedOnArrival(text, lastAdmitted: lastAdmitted) {
            case .ack:
                send(
                    ChatProtocolError(
                        .unavailable,
                        "The server is still busy with your earlier messages: that ack was not recorded, so its messages will come again; ack them then."
                    ).frame)
            case .other(let id):
                send(ChatProtocolError(.unavailable, "The server is still busy with your earlier messages: send this again in a moment.", id: id).frame)
            }
        case .flooding:
            executor.refused()
            send(ChatProtocolError(.rateLimited, "You kept sending too fast, so this connection is closed: reconnect and send slower.").frame)
            outlet.close(code: ChatCloseCode.flooding, reason: "Flooding")
        }
    }

    /// Runs the queued frames in order until none is left; then, if the session is closed,
    /// ends it (so an ack queued before the disconnect reaches the broker before the inbox
    /// is released).
    private func drain() async {
        while true {
            var endNow = false
            let next: Inbound? = state.withLock { state in
                if let next = state.queue.popFirst() { return next }
                state.draining = false
                endNow = state.takeEnd()
                return nil
            }
            guard let next else {
                if endNow { await executor.detached(id) }
                return
            }
            await executor.process(next.text, admission: next.admission, from: self)
            executor.inboundFrames.subtract(1, ordering: .relaxed)
        }
    }

    private func endSession() {
        Task { [executor, id] in await executor.detached(id) }
    }

    /// The client's connection is gone. Its unacknowledged private messages go back to its
    /// queue; its nick shows offline once no other session holds it.
    public func disconnected() {
        let (wasAttached, endNow) = state.withLock { state in
            let wasAttached = !state.detached
            state.closed = true
            state.detached = true
            return (wasAttached, state.takeEnd())
        }
        guard wasAttached else { return }
        executor.sessionCount.subtract(1, ordering: .relaxed)
        // While frames wait, the drain task ends the session itself once they are done.
        if endNow { endSession() }
    }

    /// Marks the session closed by the chat (replaced), so later frames are ignored.
    func markClosed() {
        let endNow = state.withLock { state in
            state.closed = true
            return state.takeEnd()
        }
        if endNow { endSession() }
    }

    /// A `say`/`tell` refused on arrival holds back the newer ones; returns its `id`, if any.
    private func refusedOnArrival(_ text: String, lastAdmitted: UInt64) -> RefusedFrame {
        switch Self.probe(text) {
        case .ack:
            // Its messages stay pending in this session and the client was told they come
            // again: the node puts them back now (Specs/chat-protocol.md, "Private messages").
            let queue = state.withLock { state in
                defer { state.ackRefusalQueued = true }
                return !state.ackRefusalQueued
            }
            if queue {
                Task {
                    state.withLock { $0.ackRefusalQueued = false }
                    await executor.ackRefused(session: id)
                }
            }
            return .ack
        case .id(let id):
            state.withLock { $0.orderHold.refusedOnArrival(id: id, lastAdmitted: lastAdmitted) }
            return .other(id: id)
        case .none, .undecided:
            return .other(id: nil)
        }
    }

    /// A frame refused on arrival: an `ack`, or another frame with the `id` of a `say`/`tell`.
    private enum RefusedFrame {
        case ack
        case other(id: String?)
    }

    /// The `say`/`tell` with admission number `admission` was not accepted when it ran.
    func refusedWhenRun(id: String, admission: UInt64) {
        state.withLock { $0.orderHold.refusedWhenRun(id: id, admission: admission) }
    }

    /// Whether the `say`/`tell` with `id` may run now (see ``SendOrderHold``).
    func checkOrder(id: String, admission: UInt64) -> SendOrderHold.Verdict {
        state.withLock { $0.orderHold.check(id: id, admission: admission) }
    }

    func send(_ frame: ServerFrame) {
        outlet.send(ChatFrameCodec.encode(frame))
    }

    /// What the refused frame is, by a lexical scan, not a decode: a flood refused for rate
    /// costs one pass over its bytes. Only an `id` or `type` with escapes takes the decoder.
    private static func probe(_ text: String) -> FrameIdProbe.Result {
        guard text.utf8.count <= 64 * 1024 else { return .none }
        let probed = FrameIdProbe.probe(text)
        guard probed == .undecided else { return probed }
        guard let frame = try? ChatFrameCodec.decodeClientFrame(text, limits: ChatLimits()) else { return .none }
        if case .ack = frame { return .ack }
        return frame.id.map { .id($0) } ?? .none
    }
}

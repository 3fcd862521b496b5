import Synchronization

/// One client connection as the chat sees it. The server calls ``receive(_:)`` with each
/// client frame (in order) and ``disconnected()`` once at the end; the chat answers through
/// the ``ChatOutlet`` given to ``ChatNode/attach(_:)``.
///
/// Frames are checked against the rate limit as they arrive (refused ones never queue), then
/// run one after another on a task of their own: a frame that waits for the broker holds back
/// the session's later frames, which is what keeps each sender's messages in order. A `say` or
/// `tell` refused as not accepted holds back the newer ones until it is sent again
/// (``SendOrderHold``), so a resend cannot be overtaken either.
public final class ChatSession: Sendable {
    /// Unique within its node.
    public let id: UInt64
    let outlet: any ChatOutlet
    private let core: ChatNodeCore
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
        var continuation: AsyncStream<Inbound>.Continuation?
        var admitted: UInt64 = 0
        var orderHold = SendOrderHold()
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
    /// answered `unavailable` (both carry the frame's `id`, the client may retry). The server
    /// calls it for one session's frames one at a time, in order.
    public func receive(_ text: String) {
        enum Outcome { case queued, refused, flooding, busy, closed }
        let now = clock.nowMilliseconds()
        var newStream: AsyncStream<Inbound>?
        var lastAdmitted: UInt64 = 0
        let outcome: Outcome = state.withLock { state in
            guard !state.closed else { return .closed }
            lastAdmitted = state.admitted
            switch state.limiter.admit(now: now) {
            case .reject:
                return .refused
            case .close:
                state.closed = true
                state.continuation?.finish()
                return .flooding
            case .accept:
                if state.continuation == nil {
                    let (stream, continuation) = AsyncStream.makeStream(of: Inbound.self, bufferingPolicy: .bufferingOldest(limits.sessionInboundQueue))
                    state.continuation = continuation
                    newStream = stream
                }
                // Counted before the yield, so the frame task never uncounts it first.
                core.inboundFrames.add(1, ordering: .relaxed)
                if case .dropped = state.continuation!.yield(Inbound(text: text, admission: state.admitted + 1)) {
                    core.inboundFrames.subtract(1, ordering: .relaxed)
                    return .busy
                }
                state.admitted += 1
                return .queued
            }
        }
        if let newStream {
            let core = core
            Task { [self] in
                for await inbound in newStream {
                    await core.process(inbound.text, admission: inbound.admission, from: self)
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
            let id = refusedOnArrival(text, lastAdmitted: lastAdmitted)
            send(ChatProtocolError(.rateLimited, "You are sending too fast: wait a moment, then send this again.", id: id).frame)
        case .busy:
            core.refused()
            let id = refusedOnArrival(text, lastAdmitted: lastAdmitted)
            send(ChatProtocolError(.unavailable, "The server is still busy with your earlier messages: send this again in a moment.", id: id).frame)
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

    /// A `say`/`tell` refused on arrival holds back the newer ones; returns its `id`, if any.
    private func refusedOnArrival(_ text: String, lastAdmitted: UInt64) -> String? {
        guard let id = Self.probeId(text) else { return nil }
        state.withLock { $0.orderHold.refusedOnArrival(id: id, lastAdmitted: lastAdmitted) }
        return id
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

    private static func probeId(_ text: String) -> String? {
        guard text.utf8.count <= 64 * 1024 else { return nil }
        return (try? ChatFrameCodec.decodeClientFrame(text, limits: ChatLimits()))?.id
    }
}

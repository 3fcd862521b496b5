import DequeModule
import NIOCore

/// The protocol logic of one SockJS session, as a pure value type.
///
/// It knows the session's phase, whether a receiving connection is attached (and of what kind),
/// the queue of messages waiting for one, the byte cap on that queue, and the heartbeat and
/// expiry deadlines. Every event takes `now` and returns what to do; the session object carries
/// the actions out (writes, callbacks, timers). Nothing here touches a socket or a clock, so every
/// rule is tested directly, heartbeats and timeouts included.
struct SockJSSessionStateMachine {
    /// How a receiving connection takes frames.
    enum ReceiverKind: Equatable {
        /// One frame, then the response ends (`xhr`, `jsonp`).
        case polling
        /// Frames until `limit` bytes were written, then the response ends (`xhr_streaming`, ...).
        case streaming(limit: Int)
        /// Frames for as long as the connection lives; the session ends with it (websockets).
        case persistent
    }

    /// Where the session is in its life.
    enum Phase: Equatable {
        /// Created, `o` not yet sent.
        case new
        /// `o` sent; messages flow.
        case open
        /// Ended; the close frame is served to whoever asks until the session expires.
        case closed(SockJSCloseFrame)
    }

    /// The limits and intervals the machine applies.
    struct Configuration {
        var heartbeatInterval: TimeAmount
        var disconnectDelay: TimeAmount
        var maxQueuedBytes: Int
    }

    /// What to do with the receiving connection or the application.
    enum Action: Equatable {
        /// Write `o` to the receiver; end its response after it when `end`.
        case sendOpen(end: Bool)
        /// Write these messages as one `a[...]` frame; end the response after it when `end`.
        case sendMessages([SockJSPreparedMessage], end: Bool)
        /// Write `h`; end the response after it when `end`.
        case sendHeartbeat(end: Bool)
        /// Write this close frame and end the receiver (response or connection). After an
        /// overflow the executor writes it without waiting and drops the connection.
        case sendClose(SockJSCloseFrame)
        /// The new receiver is refused: write `c[2010,...]` to it and end it. The session is unaffected.
        case rejectReceiver
        /// End the current receiver's response with no frame (streaming limit reached).
        case endReceiver
        /// Drop the current receiver's connection at once (a dead peer).
        case dropReceiver
        /// Tell the application the session opened.
        case notifyOpened
        /// Tell the application the session closed.
        case notifyClosed(SockJSCloseReason)
        /// Forget the session: drop it from the registry.
        case remove

        static func == (lhs: Action, rhs: Action) -> Bool {
            switch (lhs, rhs) {
            case (.sendOpen(let a), .sendOpen(let b)): return a == b
            case (.sendMessages(let a, let ea), .sendMessages(let b, let eb)):
                return ea == eb && a.count == b.count && zip(a, b).allSatisfy { $0 === $1 }
            case (.sendHeartbeat(let a), .sendHeartbeat(let b)): return a == b
            case (.sendClose(let a), .sendClose(let b)): return a == b
            case (.rejectReceiver, .rejectReceiver), (.endReceiver, .endReceiver), (.dropReceiver, .dropReceiver),
                (.notifyOpened, .notifyOpened), (.remove, .remove):
                return true
            case (.notifyClosed(let a), .notifyClosed(let b)): return a == b
            default: return false
            }
        }
    }

    /// The answer to one outbound message, the hot path.
    enum SendDecision: Equatable {
        /// Write it to the attached receiver now (as a one-message frame); end the response after it when `end`.
        case writeNow(end: Bool)
        /// Kept in the queue until a receiver can take it.
        case queued
        /// The session is not open: the message is dropped.
        case dropped
        /// The queue overflowed its cap: the session is now closed; carry out these actions.
        case overflow([Action])
    }

    let configuration: Configuration
    private(set) var phase: Phase = .new
    private(set) var receiver: ReceiverKind?
    private(set) var receiverWritable = true
    private var receiverBytes = 0
    private(set) var queue = Deque<SockJSPreparedMessage>()
    private(set) var queuedBytes = 0
    private(set) var heartbeatDeadline: NIODeadline?
    private(set) var expiryDeadline: NIODeadline?
    private(set) var isRemoved = false
    /// Whether the attached persistent receiver answers pings, so silence means a dead peer.
    private(set) var checksLiveness = false
    private(set) var lastClientActivity: NIODeadline

    init(configuration: Configuration, now: NIODeadline) {
        self.configuration = configuration
        self.expiryDeadline = now + configuration.disconnectDelay
        self.lastClientActivity = now
    }

    /// The earliest time ``tick(now:)`` has something to do.
    var nextDeadline: NIODeadline? {
        switch (heartbeatDeadline, expiryDeadline) {
        case (let h?, let e?): return min(h, e)
        case (let h?, nil): return h
        case (nil, let e?): return e
        case (nil, nil): return nil
        }
    }

    /// Whether inbound messages are delivered to the application.
    var acceptsMessages: Bool { phase == .open }

    /// A receiving connection (a poll, a stream, a websocket) asks for frames. With
    /// `checksLiveness` (websockets that answer pings) a peer silent for two heartbeat intervals
    /// is taken for dead: its connection is dropped and the session closed as interrupted.
    mutating func attachReceiver(_ kind: ReceiverKind, now: NIODeadline, checksLiveness: Bool = false) -> [Action] {
        guard !isRemoved else { return [.sendClose(.goAway)] }
        if receiver != nil { return [.rejectReceiver] }
        self.checksLiveness = kind == .persistent && checksLiveness
        lastClientActivity = now
        switch phase {
        case .new:
            phase = .open
            if kind == .polling {
                expiryDeadline = now + configuration.disconnectDelay
                return [.sendOpen(end: true), .notifyOpened]
            }
            setReceiver(kind, now: now)
            return [.sendOpen(end: false), .notifyOpened]
        case .open:
            if queue.isEmpty {
                setReceiver(kind, now: now)
                return []
            }
            let messages = drainQueue()
            if kind == .polling {
                expiryDeadline = now + configuration.disconnectDelay
                return [.sendMessages(messages, end: true)]
            }
            setReceiver(kind, now: now)
            return [.sendMessages(messages, end: false)]
        case .closed(let frame):
            return [.sendClose(frame)]
        }
    }

    /// The executor wrote `bytes` of frames to a streaming receiver; past the limit its response ends.
    mutating func receiverWrote(bytes: Int, now: NIODeadline) -> [Action] {
        guard case .streaming(let limit) = receiver else { return [] }
        receiverBytes += bytes
        guard receiverBytes >= limit else { return [] }
        detach(now: now)
        return [.endReceiver]
    }

    /// The receiving connection went away before the session ended it.
    mutating func receiverLost(now: NIODeadline) -> [Action] {
        guard let kind = receiver else { return [] }
        detach(now: now)
        guard phase == .open else {
            if kind == .persistent {
                isRemoved = true
                return [.remove]
            }
            return []
        }
        if kind == .persistent {
            phase = .closed(.connectionInterrupted)
            isRemoved = true
            queue.removeAll()
            queuedBytes = 0
            return [.notifyClosed(.clientClosed), .remove]
        }
        phase = .closed(.connectionInterrupted)
        queue.removeAll()
        queuedBytes = 0
        return [.notifyClosed(.interrupted)]
    }

    /// The receiver's socket became writable or unwritable (websockets only use this).
    mutating func receiverWritabilityChanged(_ writable: Bool) -> [Action] {
        receiverWritable = writable
        guard writable, receiver != nil, phase == .open, !queue.isEmpty else { return [] }
        return [.sendMessages(drainQueue(), end: false)]
    }

    /// The application sends one message (`size` counts against the queue cap).
    mutating func send(_ message: SockJSPreparedMessage, now: NIODeadline) -> SendDecision {
        guard phase == .open else { return .dropped }
        // A single frame over the cap counts against it too, even with nothing queued: it
        // would sit in the connection's write buffer instead (Specs/bounds.md).
        if message.queuedSize > configuration.maxQueuedBytes {
            return .overflow(close(.tooSlow, reason: .tooSlow, now: now))
        }
        if let kind = receiver, receiverWritable, queue.isEmpty {
            if kind == .polling {
                detach(now: now)
                return .writeNow(end: true)
            }
            return .writeNow(end: false)
        }
        queue.append(message)
        queuedBytes += message.queuedSize
        if queuedBytes > configuration.maxQueuedBytes {
            return .overflow(close(.tooSlow, reason: .tooSlow, now: now))
        }
        return .queued
    }

    /// The client sent bytes that are not SockJS on its websocket; the session ends at once and the
    /// executor drops the connection without a close frame.
    mutating func protocolError(now: NIODeadline) -> [Action] {
        guard !isRemoved else { return [] }
        let wasOpen = phase == .open
        phase = .closed(.connectionInterrupted)
        queue.removeAll()
        queuedBytes = 0
        receiver = nil
        heartbeatDeadline = nil
        expiryDeadline = nil
        isRemoved = true
        return (wasOpen ? [.notifyClosed(.protocolError)] : []) + [.remove]
    }

    /// The application or the server closes the session with `frame`.
    mutating func close(_ frame: SockJSCloseFrame, reason: SockJSCloseReason, now: NIODeadline) -> [Action] {
        if case .closed = phase { return [] }
        guard !isRemoved else { return [] }
        let wasOpen = phase == .open
        phase = .closed(frame)
        queue.removeAll()
        queuedBytes = 0
        var actions: [Action] = []
        if let kind = receiver {
            actions.append(.sendClose(frame))
            detach(now: now)
            if kind == .persistent {
                isRemoved = true
                if wasOpen { actions.append(.notifyClosed(reason)) }
                actions.append(.remove)
                return actions
            }
        }
        if wasOpen { actions.append(.notifyClosed(reason)) }
        return actions
    }

    /// A poll response that this machine ended has been written by its connection, possibly
    /// well after the machine decided it (the connection may live on a busy event loop). The
    /// disconnect delay then counts from now, never from earlier: a client that polls again at
    /// once must not find its session expired (it would get a fresh session and a second `o`).
    mutating func pollAnswered(now: NIODeadline) {
        guard !isRemoved, receiver == nil, phase == .open, let expiry = expiryDeadline else { return }
        expiryDeadline = max(expiry, now + configuration.disconnectDelay)
    }

    /// The client sent something (a message, a pong): it is alive.
    mutating func clientActivity(now: NIODeadline) {
        lastClientActivity = now
    }

    /// Time passed; returns what is due at `now`.
    mutating func tick(now: NIODeadline) -> [Action] {
        guard !isRemoved else { return [] }
        var actions: [Action] = []
        if let h = heartbeatDeadline, h <= now, receiver == .persistent, checksLiveness, phase == .open,
            now - lastClientActivity >= configuration.heartbeatInterval * 2
        {
            // Two heartbeats (each with a ping) went unanswered: a half-open connection.
            receiver = nil
            heartbeatDeadline = nil
            phase = .closed(.connectionInterrupted)
            queue.removeAll()
            queuedBytes = 0
            isRemoved = true
            return [.dropReceiver, .notifyClosed(.interrupted), .remove]
        }
        if let h = heartbeatDeadline, h <= now, let kind = receiver {
            if kind == .polling {
                detach(now: now)
                actions.append(.sendHeartbeat(end: true))
            } else {
                heartbeatDeadline = now + configuration.heartbeatInterval
                actions.append(.sendHeartbeat(end: false))
            }
        }
        if let e = expiryDeadline, e <= now, receiver == nil {
            expiryDeadline = nil
            isRemoved = true
            if phase == .open || phase == .new {
                let wasOpen = phase == .open
                phase = .closed(.goAway)
                queue.removeAll()
                queuedBytes = 0
                if wasOpen { actions.append(.notifyClosed(.timedOut)) }
            }
            actions.append(.remove)
        }
        return actions
    }

    private mutating func setReceiver(_ kind: ReceiverKind, now: NIODeadline) {
        receiver = kind
        receiverWritable = true
        receiverBytes = 0
        heartbeatDeadline = now + configuration.heartbeatInterval
        expiryDeadline = nil
    }

    private mutating func detach(now: NIODeadline) {
        receiver = nil
        receiverBytes = 0
        heartbeatDeadline = nil
        expiryDeadline = now + configuration.disconnectDelay
    }

    private mutating func drainQueue() -> [SockJSPreparedMessage] {
        let messages = Array(queue)
        queue.removeAll(keepingCapacity: true)
        queuedBytes = 0
        return messages
    }
}

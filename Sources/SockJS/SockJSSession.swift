import Logging
import NIOCore

/// One SockJS session as the application sees it: an id, a transport, and a way to send and close.
///
/// Safe to use from any thread: ``send(_:)-(String)`` and ``close(code:reason:)`` hop to the
/// session's event loop when called elsewhere. All the session's state lives on that loop.
///
/// `@unchecked Sendable`: the mutable members (`machine`, `receiver`, `timer`, `timerDeadline`, `forgotten`, `flushPending`)
/// are only read and written on `eventLoop` (every entry point either runs there or hops there
/// with `eventLoop.execute`, and `assertInLoop` checks it in debug builds); everything else is `let`.
public final class SockJSSession: @unchecked Sendable, Hashable, CustomStringConvertible {
    /// The session id the client chose (websocket sessions may share one; they are not looked up by it).
    public let id: String
    /// The transport that opened the session.
    public let transport: SockJSTransport
    /// The client's address as the socket saw it.
    public let remoteAddress: SocketAddress?
    /// The event loop that owns the session; callbacks run here.
    public let eventLoop: any EventLoop
    /// The request head that opened the session (headers such as `Cookie` or `X-Forwarded-For`).
    public let request: HTTPRequestHead

    let service: any SockJSService
    let logger: Logger
    let allocator: ByteBufferAllocator
    /// Where broadcasts put this session when it has unflushed writes.
    let flushBatch: SockJSFlushBatch
    private let onRemove: @Sendable (SockJSSession) -> Void

    private var machine: SockJSSessionStateMachine
    private var receiver: (any SockJSReceiver)?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var forgotten = false
    private var flushPending = false

    init(
        id: String,
        transport: SockJSTransport,
        remoteAddress: SocketAddress?,
        request: HTTPRequestHead,
        eventLoop: any EventLoop,
        options: SockJSOptions,
        service: any SockJSService,
        logger: Logger,
        flushBatch: SockJSFlushBatch,
        onRemove: @escaping @Sendable (SockJSSession) -> Void
    ) {
        self.flushBatch = flushBatch
        self.id = id
        self.transport = transport
        self.remoteAddress = remoteAddress
        self.request = request
        self.eventLoop = eventLoop
        self.service = service
        self.logger = logger
        self.allocator = ByteBufferAllocator()
        self.onRemove = onRemove
        self.machine = SockJSSessionStateMachine(
            configuration: .init(
                heartbeatInterval: options.heartbeatInterval,
                disconnectDelay: options.disconnectDelay,
                maxQueuedBytes: options.maxQueuedBytes
            ),
            now: eventLoop.now
        )
    }

    public var description: String { "SockJSSession(\(id), \(transport.rawValue))" }

    public static func == (lhs: SockJSSession, rhs: SockJSSession) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }

    // MARK: Application API

    /// Sends one message to the client. Dropped when the session is not open.
    public func send(_ text: String) {
        send(SockJSPreparedMessage(text))
    }

    /// Sends a prepared message (encoded once, shareable between sessions).
    public func send(_ message: SockJSPreparedMessage) {
        if eventLoop.inEventLoop {
            enqueue(message, flush: true)
        } else {
            eventLoop.execute { self.enqueue(message, flush: true) }
        }
    }

    /// Closes the session with a close frame (`c[code,"reason"]`); the client sees it and the
    /// application gets ``SockJSService/sessionClosed(_:reason:)``.
    public func close(code: Int = 3000, reason: String = "Go away!") {
        let frame = SockJSCloseFrame(code: code, reason: reason)
        if eventLoop.inEventLoop {
            closeOnLoop(frame, reason: .closedByServer(frame))
        } else {
            eventLoop.execute { self.closeOnLoop(frame, reason: .closedByServer(frame)) }
        }
    }

    // MARK: Loop-side entry points

    private func assertInLoop() {
        eventLoop.assertInEventLoop()
    }

    /// Queues or writes `message`. With `flush: false` the write is left unflushed and the result
    /// says whether the caller must arrange one ``flushPendingWrites()`` (true once per batch).
    @discardableResult
    func enqueue(_ message: SockJSPreparedMessage, flush: Bool) -> Bool {
        assertInLoop()
        switch machine.send(message, now: eventLoop.now) {
        case .writeNow(let end):
            guard let r = receiver else { return false }
            let bytes = message.frame(for: r.flavour, allocator: allocator)
            if end {
                receiver = nil
                r.end(after: bytes)
                rescheduleTimer()
                return false
            }
            r.write(bytes, flush: flush)
            if case .streaming = machine.receiver {
                run(machine.receiverWrote(bytes: bytes.readableBytes, now: eventLoop.now))
            }
            if flush || flushPending { return false }
            flushPending = true
            return true
        case .queued, .dropped:
            return false
        case .overflow(let actions):
            logger.warning(
                "SockJS session closed with 4002: its client did not read and its outbound queue passed the cap",
                metadata: ["session": "\(id)", "transport": "\(transport.rawValue)", "remote": "\(remoteAddress.map { "\($0)" } ?? "-")"]
            )
            run(actions, overflow: true)
            return false
        }
    }

    /// Flushes writes a broadcast left unflushed.
    func flushPendingWrites() {
        assertInLoop()
        guard flushPending else { return }
        flushPending = false
        receiver?.flush()
    }

    func closeOnLoop(_ frame: SockJSCloseFrame, reason: SockJSCloseReason) {
        assertInLoop()
        run(machine.close(frame, reason: reason, now: eventLoop.now))
    }

    /// Drops the session at once (server shutdown): no more close frames are served for it.
    func forget() {
        assertInLoop()
        guard !forgotten else { return }
        forgotten = true
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        onRemove(self)
    }

    /// A receiving connection asks for frames.
    func attach(_ newReceiver: any SockJSReceiver, kind: SockJSSessionStateMachine.ReceiverKind) {
        assertInLoop()
        let pings = newReceiver.flavour == .websocket || newReceiver.flavour == .rawWebSocket
        let actions = machine.attachReceiver(kind, now: eventLoop.now, checksLiveness: pings)
        if actions.first == .rejectReceiver {
            let bytes = newReceiver.flavour.wrap(.close(.anotherConnectionStillOpen), allocator: allocator)
            newReceiver.end(after: bytes)
            return
        }
        receiver = newReceiver
        run(actions)
        if machine.receiver == nil { receiver = nil }
    }

    /// The receiving connection went away (network error, client closed).
    func receiverLost(_ lost: any SockJSReceiver) {
        assertInLoop()
        guard receiver === lost else { return }
        receiver = nil
        run(machine.receiverLost(now: eventLoop.now))
    }

    /// The connection wrote the response of a poll this session ended: the disconnect delay
    /// restarts from now (see ``SockJSSessionStateMachine/pollAnswered(now:)``).
    func pollAnswered() {
        assertInLoop()
        machine.pollAnswered(now: eventLoop.now)
        rescheduleTimer()
    }

    /// The websocket under the session became writable or not.
    func receiverWritabilityChanged(_ writable: Bool) {
        assertInLoop()
        run(machine.receiverWritabilityChanged(writable))
    }

    /// The client broke the protocol on its websocket.
    func protocolError() {
        assertInLoop()
        receiver = nil
        run(machine.protocolError(now: eventLoop.now))
    }

    /// The client showed it is alive (any websocket frame, a pong included).
    func clientActivity() {
        assertInLoop()
        machine.clientActivity(now: eventLoop.now)
    }

    /// Messages from the client, in order.
    func deliver(_ messages: [String]) {
        assertInLoop()
        for m in messages {
            guard machine.acceptsMessages else { return }
            service.session(self, received: m)
        }
    }

    /// Messages and bytes waiting in the outbound queue for a receiver (for metrics).
    var outboundBacklog: (messages: Int, bytes: Int) {
        assertInLoop()
        return (machine.queue.count, machine.queuedBytes)
    }

    /// Whether the session still takes messages from the client.
    var isOpen: Bool {
        assertInLoop()
        return machine.acceptsMessages
    }

    // MARK: Executing actions

    private func run(_ actions: [SockJSSessionStateMachine.Action], overflow: Bool = false) {
        for action in actions {
            switch action {
            case .sendOpen(let end):
                write(.open, end: end)
            case .sendMessages(let messages, let end):
                write(.messages(messages), end: end)
            case .sendHeartbeat(let end):
                write(.heartbeat, end: end)
                if machine.checksLiveness { receiver?.ping() }
            case .sendClose(let frame):
                if overflow, let r = receiver {
                    // The client is not reading: don't wait behind its backlog; the close frame
                    // goes out if the socket takes it, and the connection is dropped.
                    receiver = nil
                    r.abort(after: r.flavour.wrap(.close(frame), allocator: allocator))
                } else {
                    write(.close(frame), end: true)
                }
            case .rejectReceiver:
                break
            case .endReceiver:
                let r = receiver
                receiver = nil
                r?.end(after: nil)
            case .dropReceiver:
                let r = receiver
                receiver = nil
                r?.abort(after: nil)
            case .notifyOpened:
                service.sessionOpened(self)
            case .notifyClosed(let reason):
                service.sessionClosed(self, reason: reason)
            case .remove:
                forget()
            }
        }
        rescheduleTimer()
    }

    private func write(_ frame: SockJSFrame, end: Bool) {
        guard let r = receiver else { return }
        let bytes = r.flavour.wrap(frame, allocator: allocator)
        if end {
            receiver = nil
            r.end(after: bytes)
            return
        }
        guard let bytes else { return }
        r.write(bytes, flush: true)
        if case .streaming = machine.receiver {
            run(machine.receiverWrote(bytes: bytes.readableBytes, now: eventLoop.now))
        }
    }

    private func rescheduleTimer() {
        let next = (machine.isRemoved || forgotten) ? nil : machine.nextDeadline
        guard next != timerDeadline else { return }
        timer?.cancel()
        timerDeadline = next
        guard let next else {
            timer = nil
            return
        }
        // A strong capture: a weak reference would give every session a side table and make each
        // retain (one per broadcast delivery) take the slow path. The cycle session → timer →
        // closure → session ends when the timer fires or is cancelled, and every session's life
        // ends in `forget()`, which cancels it.
        timer = eventLoop.scheduleTask(deadline: next) {
            self.timerDeadline = nil
            self.timer = nil
            self.run(self.machine.tick(now: self.eventLoop.now))
        }
    }
}

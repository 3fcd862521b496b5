import Chat
import ChatClient
import NIOCore

/// One simulated chat user of a load run, confined to its event loop: it joins with its nick
/// and room, sends public and private messages at the set rates when told to, acks the private
/// messages it gets, and records everything in its `ClientLedger`.
final class SimulatedUser {
    enum Phase: Equatable {
        case connecting
        case joined
        case finished
    }

    let index: Int
    let plan: LoadPlan
    let endpoint: SockJSEndpoint
    let transport: SockJSTransportKind
    let eventLoop: any EventLoop
    private let statistics: LoopStatistics
    private let counters: ProgressCounters
    private let padding: Int
    /// The ordinal of a public delivery to ignore (an injected fault), and the count so far.
    private let ignoredPublicDelivery: Int?
    private var publicDeliveries = 0
    private(set) var ledger: ClientLedger
    private(set) var phase = Phase.connecting
    private(set) var closeReason: String?
    private var connection: ChatConnection?
    private var connectStartedAt: UInt64 = 0
    private var pendingAcks: [String] = []
    private var ackFlushScheduled = false
    private var timers: [LoadTargetKind: Scheduled<Void>] = [:]
    private var sendUntil: UInt64 = 0
    private var joinAttempts = 0
    static let maxJoinAttempts = 20

    init(
        index: Int,
        plan: LoadPlan,
        endpoint: SockJSEndpoint,
        transport: SockJSTransportKind,
        eventLoop: any EventLoop,
        statistics: LoopStatistics,
        counters: ProgressCounters,
        padding: Int,
        ignoredPublicDelivery: Int? = nil
    ) {
        self.ignoredPublicDelivery = ignoredPublicDelivery
        self.index = index
        self.plan = plan
        self.endpoint = endpoint
        self.transport = transport
        self.eventLoop = eventLoop
        self.statistics = statistics
        self.counters = counters
        self.padding = padding
        self.ledger = ClientLedger(me: index, plan: plan)
    }

    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    var nick: String { plan.nick(index) }
    var roomName: String { plan.room(plan.roomOf[index]) }

    // MARK: Commands from the run

    /// Opens the session and joins (the join is queued until the session opens).
    func connect(handle: NIOLoopBound<SimulatedUser>) {
        connectStartedAt = Self.now()
        let connection = ChatConnection(endpoint: endpoint, transport: transport, eventLoop: eventLoop) { event in
            handle.value.handle(event)
        }
        self.connection = connection
        connection.join(nick: nick, rooms: [roomName])
    }

    /// Sends at the given rates (messages per second; 0 for none) until `until` (uptime ns).
    /// The first message of each kind comes after a random part of its interval, so clients
    /// do not all send in the same instant.
    func startSending(publicRate: Double, privateRate: Double, until: UInt64) {
        guard phase == .joined else { return }
        sendUntil = until
        if publicRate > 0 { schedule(.room, every: 1 / publicRate, first: true) }
        if privateRate > 0, plan.clientCount > 1 { schedule(.user, every: 1 / privateRate, first: true) }
    }

    /// Stops sending and closes the session; a close after this is not a violation.
    func finish() {
        for timer in timers.values { timer.cancel() }
        timers.removeAll()
        flushAcks()
        phase = .finished
        connection?.close()
        connection = nil
    }

    // MARK: Sending

    private func schedule(_ kind: LoadTargetKind, every seconds: Double, first: Bool) {
        let interval = Int64(seconds * 1_000_000_000)
        let delay = first ? Int64.random(in: 0...max(1, interval)) : interval
        timers[kind] = eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(delay)) { [weak self] in
            guard let self, self.phase == .joined, Self.now() < self.sendUntil else { return }
            switch kind {
            case .room: self.sendPublic()
            case .user: self.sendPrivate()
            }
            self.schedule(kind, every: seconds, first: false)
        }
    }

    private func sendPublic() {
        let room = plan.roomOf[index]
        let payload = ledger.willSend(to: .room(room), at: Self.now())
        connection?.say(id: String(payload.seq), text: payload.text(padding: padding), room: roomName)
        counters.add(.sent)
    }

    private func sendPrivate() {
        var addressee = Int.random(in: 0..<(plan.clientCount - 1))
        if addressee >= index { addressee += 1 }
        let payload = ledger.willSend(to: .user(addressee), at: Self.now())
        connection?.tell(id: String(payload.seq), to: plan.nick(addressee), text: payload.text(padding: padding))
        counters.add(.sent)
    }

    // MARK: Events

    private func handle(_ event: ChatClientEvent) {
        switch event {
        case .open:
            counters.add(.connected)
        case .frame(let frame):
            handle(frame)
        case .unreadable(let text, let reason):
            ledger.noteUnreadable(text: text, reason: reason)
        case .closed(let code, let reason):
            connection = nil
            switch phase {
            case .connecting:
                closeReason = reason
                counters.add(.failedToJoin)
                phase = .finished
            case .joined:
                closeReason = reason
                counters.add(.disconnected)
                ledger.noteDisconnected(code: code, reason: reason)
                phase = .finished
            case .finished:
                break
            }
        }
    }

    private func handle(_ frame: ServerFrame) {
        switch frame {
        case .welcome:
            guard phase == .connecting else { return }
            phase = .joined
            counters.add(.joined)
            statistics.recordConnect(nanoseconds: Self.now() &- connectStartedAt)
        case .message(let message):
            if message.room != nil {
                defer { publicDeliveries += 1 }
                if publicDeliveries == ignoredPublicDelivery { return }
            }
            let arrival = ledger.messageArrived(
                from: message.from,
                room: message.room,
                to: message.to,
                msgId: message.msgId,
                text: message.text
            )
            guard case .load(let sentAt, let privateMsgId) = arrival else { return }
            counters.add(.delivered)
            statistics.recordLatency(nanoseconds: Self.now() &- sentAt)
            if let privateMsgId {
                pendingAcks.append(privateMsgId)
                scheduleAckFlush()
            }
        case .sent(let sent):
            if let outgoing = ledger.confirmed(id: sent.id, msgId: sent.msgId) {
                counters.add(.confirmed)
                counters.add(.expectedDeliveries, plan.recipientCount(outgoing.target))
                if case .user = outgoing.target { counters.add(.expectedReceipts) }
            }
        case .delivered(let delivered):
            ledger.receiptArrived(msgId: delivered.msgId, to: delivered.to)
            counters.add(.receipts)
        case .error(let error) where phase == .connecting:
            // The join was refused. `unavailable` means the server's broker is not ready yet:
            // join again in a moment, as a real client would.
            closeReason = "\(error.code.rawValue): \(error.message)"
            if error.code == .unavailable, joinAttempts < Self.maxJoinAttempts {
                joinAttempts += 1
                eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(500)) { [weak self] in
                    guard let self, self.phase == .connecting else { return }
                    self.connection?.join(nick: self.nick, rooms: [self.roomName])
                }
            }
        case .error(let error):
            if ledger.refused(id: error.id, code: error.code.rawValue, message: error.message) {
                counters.add(.refused)
            }
        case .presence, .typing, .history, .entered, .left:
            counters.add(.otherFrames)
        }
    }

    /// Acks go out once per loop turn, however many private messages arrived in it.
    private func scheduleAckFlush() {
        guard !ackFlushScheduled else { return }
        ackFlushScheduled = true
        eventLoop.assumeIsolated().execute { [weak self] in self?.flushAcks() }
    }

    private func flushAcks() {
        ackFlushScheduled = false
        guard !pendingAcks.isEmpty else { return }
        connection?.ack(pendingAcks)
        pendingAcks.removeAll(keepingCapacity: true)
    }
}

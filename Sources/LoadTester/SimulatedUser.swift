import ChatClient
import ChatProtocol
import NIOCore

/// One simulated chat user of a load run, confined to its event loop: it joins with its nick
/// and room, sends public and private messages at the set rates when told to, acks the private
/// messages and `delivered` receipts it gets, and records everything in its `ClientLedger`.
final class SimulatedUser {
    enum Phase: Equatable {
        case connecting
        case joined
        /// Fault-tolerant runs: the session closed mid-run; reconnecting and rejoining.
        case reconnecting
        /// `--resume-drops`: rejoined; the resume's frames and pages are still coming (new
        /// messages wait, unconfirmed ones are resent when it ends).
        case resuming
        /// `--rejoin-away`: closed on purpose after joining; rejoins by its device session.
        case rejoining
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
    /// Set in fault-tolerant runs (`--faults`): reconnect, rejoin with the token, resend, catch up.
    private let recovery: FaultRecovery?
    private var handle: NIOLoopBound<SimulatedUser>?
    private var token: String?
    /// This user's device session token (from its first welcome).
    private var session: String?
    private var reconnectAttempt = 0
    private var reconnectTimer: Scheduled<Void>?
    /// The newest `seq` seen in this client's room, and the one it had when its session closed
    /// (history after a rejoin is paged back until it reaches that).
    private var newestRoomSeq: Int64?
    private var catchUpFloor: Int64?
    /// Clients of this run this client sees online (from the welcome's roster and `presence`).
    private var onlineView: Set<Int> = []
    /// Messages refused as not accepted (`unavailable`, `rate_limited`), oldest first, to resend.
    private var retryQueue: [Int] = []
    private var retryScheduled = false
    private var joinAttempts = 0
    /// Repeated on every tokenless join of this user, so a retry gets the nick even when the
    /// attempt answered `unavailable` did claim it.
    private let joinNonce = JoinRequest.makeNonce()
    static let maxJoinAttempts = 20
    /// `--resume-drops` runs: the room's position and the resume in progress.
    private var roomResume: RoomResume?
    /// The node this client's session is on, the one it dropped from, and whether its last
    /// join named a position.
    private var currentEndpoint: SockJSEndpoint
    private var droppedFrom: SockJSEndpoint?
    private var resumeNamed = false
    /// Counts connections: events of a connection this client dropped are ignored.
    private var generation = 0
    /// `--rejoin-away`: this client's rejoin as the run measures it (see `LoadTester+Rejoin.swift`).
    private(set) var rejoin = RejoinFigures()
    /// The device id of the first welcome, to tell whether a rejoin reused it.
    private var firstDevice: String?

    init(
        index: Int,
        plan: LoadPlan,
        endpoint: SockJSEndpoint,
        transport: SockJSTransportKind,
        eventLoop: any EventLoop,
        statistics: LoopStatistics,
        counters: ProgressCounters,
        padding: Int,
        ignoredPublicDelivery: Int? = nil,
        recovery: FaultRecovery? = nil,
        resumes: Bool = false
    ) {
        self.recovery = recovery
        self.currentEndpoint = endpoint
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
        self.ledger.toleratesFaults = recovery != nil && !resumes
        self.ledger.resumes = resumes
        if resumes { roomResume = RoomResume(room: plan.room(plan.roomOf[index])) }
    }

    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    var nick: String { plan.nick(index) }
    var roomName: String { plan.room(plan.roomOf[index]) }

    // MARK: Commands from the run

    /// Opens the session and joins (the join is queued until the session opens).
    func connect(handle: NIOLoopBound<SimulatedUser>) {
        connectStartedAt = Self.now()
        self.handle = handle
        open(endpoint: endpoint)
    }

    private func open(endpoint: SockJSEndpoint) {
        guard let handle else { return }
        generation += 1
        let generation = self.generation
        currentEndpoint = endpoint
        let connection = ChatConnection(endpoint: endpoint, transport: transport, eventLoop: eventLoop) { event in
            handle.value.handle(event, generation: generation)
        }
        self.connection = connection
        let resume = token == nil ? nil : roomResume?.resumeRequest
        resumeNamed = resume?.isEmpty == false
        // A device's session token, once a welcome gave one: a rejoin by it makes no new device.
        connection.join(nick: nick, token: session == nil ? token : nil, rooms: [roomName], nonce: joinNonce, resume: resume, session: session)
    }

    /// Sends at the given rates (messages per second; 0 for none) until `until` (uptime ns).
    /// The first message of each kind comes after a random part of its interval, so clients
    /// do not all send in the same instant.
    /// `drop`: `--resume-drops` clients drop their connection `after` seconds, for `away` seconds.
    func startSending(publicRate: Double, privateRate: Double, until: UInt64, drop: (after: Double, away: Double)? = nil) {
        guard phase == .joined else { return }
        sendUntil = until
        if publicRate > 0 { schedule(.room, every: 1 / publicRate, first: true) }
        if privateRate > 0, plan.clientCount > 1 { schedule(.user, every: 1 / privateRate, first: true) }
        if let drop {
            eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(drop.after * 1_000_000_000))) { [weak self] in
                self?.drop(away: drop.away)
            }
        }
    }

    /// `--rejoin-away`: closes this client's session on purpose; events of that connection are
    /// ignored from now on, so its close is not a violation.
    func leaveForRejoin() {
        guard phase == .joined else { return }
        phase = .rejoining
        generation += 1
        connection?.close()
        connection = nil
    }

    /// `--rejoin-away`: joins again on the same node by the device session (the HMAC token when
    /// the server gave no session), timed from here to the welcome.
    func rejoinNow() {
        guard phase == .rejoining else { return }
        connectStartedAt = Self.now()
        if session != nil { rejoin.bySession += 1 } else if token != nil { rejoin.byToken += 1 }
        open(endpoint: currentEndpoint)
    }

    /// Stops sending and closes the session; a close after this is not a violation.
    func finish() {
        for timer in timers.values { timer.cancel() }
        timers.removeAll()
        reconnectTimer?.cancel()
        reconnectTimer = nil
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
            guard let self, self.phase == .joined || self.phase == .reconnecting || self.phase == .resuming, Self.now() < self.sendUntil else {
                return
            }
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
        counters.add(.sent)
        // While reconnecting it stays pending and goes out after the rejoin.
        guard phase == .joined else { return }
        guard !queuedBehindRetries(payload.seq) else { return }
        connection?.say(id: String(payload.seq), text: payload.text(padding: padding), room: roomName)
    }

    private func sendPrivate() {
        var addressee = Int.random(in: 0..<(plan.clientCount - 1))
        if addressee >= index { addressee += 1 }
        let payload = ledger.willSend(to: .user(addressee), at: Self.now())
        counters.add(.sent)
        guard phase == .joined else { return }
        guard !queuedBehindRetries(payload.seq) else { return }
        connection?.tell(id: String(payload.seq), to: plan.nick(addressee), text: payload.text(padding: padding))
    }

    /// A new message waits behind messages still to be resent, so it never overtakes them
    /// (Specs/chat-protocol.md: refused messages are resent oldest first, before newer ones).
    private func queuedBehindRetries(_ seq: Int) -> Bool {
        guard !retryQueue.isEmpty else { return false }
        enqueueRetry([seq])
        return true
    }

    // MARK: Events

    private func handle(_ event: ChatClientEvent, generation: Int) {
        guard generation == self.generation else { return }
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
            case .rejoining:
                closeReason = reason
                rejoin.failed += 1
                counters.add(.failedToRejoin)
                phase = .finished
            case .joined where recovery != nil, .resuming:
                counters.add(.disconnected)
                ledger.tolerated.disconnects += 1
                catchUpFloor = newestRoomSeq
                phase = .reconnecting
                scheduleReconnect()
            case .reconnecting:
                scheduleReconnect()
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
        case .welcome(let welcome):
            token = welcome.token
            session = welcome.session ?? session
            notePresence(welcome.users.map { ($0.nick, $0.online) })
            onlineView.insert(index)
            if phase == .reconnecting {
                if roomResume != nil {
                    resumed(welcome)
                } else {
                    rejoined(history: welcome.history[roomName] ?? [])
                }
                return
            }
            if phase == .rejoining {
                phase = .joined
                rejoin.rejoined += 1
                if firstDevice != nil, welcome.device != firstDevice { rejoin.newDevice += 1 }
                counters.add(.rejoined)
                statistics.recordRejoin(nanoseconds: Self.now() &- connectStartedAt)
                return
            }
            guard phase == .connecting else { return }
            phase = .joined
            firstDevice = welcome.device
            counters.add(.joined)
            statistics.recordConnect(nanoseconds: Self.now() &- connectStartedAt)
        case .message(let message):
            if message.room != nil {
                defer { publicDeliveries += 1 }
                if publicDeliveries == ignoredPublicDelivery { return }
            }
            if message.room == roomName, let outcome = roomResume?.received(frame) {
                apply(outcome)
            } else {
                deliver(message, live: true)
            }
        case .sent(let sent):
            let receiptsBefore = ledger.receipts
            if let outgoing = ledger.confirmed(id: sent.id, msgId: sent.msgId) {
                counters.add(.confirmed)
                counters.add(.expectedDeliveries, plan.recipientCount(outgoing.target))
                if case .user = outgoing.target { counters.add(.expectedReceipts) }
            }
            // A receipt that came before this `sent` (of a retry) counts now.
            if ledger.receipts > receiptsBefore { counters.add(.receipts, ledger.receipts - receiptsBefore) }
        case .delivered(let delivered):
            // The run is drained once every message was reported delivered: a second receipt of
            // one message (it came twice, so it was acked twice) is not another one.
            if ledger.receiptArrived(msgId: delivered.msgId, to: delivered.to) { counters.add(.receipts) }
            // Receipts are acked like private messages, or they come again on the next join.
            pendingAcks.append(delivered.msgId)
            scheduleAckFlush()
        case .error(let error) where phase == .rejoining:
            // A refused rejoin fails the run's rejoin step, with the server's words.
            closeReason = "\(error.code.rawValue): \(error.message)"
            rejoin.failed += 1
            counters.add(.failedToRejoin)
            phase = .finished
            generation += 1
            connection?.close()
            connection = nil
        case .error(let error) where phase == .reconnecting:
            // The rejoin was refused (e.g. `unavailable` while the broker is away): try again.
            _ = error
            connection?.close()
        case .error(let error) where phase == .connecting:
            // The join was refused. `unavailable` means the server's broker is not ready yet:
            // join again in a moment, as a real client would.
            closeReason = "\(error.code.rawValue): \(error.message)"
            if error.code == .unavailable, joinAttempts < Self.maxJoinAttempts {
                joinAttempts += 1
                eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(500)) { [weak self] in
                    guard let self, self.phase == .connecting else { return }
                    self.connection?.join(nick: self.nick, rooms: [self.roomName], nonce: self.joinNonce)
                }
            }
        case .error(let error) where recovery != nil && (error.code == .unavailable || error.code == .rateLimited):
            guard let id = error.id else {
                ledger.tolerated.unavailableWithoutId += 1
                return
            }
            if ledger.refused(id: id, code: error.code.rawValue, message: error.message), let seq = Int(id) {
                enqueueRetry([seq])
            }
        case .error(let error):
            if ledger.refused(id: error.id, code: error.code.rawValue, message: error.message) {
                counters.add(.refused)
            }
        case .presence(let presence):
            notePresence(presence.online.map { ($0, true) } + presence.offline.map { ($0, false) })
            counters.add(.otherFrames)
        case .history(let history) where roomResume != nil && history.room == roomName && history.after != nil:
            if let outcome = roomResume?.received(frame) { apply(outcome) }
        case .gap(let gap) where roomResume != nil && gap.room == roomName:
            if let outcome = roomResume?.received(frame) { apply(outcome) }
        case .history(let history) where recovery != nil && history.room == roomName:
            recovered(history.messages)
        case .typing, .history, .entered, .left, .users, .gap, .passwordSet, .devices, .signedOut, .read, .settings:
            counters.add(.otherFrames)
        }
    }

    /// Records a message delivered live or recovered from history: checks it against the plan,
    /// records the latency of live first arrivals, queues the ack of private ones.
    private func deliver(_ message: ChatMessage, live: Bool) {
        if message.room == roomName, let seq = message.seq { newestRoomSeq = max(newestRoomSeq ?? seq, seq) }
        let duplicatesBefore = ledger.tolerated.duplicatesDropped
        let ownCopiesBefore = ledger.resume.confirmedByOwnCopy
        defer {
            if ledger.resume.confirmedByOwnCopy > ownCopiesBefore {
                counters.add(.confirmed)
                counters.add(.expectedDeliveries, plan.recipientCount(.room(plan.roomOf[index])))
            }
        }
        let arrival = ledger.messageArrived(
            from: message.from,
            room: message.room,
            to: message.to,
            msgId: message.msgId,
            text: message.text
        )
        guard case .load(let sentAt, let privateMsgId) = arrival else { return }
        if ledger.tolerated.duplicatesDropped == duplicatesBefore {
            counters.add(.delivered)
            if live { statistics.recordLatency(nanoseconds: Self.now() &- sentAt) } else { ledger.tolerated.recoveredFromHistory += 1 }
        }
        if let privateMsgId {
            pendingAcks.append(privateMsgId)
            scheduleAckFlush()
        }
    }

    // MARK: Fault recovery (fault-tolerant runs only)

    /// Whether this client sees every client of the run online.
    var presenceConverged: Bool { onlineView.count == plan.clientCount }

    private func notePresence(_ entries: [(nick: String, online: Bool)]) {
        // Only fault-tolerant runs check presence; tracking it costs every client O(clients).
        guard recovery != nil, roomResume == nil else { return }
        for entry in entries {
            guard let client = plan.naming.clientIndex(ofNick: entry.nick), client < plan.clientCount else { continue }
            if entry.online { onlineView.insert(client) } else { onlineView.remove(client) }
        }
    }

    private func scheduleReconnect() {
        guard let recovery, phase == .reconnecting else { return }
        connection = nil
        let attempt = reconnectAttempt
        reconnectAttempt += 1
        let delay = Int64(recovery.reconnectDelay(attempt: attempt) * 1_000_000_000)
        reconnectTimer = eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(delay)) { [weak self] in
            guard let self, self.phase == .reconnecting else { return }
            self.open(endpoint: recovery.endpoint(for: self.index, attempt: attempt))
        }
    }

    /// Rejoined: take the room's messages missed meanwhile from the welcome's history (and
    /// older pages until the gap is covered), then send again, with the same ids, every message
    /// not yet confirmed.
    private func rejoined(history: [ChatMessage]) {
        phase = .joined
        reconnectAttempt = 0
        ledger.tolerated.reconnects += 1
        recovered(history)
        enqueueRetry(ledger.outgoing.indices.filter { ledger.outgoing[$0].state == .pending })
    }

    /// Public messages from a welcome or a `history` page; asks for the page before them while
    /// the oldest is still newer than what this client had when its session closed.
    private func recovered(_ messages: [ChatMessage]) {
        for message in messages where LoadPayload(parsing: message.text)?.run == plan.naming.run {
            deliver(message, live: false)
        }
        guard let recovery, let floor = catchUpFloor else { return }
        if messages.count >= recovery.historyPage, let oldest = messages.first?.seq, oldest > floor {
            connection?.history(room: roomName, before: oldest, limit: recovery.historyPage)
        } else {
            catchUpFloor = nil
        }
    }

    /// Queues messages to send again; a round every `retryDelay` resends the oldest
    /// `retryBatch` still pending, so retries never trip the rate limit.
    private func enqueueRetry(_ seqs: [Int]) {
        guard let recovery else { return }
        retryQueue.append(contentsOf: seqs)
        retryQueue.sort()
        guard !retryScheduled, !retryQueue.isEmpty else { return }
        retryScheduled = true
        let delay = Int64(recovery.retryDelay * Double.random(in: 0.5...1.5) * 1000)
        eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(delay)) { [weak self] in
            guard let self else { return }
            self.retryScheduled = false
            guard self.phase == .joined || self.phase == .reconnecting || self.phase == .resuming else { return }
            // While a resume runs, resends wait for its end (a message may prove taken by its copy).
            if self.phase == .resuming {
                self.enqueueRetry([])
                return
            }
            // While reconnecting, the rejoin resends everything pending anyway.
            guard self.phase == .joined else {
                self.retryQueue.removeAll()
                return
            }
            var sent = 0
            var seen = Set<Int>()
            while sent < recovery.retryBatch, !self.retryQueue.isEmpty {
                let seq = self.retryQueue.removeFirst()
                guard seen.insert(seq).inserted, self.ledger.outgoing[seq].state == .pending else { continue }
                self.resend(seq: seq)
                sent += 1
            }
            self.enqueueRetry([])
        }
    }

    /// Sends message `seq` again with the same `id` and text: the server answers with the same `msgId`.
    private func resend(seq: Int) {
        let outgoing = ledger.outgoing[seq]
        let payload = LoadPayload(run: plan.naming.run, sender: index, seq: seq, sentAt: outgoing.sentAt, target: outgoing.target)
        ledger.tolerated.resent += 1
        switch outgoing.target {
        case .room:
            connection?.say(id: String(seq), text: payload.text(padding: padding), room: roomName)
        case .user(let addressee):
            connection?.tell(id: String(seq), to: plan.nick(addressee), text: payload.text(padding: padding))
        }
    }

    // MARK: Drops and resumes (`--resume-drops` runs only)

    /// Closes the connection as a lost network would, stays away `away` seconds, then rejoins
    /// on the next node, naming the room's position. Waits for a position (the first message
    /// of the room) so that the rejoin resumes.
    private func drop(away: Double) {
        guard phase == .joined, let recovery, let roomResume else { return }
        guard !roomResume.resumeRequest.isEmpty else {
            guard Self.now() < sendUntil else { return }
            eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(250)) { [weak self] in self?.drop(away: away) }
            return
        }
        ledger.resume.drops += 1
        counters.add(.disconnected)
        phase = .reconnecting
        droppedFrom = currentEndpoint
        pendingAcks.removeAll()
        let dropped = connection
        connection = nil
        generation += 1
        dropped?.close()
        let here = recovery.endpoints.firstIndex(of: currentEndpoint) ?? 0
        let next = recovery.endpoints[(here + 1) % recovery.endpoints.count]
        reconnectTimer = eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(away * 1_000_000_000))) { [weak self] in
            guard let self, self.phase == .reconnecting else { return }
            self.open(endpoint: next)
        }
    }

    /// Rejoined after a drop: the resume's frames follow the welcome.
    private func resumed(_ welcome: Welcome) {
        phase = .resuming
        reconnectAttempt = 0
        ledger.tolerated.reconnects += 1
        if resumeNamed { ledger.resume.resumes += 1 }
        if let droppedFrom, droppedFrom != currentEndpoint { ledger.resume.toOtherNode += 1 }
        droppedFrom = nil
        if let outcome = roomResume?.rejoined(welcome, resumed: resumeNamed) { apply(outcome) }
    }

    /// Records what a resume frame (or a live message) brought, asks the next page, and once
    /// the resume is over sends again every message not yet confirmed, oldest first.
    private func apply(_ outcome: RoomResume.Outcome) {
        for repeated in outcome.repeats {
            ledger.repeatDropped(from: repeated.message.from, text: repeated.message.text, seq: repeated.message.seq, allowed: repeated.allowed)
        }
        if let gap = outcome.gap { ledger.gapArrived(room: gap.room, after: gap.after, next: gap.next) }
        for delivery in outcome.deliveries {
            if delivery.recovered { ledger.resume.recovered += 1 }
            deliver(delivery.message, live: !delivery.recovered)
        }
        if let after = outcome.pageAfter, let recovery {
            ledger.resume.pages += 1
            connection?.history(room: roomName, after: after, limit: recovery.historyPage)
        }
        if outcome.finished, phase == .resuming {
            phase = .joined
            enqueueRetry(ledger.outgoing.indices.filter { ledger.outgoing[$0].state == .pending })
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
        // Not joined (reconnecting): the messages come again after the rejoin and are acked then.
        guard phase == .joined || phase == .resuming || phase == .finished else {
            pendingAcks.removeAll(keepingCapacity: true)
            return
        }
        connection?.ack(pendingAcks)
        pendingAcks.removeAll(keepingCapacity: true)
    }
}

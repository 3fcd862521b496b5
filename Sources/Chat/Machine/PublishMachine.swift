/// The node's `say`/`tell` publishes in flight, as a value that decides and an executor that
/// acts (the shape of postgres-nio's `PoolStateMachine`: events in, actions out, timers as
/// values).
///
/// It owns what was spread over the actor: the dedup windows of recent client ids, every
/// publish awaiting its confirm (and, for a `say`, its read-back from the history stream),
/// the retries waiting for an attempt in flight, the `delivered` receipts that overtook their
/// message's confirm, each publish's deadline, and the public messages held back for a sender
/// until its `sent` went out. `ChatNodeExecutor` feeds it events (submitted, confirmed, failed,
/// read back, timer fired, stop, session ended) and carries out the ``Action``s it returns,
/// in order: publish, start or cancel a timer, send a frame, release held messages, replace
/// the publish channel, resume the session that waits.
///
/// No clock is read here: every event that needs the time carries it (`now`), so tests move
/// time by hand (Specs/chat-protocol.md, "Delivery guarantees": the machine's tests).
///
/// Generic over the instant (the node uses `ContinuousClock.Instant`), the publish request and
/// the held receipt, so the machine knows nothing of the broker.
struct PublishMachine<Instant: InstantProtocol, Request: Sendable, Receipt: Sendable>: Sendable where Instant.Duration == Duration {
    struct Limits: Sendable, Hashable {
        /// How long a publish may wait for its confirm and, for a `say`, its read-back.
        var publishTimeout: Duration
        var dedupCapacity: Int
        var dedupWindowMilliseconds: Int64
        /// Public messages held for one sender while its `say` awaits `sent`.
        var heldPublicPerSession: Int
        /// How long a graceful stop waits for the publishes in flight before it goes on.
        var stopGrace: Duration = .seconds(2)
    }

    /// One publish attempt.
    typealias Ticket = UInt64

    /// A publish's deadline: the executor fires ``timerFired(_:)`` with its ticket once
    /// `deadline` has passed, unless an action cancelled it first.
    struct Timer: Sendable, Hashable {
        var ticket: Ticket
        var deadline: Instant
    }

    enum Kind: Sendable, Hashable {
        /// Public: `sent` after the confirm and the read-back from the history stream.
        case say
        /// Private: `sent` after the confirm (the broker stored it in the addressee's queue).
        case tell
    }

    /// A `say` or `tell` that a session runs.
    struct Submission: Sendable {
        var session: UInt64
        /// Its number in the session's arrival order (``SendOrderHold``).
        var admission: UInt64
        /// What the executor resumes once the session's frame is answered.
        var token: UInt64
        var nick: String
        var clientId: String
        var msgId: String
        /// The message's `ts` (milliseconds since the epoch), also the dedup window's time.
        var ts: Int64
        var kind: Kind
        var request: Request
    }

    /// Why the broker did not take a publish, as the executor found out.
    enum Failure: Sendable, Hashable {
        /// A `tell` to a nick that has no queue.
        case unroutable(to: String)
        /// A `tell` refused by the addressee's inbox cap.
        case inboxFull(nick: String)
        /// Nacked, the channel or the connection closed: retry later.
        case unavailable
    }

    enum Timeout: Sendable, Hashable {
        /// The broker did not confirm in time.
        case confirm
        /// Confirmed, but the record did not come back through the history stream in time.
        case readBack
    }

    enum Action: Sendable {
        case publish(Ticket, Request)
        case startTimer(Timer)
        case cancelTimer(Ticket)
        /// Close the channel this publish went on: it fails every publish still waiting on it,
        /// and the next publish opens a fresh one.
        case replaceChannel(Ticket)
        case send(ServerFrame, session: UInt64)
        /// Tell the session's ``SendOrderHold`` that its frame was not accepted.
        case refusedWhenRun(session: UInt64, id: String, admission: UInt64)
        /// Public message frames held for a session, in the order they came.
        case sendHeld([String], session: UInt64)
        /// Receipts that overtook their message's confirm, now after its `sent` (or error).
        case deliverReceipts([Receipt])
        case timedOut(Timeout, msgId: String)
        case confirmed(after: Duration)
        case inboxFull
        /// The session's frame is answered: its next frame may run.
        case resume(token: UInt64)
        /// A graceful stop began and no publish is in flight any more, or its grace is over:
        /// the stop may go on.
        case drained
        /// A graceful stop waits for publishes in flight until `deadline` at most: the executor
        /// calls ``stopGraceEnded()`` then, unless ``Action/cancelStopTimer`` came first.
        case startStopTimer(deadline: Instant)
        case cancelStopTimer
    }

    struct Waiter: Sendable, Hashable {
        var session: UInt64
        var admission: UInt64
        var token: UInt64
    }

    /// One publish in flight: its waiters are the submitting session and any retry of the same
    /// id that came meanwhile (on another session of the nick).
    struct Attempt: Sendable {
        var nick: String
        var clientId: String
        var msgId: String
        var ts: Int64
        var kind: Kind
        var started: Instant
        var waiters: [Waiter]
        var confirmed = false
        var readBack = false
        /// At most the receipts of one message: one per session that acked it.
        var receipts: [Receipt] = []
    }

    /// Public messages held back from one session until its own `say` is answered.
    struct Hold: Sendable, Hashable {
        var tickets: Set<Ticket>
        var frames: [String] = []
    }

    let limits: Limits
    private(set) var attempts: [Ticket: Attempt] = [:]
    private var ticketOfMsgId: [String: Ticket] = [:]
    private var dedup: [String: DedupWindow] = [:]
    private(set) var holds: [UInt64: Hold] = [:]
    /// A graceful stop began: the history stream is no longer read, so a confirm alone says `sent`.
    private(set) var stopping = false
    private var nextTicket: Ticket = 1

    init(limits: Limits) {
        self.limits = limits
    }

    /// Publishes awaiting their answer (for `/metrics` and the graceful stop).
    var inFlight: Int { attempts.count }

    /// Whether any session has public messages held back.
    var isHoldingAny: Bool { !holds.isEmpty }

    func isHolding(_ session: UInt64) -> Bool { holds[session] != nil }

    // MARK: Events

    /// A session runs a `say` or `tell`. A retry of an id inside the dedup window is answered
    /// from it, or joins the attempt in flight; a new id is published with a deadline. A `say`
    /// holds the session's public messages until it is answered, so the sender's own copy
    /// comes after its `sent`.
    mutating func submit(_ submission: Submission, now: Instant) -> [Action] {
        let waiter = Waiter(session: submission.session, admission: submission.admission, token: submission.token)
        var window =
            dedup.removeValue(forKey: submission.nick)
            ?? DedupWindow(capacity: limits.dedupCapacity, windowMilliseconds: limits.dedupWindowMilliseconds)
        let earlier = window.lookup(submission.clientId, now: submission.ts)
        if earlier == nil {
            window.insert(submission.clientId, DedupWindow.Entry(ts: submission.ts, confirmed: false), now: submission.ts)
        }
        dedup[submission.nick] = window
        if let earlier {
            if earlier.confirmed {
                return [
                    .send(.sent(Sent(id: submission.clientId, msgId: submission.msgId, ts: earlier.ts)), session: submission.session),
                    .resume(token: submission.token),
                ]
            }
            if let ticket = ticketOfMsgId[submission.msgId] {
                attempts[ticket]?.waiters.append(waiter)
                if let attempt = attempts[ticket], attempt.kind == .say, !attempt.readBack {
                    startHold(submission.session, ticket: ticket)
                }
                return []
            }
            // Unconfirmed but nothing in flight cannot happen (a failure forgets the id);
            // publishing again is the safe answer.
        }
        let ticket = nextTicket
        nextTicket += 1
        attempts[ticket] = Attempt(
            nick: submission.nick, clientId: submission.clientId, msgId: submission.msgId, ts: submission.ts,
            kind: submission.kind, started: now, waiters: [waiter])
        ticketOfMsgId[submission.msgId] = ticket
        if submission.kind == .say { startHold(submission.session, ticket: ticket) }
        return [
            .startTimer(Timer(ticket: ticket, deadline: now.advanced(by: limits.publishTimeout))),
            .publish(ticket, submission.request),
        ]
    }

    /// The broker confirmed the publish.
    mutating func confirmed(_ ticket: Ticket, now: Instant) -> [Action] {
        guard var attempt = attempts[ticket] else { return [] }
        attempt.confirmed = true
        attempts[ticket] = attempt
        guard attempt.kind == .tell || attempt.readBack || stopping else { return [] }
        return complete(ticket, failure: nil, now: now, timerFired: false)
    }

    /// The broker refused the publish, or its channel or connection closed.
    mutating func failed(_ ticket: Ticket, _ failure: Failure, now: Instant) -> [Action] {
        guard attempts[ticket] != nil else { return [] }
        return complete(ticket, failure: failure, now: now, timerFired: false)
    }

    /// The node read the record of public message `msgId` from the history stream (it may come
    /// before the confirm).
    mutating func readBack(_ msgId: String, now: Instant) -> [Action] {
        guard let ticket = ticketOfMsgId[msgId], var attempt = attempts[ticket], attempt.kind == .say else { return [] }
        attempt.readBack = true
        attempts[ticket] = attempt
        guard attempt.confirmed else { return [] }
        return complete(ticket, failure: nil, now: now, timerFired: false)
    }

    /// A publish's deadline passed: it is answered `unavailable` and its channel replaced.
    mutating func timerFired(_ ticket: Ticket, now: Instant) -> [Action] {
        guard let attempt = attempts[ticket] else { return [] }
        let kind: Timeout = attempt.confirmed ? .readBack : .confirm
        return [.timedOut(kind, msgId: attempt.msgId), .replaceChannel(ticket)]
            + complete(ticket, failure: .unavailable, now: now, timerFired: true)
    }

    /// A graceful stop began: a confirmed `say` is `sent` without its read-back, and so is
    /// every one confirmed from now on.
    /// Says ``Action/drained`` once nothing is in flight (at once when nothing is), or when
    /// ``Limits/stopGrace`` has passed (``stopGraceEnded()``), whichever comes first.
    mutating func stop(now: Instant) -> [Action] {
        stopping = true
        var actions: [Action] = []
        for ticket in attempts.keys.sorted() where attempts[ticket]?.confirmed == true {
            actions += complete(ticket, failure: nil, now: now, timerFired: false)
        }
        if attempts.isEmpty {
            if !actions.contains(where: { if case .drained = $0 { true } else { false } }) { actions.append(.drained) }
        } else {
            actions.append(.startStopTimer(deadline: now.advanced(by: limits.stopGrace)))
        }
        return actions
    }

    /// The stop's grace is over with publishes still in flight: the stop goes on without them
    /// (closing the connection fails them, and their senders resend).
    mutating func stopGraceEnded() -> [Action] {
        guard stopping, !attempts.isEmpty else { return [] }
        return [.drained]
    }

    /// A session ended: what was held for it is dropped.
    mutating func sessionEnded(_ session: UInt64) {
        holds.removeValue(forKey: session)
    }

    /// Whether the publish of message `msgId` is in flight (a receipt for it would be held).
    func isInFlight(_ msgId: String) -> Bool {
        guard let ticket = ticketOfMsgId[msgId] else { return false }
        return attempts[ticket] != nil
    }

    /// A `delivered` receipt for `msgId`: held (true) while that message's publish is in
    /// flight, so the sender sees `sent` before `delivered`.
    mutating func holdReceipt(_ receipt: Receipt, msgId: String) -> Bool {
        guard let ticket = ticketOfMsgId[msgId], attempts[ticket] != nil else { return false }
        attempts[ticket]?.receipts.append(receipt)
        return true
    }

    /// Public message frames for a session that ``isHolding(_:)``: kept, in order, until its
    /// `say` is answered. Past ``Limits/heldPublicPerSession`` the hold ends at once: everything
    /// held goes out now (the sender's own copy may then come before its `sent`).
    mutating func holdPublic(_ frames: [String], for session: UInt64) -> [Action] {
        guard var hold = holds[session] else { return [.sendHeld(frames, session: session)] }
        if hold.frames.count + frames.count > limits.heldPublicPerSession {
            holds.removeValue(forKey: session)
            return [.sendHeld(hold.frames + frames, session: session)]
        }
        hold.frames += frames
        holds[session] = hold
        return []
    }

    /// One room's frames of a history batch (``HistoryMachine/Action/send(room:frames:)``) for
    /// the room's local `members`, in the order they entered: nil when no session holds
    /// anything (every member gets them now); else the members that get them now (`open`, in
    /// order), and the actions for the ones whose own `say` awaits its `sent` (``holdPublic(_:for:)``),
    /// carried out before the frames go to `open`.
    mutating func fanOut<Outlet>(_ frames: [String], to members: some Sequence<(key: UInt64, value: Outlet)>) -> (open: [Outlet], actions: [Action])? {
        guard isHoldingAny else { return nil }
        var open: [Outlet] = []
        var actions: [Action] = []
        for (session, outlet) in members {
            if isHolding(session) {
                actions += holdPublic(frames, for: session)
            } else {
                open.append(outlet)
            }
        }
        return (open, actions)
    }

    /// Forgets the dedup windows of senders idle for longer than the window (every presence tick).
    mutating func forgetIdleSenders(now milliseconds: Int64) {
        let horizon = milliseconds - limits.dedupWindowMilliseconds
        dedup = dedup.filter { ($0.value.newestTimestamp ?? .min) >= horizon }
    }

    /// How many senders have a dedup window (for tests).
    var dedupSenders: Int { dedup.count }

    // MARK: Answers

    private mutating func startHold(_ session: UInt64, ticket: Ticket) {
        holds[session, default: Hold(tickets: [])].tickets.insert(ticket)
    }

    /// Answers every waiter of an attempt: `sent`, or the error its failure calls for; then
    /// releases what was held for them and the receipts that waited.
    private mutating func complete(_ ticket: Ticket, failure: Failure?, now: Instant, timerFired: Bool) -> [Action] {
        guard let attempt = attempts.removeValue(forKey: ticket) else { return [] }
        ticketOfMsgId.removeValue(forKey: attempt.msgId)
        var actions: [Action] = timerFired ? [] : [.cancelTimer(ticket)]
        let frame: ServerFrame
        switch failure {
        case nil:
            dedup[attempt.nick]?.confirm(attempt.clientId)
            actions.append(.confirmed(after: attempt.started.duration(to: now)))
            frame = .sent(Sent(id: attempt.clientId, msgId: attempt.msgId, ts: attempt.ts))
        case .unroutable(let to)?:
            dedup[attempt.nick]?.remove(attempt.clientId)
            frame = ChatProtocolError(.unknownUser, "Nobody has the nick \(to): check the name.", id: attempt.clientId).frame
        case .inboxFull(let nick)?:
            // Final for this attempt, and it holds back nothing (the inbox may stay full for long).
            dedup[attempt.nick]?.remove(attempt.clientId)
            actions.append(.inboxFull)
            frame = ChatNodeExecutor.inboxFull(nick, id: attempt.clientId)
        case .unavailable?:
            dedup[attempt.nick]?.remove(attempt.clientId)
            frame = ChatNodeExecutor.unavailable(id: attempt.clientId)
            for waiter in attempt.waiters {
                actions.append(.refusedWhenRun(session: waiter.session, id: attempt.clientId, admission: waiter.admission))
            }
        }
        for waiter in attempt.waiters {
            actions.append(.send(frame, session: waiter.session))
        }
        for waiter in attempt.waiters {
            guard var hold = holds[waiter.session], hold.tickets.remove(ticket) != nil else { continue }
            if hold.tickets.isEmpty {
                holds.removeValue(forKey: waiter.session)
                if !hold.frames.isEmpty { actions.append(.sendHeld(hold.frames, session: waiter.session)) }
            } else {
                holds[waiter.session] = hold
            }
        }
        if !attempt.receipts.isEmpty { actions.append(.deliverReceipts(attempt.receipts)) }
        for waiter in attempt.waiters {
            actions.append(.resume(token: waiter.token))
        }
        if stopping, attempts.isEmpty { actions += [.cancelStopTimer, .drained] }
        return actions
    }
}

extension PublishMachine.Action: Equatable where Request: Equatable, Receipt: Equatable {}

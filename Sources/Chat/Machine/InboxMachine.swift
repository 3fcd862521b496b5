/// The node's user inboxes, as a value that decides and an executor that acts (the shape of
/// ``PublishMachine``: events in, actions out, timers as values).
///
/// It owns what was spread over the actor: where each inbox consumer's deliveries go (its
/// route), the deliveries held until the session's welcome went out, the sink events of a
/// consumer whose `consume` call has not returned yet, the inbox each session holds and the
/// private messages and receipts handed to it and not acked, the inboxes being released (the
/// exact tags to nack back), the acks whose `delivered` receipts await their confirm, each
/// with its deadline, the take-overs of user queues (tried again while the queue is held, until
/// their deadline), the sessions waiting to take their inbox again, who opens the inbox
/// channel, and the callers waiting for that opening or for an inbox's release (each until its
/// deadline). `ChatNodeExecutor` feeds it events (a take-over's try, a consumer started, deliveries,
/// a consumer ended, a welcome went out, a session ended, an ack, the receipts' outcome, a
/// timer fired, the link lost) and carries out the ``Action``s it returns, in order (see
/// ChatNodeExecutor+Inbox.swift).
///
/// Every inbox consumer of a node shares one channel, so the machine never settles a tag with
/// `multiple`: each ``Action/ack(_:channel:)``, ``Action/requeue(_:channel:)`` names its tags.
///
/// No clock is read here: the events that need the time carry it (`now`), so tests move time
/// by hand. Generic over the instant only; it knows nothing of the broker (the executor
/// decodes each delivery into a ``Content``).
struct InboxMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    struct Limits: Sendable, Hashable {
        /// How long an ack's `delivered` receipts may wait for their confirm.
        var receiptTimeout: Duration
        /// Deliveries held for one consumer before its session's welcome (the broker sends at
        /// most the inbox prefetch unacked, so this bound is the prefetch).
        var heldPerInbox: Int
        /// How long a session may try to take its user queue over from another consumer.
        var takeoverTimeout: Duration
        /// The pause between two tries while the queue is still held.
        var takeoverRetry: Duration
        /// The pause before a session that lost its inbox (a reconnect, a channel error) tries
        /// to take it again, after a take-over that failed.
        var reattachRetry: Duration
        /// The least time between two releases of one session's inbox for refused acks
        /// (``InboxMachine/ackRefused(_:now:)``): a client that floods refused acks makes at
        /// most one release (its unacked messages requeued and delivered again) per interval.
        var refusedAckInterval: Duration = .seconds(1)
    }

    /// An inbox consumer as its channel's sink names it.
    struct Key: Hashable, Sendable {
        var channel: Int
        var tag: String
    }

    /// A user's inbox consumer, on the node's shared inbox channel number `channel`.
    struct Inbox: Hashable, Sendable {
        /// Unique per consumer on this node: deliveries are matched to the inbox they came on.
        var serial: Int
        /// The inbox channel it consumes on (the executor's ``ChatNodeExecutor/InboxChannel/serial``).
        var channel: Int
        var consumerTag: String
        /// The broker link it was started on.
        var generation: Int

        var key: Key { Key(channel: channel, tag: consumerTag) }
    }

    /// What a delivery from a user queue says, as the executor decoded it.
    enum Content: Sendable, Hashable {
        /// A private message.
        case tell(msgId: String, from: String, to: String?, text: String, ts: Int64)
        /// A receipt: the addressee `to` acked the sender's message `msgId`.
        case delivered(msgId: String, to: String?, ts: Int64)
        /// Not a record a user queue should hold: rejected without requeue.
        case invalid
    }

    /// One delivery from an inbox consumer.
    struct Item: Sendable, Hashable {
        var tag: UInt64
        var consumerTag: String
        var content: Content
    }

    /// A private message or receipt handed to the client and not yet acked by it.
    struct Pending: Sendable, Hashable {
        var tag: UInt64
        /// The sender of a private message (its receipt goes to them); nil for a receipt.
        var from: String?
        /// ``Inbox/serial`` of the inbox it came on.
        var inbox: Int
    }

    /// A `delivered` receipt held (by ``PublishMachine``) until its message's publish is
    /// answered; then it comes back through ``receiptReleased(_:)``.
    struct HeldReceipt: Sendable, Hashable {
        var item: Item
        var session: UInt64
        var inbox: Inbox
    }

    /// A `delivered` receipt to publish for an acked private message.
    struct Receipt: Sendable, Hashable {
        var msgId: String
        /// The message's sender: the receipt goes to their queue.
        var sender: String
        /// The nick that acked it.
        var addressee: String
        var ts: Int64
    }

    /// How one try to take a user queue went, as the executor found out.
    enum TryOutcome: Sendable, Hashable {
        /// The consumer started and still has its route.
        case took(Inbox)
        /// Someone still consumes the queue (or won a race for it, or the new consumer ended
        /// at once): try again shortly.
        case held
        /// The link is gone, the session no longer owns the nick, or the broker failed.
        case failed
    }

    /// How the broker answered one receipt of an ack.
    enum ReceiptOutcome: Sendable, Hashable {
        case confirmed
        /// Nacked by the sender's full inbox: its message stays pending, unacked.
        case senderInboxFull
        /// Nacked otherwise, or its channel or connection closed.
        case failed
    }

    /// One ack whose receipts are being published, one take-over of a user queue, one session's
    /// next try to take its inbox again, or one caller's wait (``Wait``).
    typealias Ticket = UInt64

    /// An ack's deadline, a take-over's next try, a reattach's next try, or a wait's deadline:
    /// the executor fires
    /// ``timerFired(_:now:)`` with its ticket once `deadline` has passed, unless an action
    /// cancelled it first.
    struct Timer: Sendable, Hashable {
        var ticket: Ticket
        var deadline: Instant
    }

    enum Action: Sendable {
        case send(ServerFrame, session: UInt64)
        /// Ack these tags on the inbox channel, one at a time, in this order.
        case ack([UInt64], channel: Int)
        /// Nack with requeue these tags on the inbox channel, one at a time, in tag order (each
        /// message goes back to its place); nothing when that channel is closed.
        case requeue([UInt64], channel: Int)
        /// Reject without requeue (not a record for a user queue).
        case reject(UInt64, channel: Int)
        /// Cancel the inbox's consumer; its `ended` event finishes the release.
        case cancelConsumer(Inbox)
        /// Caller `waiter` goes on: what it waited for (``waitForChannel(_:now:)``,
        /// ``waitForRelease(of:waiter:now:)``) happened, or its deadline passed first (`timedOut`).
        case wake(waiter: UInt64, timedOut: Bool)
        /// The session lost its inbox while the link lasts: take it again.
        case reattach(session: UInt64)
        /// A consumer on inbox channel `channel` ended (it no longer counts on that channel).
        case consumerEnded(channel: Int)
        /// Give a receipt to the publish machine to hold until its message is answered.
        case holdReceipt(HeldReceipt, msgId: String)
        /// A private message went to a client (for metrics).
        case privateDelivery
        /// Publish these receipts (with confirms) and answer ``receiptsAnswered(_:_:now:)``.
        case publishReceipts(Ticket, [Receipt])
        case startTimer(Timer)
        case cancelTimer(Ticket)
        /// Close the channel the ack's receipts went on: it fails every publish waiting on it.
        case replacePublishChannel(Ticket)
        /// An ack's receipts were not confirmed in time.
        case receiptsTimedOut
        /// Receipts refused by their senders' full inboxes: their messages stay unacked.
        case receiptsDeferred(count: Int)
        /// Release the session's inbox (it was cancelled above), wait for that, then take it
        /// again: an ack answered `unavailable` brings its messages again.
        case redeliver(session: UInt64, inbox: Inbox)
        /// The session's ack is answered: its next frame may run.
        case resume(token: UInt64)
        /// Try once to start the exclusive consumer of `nick`'s queue for `session`, and answer
        /// ``tried(_:_:now:)``.
        case tryTakeOver(Ticket, session: UInt64, nick: String)
        /// The take-over is over: the inbox, or nil when it failed or its time ran out.
        case tookOver(Ticket, Inbox?)
        /// Take the session's inbox again if the link is still `generation` and the session
        /// still has none.
        case retryReattach(session: UInt64, generation: Int)
        /// Say (once per session and link) that a session could not take its inbox again yet.
        case reattachWaits(session: UInt64)
    }

    /// A session that lost its inbox and could not take it again yet: it tries again after
    /// ``Limits/reattachRetry`` while the link it lost it on lasts.
    struct Reattach: Sendable, Hashable {
        var session: UInt64
        var generation: Int
    }

    /// A caller waiting, as `waiter`, for the inbox channel being opened or for the release of
    /// inbox `serial`, at most until `deadline` (the takeover timeout after it began).
    struct Wait: Sendable, Hashable {
        enum Awaited: Sendable, Hashable {
            case channel
            case release(serial: Int)
        }

        var waiter: UInt64
        var awaited: Awaited
        var deadline: Instant
    }

    /// A session taking its user queue over: tried again while someone else still holds it,
    /// until its deadline.
    struct Takeover: Sendable, Hashable {
        var session: UInt64
        var nick: String
        var deadline: Instant
    }

    /// Where a consumer's deliveries go. Until the session was welcomed (`started`) they are
    /// held, so private messages follow the welcome.
    struct Route: Sendable, Hashable {
        var session: UInt64
        var inbox: Inbox
        var started = false
        var held: [Item] = []
    }

    /// The inbox a session holds, and what was handed to it and not acked, by `msgId`.
    struct Holder: Sendable, Hashable {
        var nick: String
        var inbox: Inbox?
        var pending: [String: [Pending]] = [:]
    }

    /// An ack whose receipts await their confirm. Its tags are no longer pending, so a release
    /// meanwhile never requeues a message whose ack is answered with `delivered`.
    struct Ack: Sendable, Hashable {
        var token: UInt64
        var session: UInt64
        var inbox: Inbox
        var acked: [Pending]
        var byMsgId: [String: [Pending]]
        var receipts: [Receipt]
    }

    let limits: Limits
    private(set) var routes: [Key: Route] = [:]
    /// Sink events of consumers whose `consume` call has not returned yet (the sink's reader
    /// can run first); taken over when it returns.
    private(set) var unclaimed: [Key: (items: [Item], ended: Bool)] = [:]
    private(set) var holders: [UInt64: Holder] = [:]
    /// Inboxes being released, by serial: the tags to nack back once the consumer ended (those
    /// the client did not ack, and any the broker sent between the cancel and its cancel-ok).
    private(set) var closing: [Int: [UInt64]] = [:]
    private(set) var acks: [Ticket: Ack] = [:]
    private(set) var takeovers: [Ticket: Takeover] = [:]
    private(set) var reattaches: [Ticket: Reattach] = [:]
    /// Sessions told about in a ``Action/reattachWaits(session:)`` since the link came up.
    private var reattachWarned: Set<UInt64> = []
    private var nextTicket: Ticket = 1
    /// A call is opening the node's inbox channel; the others wait for it (so thousands of
    /// inboxes taken again after a channel error open one channel, not thousands).
    private(set) var channelOpening = false
    /// Callers waiting for the channel's opening or an inbox's release, by the ticket of their
    /// deadline (one per caller: a session's join, reattach or end; sessions are bounded).
    private(set) var waits: [Ticket: Wait] = [:]
    /// When each session's inbox was last released for a refused ack (one entry per session
    /// that had an ack refused, dropped at its end).
    private(set) var refusedReleases: [UInt64: Instant] = [:]
    /// The release for a refused ack that waits for its session's interval to pass, by the
    /// ticket of its timer (at most one per session: later refusals meanwhile change nothing).
    private(set) var refusedLater: [Ticket: UInt64] = [:]
    /// The ticket of ``refusedLater`` by session.
    private var refusedLaterTicket: [UInt64: Ticket] = [:]

    init(limits: Limits) {
        self.limits = limits
    }

    /// The inbox `session` holds, if any.
    func inbox(of session: UInt64) -> Inbox? { holders[session]?.inbox }

    /// Whether the consumer `key` has a route (it did not end).
    func hasRoute(_ key: Key) -> Bool { routes[key] != nil }

    /// Whether inbox `serial` is being released.
    func isClosing(_ serial: Int) -> Bool { closing[serial] != nil }

    /// Acks whose receipts await their confirm (for `/metrics`).
    var acksInFlight: Int { acks.count }

    /// Unacked deliveries of every session holding an inbox (for `/metrics`).
    var unackedPerInbox: [Int] {
        holders.values.filter { $0.inbox != nil }.map { $0.pending.values.reduce(0) { $0 + $1.count } }
    }

    // MARK: Consumers

    /// `consume` returned `inbox` for `session`: its route starts, held until the welcome, with
    /// whatever its sink brought before (taken over; an early `ended` ends it at once).
    mutating func consumed(_ inbox: Inbox, session: UInt64, currentGeneration: Int?) -> [Action] {
        var route = Route(session: session, inbox: inbox)
        let early = unclaimed.removeValue(forKey: inbox.key)
        var actions: [Action] = []
        for item in early?.items ?? [] {
            if route.held.count < limits.heldPerInbox {
                route.held.append(item)
            } else {
                actions.append(.requeue([item.tag], channel: inbox.channel))
            }
        }
        routes[inbox.key] = route
        if early?.ended == true { actions += consumerEnded(inbox.key, currentGeneration: currentGeneration) }
        return actions
    }

    /// The session was welcomed holding `inbox`: what was handed over before goes (nothing is
    /// pending on a fresh inbox), then the deliveries held since its consume, in order.
    mutating func started(_ inbox: Inbox, session: UInt64, nick: String, awaitingConfirm: (String) -> Bool) -> [Action] {
        holders[session] = Holder(nick: nick, inbox: inbox)
        reattachWarned.remove(session)
        guard var route = routes[inbox.key], !route.started else { return [] }
        let held = route.held
        route.held = []
        route.started = true
        routes[inbox.key] = route
        var actions: [Action] = []
        for item in held {
            actions += handle(item, session: route.session, inbox: inbox, awaitingConfirm: awaitingConfirm)
        }
        return actions
    }

    /// A batch from inbox channel `channel`'s sink, in queue order per consumer.
    mutating func deliveries(_ items: [Item], channel: Int, awaitingConfirm: (String) -> Bool) -> [Action] {
        var actions: [Action] = []
        for item in items {
            let key = Key(channel: channel, tag: item.consumerTag)
            guard var route = routes[key] else {
                var early = unclaimed[key] ?? ([], false)
                if early.items.count < limits.heldPerInbox {
                    early.items.append(item)
                    unclaimed[key] = early
                } else {
                    actions.append(.requeue([item.tag], channel: channel))
                }
                continue
            }
            if route.started {
                actions += handle(item, session: route.session, inbox: route.inbox, awaitingConfirm: awaitingConfirm)
            } else if route.held.count < limits.heldPerInbox {
                route.held.append(item)
                routes[key] = route
            } else {
                // Past the prefetch: the broker misbehaves; the message goes back, nothing lost.
                actions += returnDelivery(item.tag, of: route.inbox)
            }
        }
        return actions
    }

    /// A consumer ended (cancelled, or ended by the broker). A released inbox gets its tags
    /// nacked back; one its session still holds is taken again while the link lasts.
    mutating func consumerEnded(_ key: Key, currentGeneration: Int?) -> [Action] {
        guard let route = routes.removeValue(forKey: key) else {
            unclaimed[key, default: ([], false)].ended = true
            return []
        }
        let inbox = route.inbox
        var actions: [Action] = [.consumerEnded(channel: key.channel)]
        for item in route.held { actions += returnDelivery(item.tag, of: inbox) }
        if let tags = closing.removeValue(forKey: inbox.serial) {
            if !tags.isEmpty { actions.append(.requeue(tags.sorted(), channel: inbox.channel)) }
            return actions + wakeAll(waitingFor: .release(serial: inbox.serial))
        }
        guard var holder = holders[route.session], holder.inbox?.serial == inbox.serial else { return actions }
        let tags = Self.tags(of: inbox, in: holder.pending)
        holder.inbox = nil
        holder.pending = [:]
        holders[route.session] = holder
        if !tags.isEmpty { actions.append(.requeue(tags, channel: inbox.channel)) }
        if currentGeneration == inbox.generation { actions.append(.reattach(session: route.session)) }
        return actions
    }

    /// Ends an inbox: its consumer is cancelled and, once it ended, exactly the tags of this
    /// inbox that the client did not ack (and any delivered meanwhile) are nacked back.
    /// For a session that ended, or an inbox no session took (`session` nil: its join failed
    /// after the consume).
    mutating func release(_ inbox: Inbox, ofSession session: UInt64?) -> [Action] {
        var tags: [UInt64] = []
        if let session, let holder = holders.removeValue(forKey: session), holder.inbox?.serial == inbox.serial {
            tags = Self.tags(of: inbox, in: holder.pending)
        }
        return beginRelease(inbox, tags: tags)
    }

    /// A session ended: its inbox, if it holds one, is released (``release(_:ofSession:)``).
    mutating func sessionEnded(_ session: UInt64) -> [Action] {
        reattachWarned.remove(session)
        refusedReleases.removeValue(forKey: session)
        var actions: [Action] = []
        if let ticket = refusedLaterTicket.removeValue(forKey: session) {
            refusedLater.removeValue(forKey: ticket)
            actions.append(.cancelTimer(ticket))
        }
        guard let holder = holders[session] else { return actions }
        guard let inbox = holder.inbox else {
            holders.removeValue(forKey: session)
            return actions
        }
        return actions + release(inbox, ofSession: session)
    }

    /// The broker connection is gone: every inbox is void (the broker requeued their
    /// unacknowledged messages); the sessions take theirs again on the next link.
    mutating func linkLost() {
        reattachWarned = []
        for session in holders.keys {
            holders[session]?.inbox = nil
            holders[session]?.pending = [:]
        }
    }

    // MARK: Taking a user queue over

    /// `session` needs the exclusive consumer of `nick`'s queue: tried now, and again every
    /// ``Limits/takeoverRetry`` while another consumer (on any node) still holds it (it lets go
    /// when it sees the takeover record), for at most ``Limits/takeoverTimeout``.
    mutating func takeOver(session: UInt64, nick: String, now: Instant) -> (Ticket, [Action]) {
        let ticket = nextTicket
        nextTicket += 1
        takeovers[ticket] = Takeover(session: session, nick: nick, deadline: now.advanced(by: limits.takeoverTimeout))
        return (ticket, [.tryTakeOver(ticket, session: session, nick: nick)])
    }

    /// A try of take-over `ticket` ended.
    mutating func tried(_ ticket: Ticket, _ outcome: TryOutcome, now: Instant) -> [Action] {
        guard takeovers[ticket] != nil else { return [] }
        switch outcome {
        case .took(let inbox):
            takeovers.removeValue(forKey: ticket)
            return [.tookOver(ticket, inbox)]
        case .failed:
            takeovers.removeValue(forKey: ticket)
            return [.tookOver(ticket, nil)]
        case .held:
            return [.startTimer(Timer(ticket: ticket, deadline: now.advanced(by: limits.takeoverRetry)))]
        }
    }

    /// Taking a session's inbox again (``Action/reattach(session:)``) failed: it tries again
    /// after ``Limits/reattachRetry`` (a session left without its inbox would silently get no
    /// private messages).
    mutating func reattachFailed(session: UInt64, generation: Int, now: Instant) -> [Action] {
        var actions: [Action] = []
        if reattachWarned.insert(session).inserted { actions.append(.reattachWaits(session: session)) }
        let ticket = nextTicket
        nextTicket += 1
        reattaches[ticket] = Reattach(session: session, generation: generation)
        actions.append(.startTimer(Timer(ticket: ticket, deadline: now.advanced(by: limits.reattachRetry))))
        return actions
    }

    // MARK: The inbox channel

    /// The inbox channel is unusable and a consumer needs it: `true` when this caller opens a
    /// new one, `false` when one is being opened already (then it waits for it with
    /// ``waitForChannel(_:now:)``).
    mutating func channelNeeded() -> Bool {
        if channelOpening { return false }
        channelOpening = true
        return true
    }

    /// A caller waits, as `waiter`, for the inbox channel being opened: woken by
    /// ``channelOpeningEnded()``, or timed out after ``Limits/takeoverTimeout`` (at once when
    /// no opening is under way).
    mutating func waitForChannel(_ waiter: UInt64, now: Instant) -> [Action] {
        guard channelOpening else { return [.wake(waiter: waiter, timedOut: false)] }
        return beginWait(waiter, for: .channel, now: now)
    }

    /// The inbox channel was opened, or could not be: the waiters go on (they find out which).
    mutating func channelOpeningEnded() -> [Action] {
        channelOpening = false
        return wakeAll(waitingFor: .channel)
    }

    /// A caller waits, as `waiter`, for the release of inbox `serial` to finish (its consumer's
    /// end, when its tags go back): woken then, or timed out after ``Limits/takeoverTimeout``
    /// (at once when that inbox is not being released).
    mutating func waitForRelease(of serial: Int, waiter: UInt64, now: Instant) -> [Action] {
        guard closing[serial] != nil else { return [.wake(waiter: waiter, timedOut: false)] }
        return beginWait(waiter, for: .release(serial: serial), now: now)
    }

    private mutating func beginWait(_ waiter: UInt64, for awaited: Wait.Awaited, now: Instant) -> [Action] {
        let ticket = nextTicket
        nextTicket += 1
        let deadline = now.advanced(by: limits.takeoverTimeout)
        waits[ticket] = Wait(waiter: waiter, awaited: awaited, deadline: deadline)
        return [.startTimer(Timer(ticket: ticket, deadline: deadline))]
    }

    /// Wakes every caller waiting for `awaited`, in the order they began waiting.
    private mutating func wakeAll(waitingFor awaited: Wait.Awaited) -> [Action] {
        var actions: [Action] = []
        for ticket in waits.keys.sorted() where waits[ticket]?.awaited == awaited {
            guard let wait = waits.removeValue(forKey: ticket) else { continue }
            actions += [.cancelTimer(ticket), .wake(waiter: wait.waiter, timedOut: false)]
        }
        return actions
    }

    // MARK: Deliveries

    /// A receipt the publish machine held is free to go now.
    mutating func receiptReleased(_ held: HeldReceipt, awaitingConfirm: (String) -> Bool) -> [Action] {
        handle(held.item, session: held.session, inbox: held.inbox, awaitingConfirm: awaitingConfirm)
    }

    /// A private message or receipt to the client: pending until the client acks its `msgId`.
    /// One that comes on an inbox the session no longer holds goes back to the queue.
    private mutating func handle(_ item: Item, session: UInt64, inbox: Inbox, awaitingConfirm: (String) -> Bool) -> [Action] {
        guard let holder = holders[session], holder.inbox?.serial == inbox.serial else {
            return returnDelivery(item.tag, of: inbox)
        }
        switch item.content {
        case .invalid:
            return [.reject(item.tag, channel: inbox.channel)]
        case .tell(let msgId, let from, let to, let text, let ts):
            holders[session]?.pending[msgId, default: []].append(Pending(tag: item.tag, from: from, inbox: inbox.serial))
            return [
                .send(.message(ChatMessage(msgId: msgId, from: from, to: to ?? holder.nick, text: text, ts: ts)), session: session),
                .privateDelivery,
            ]
        case .delivered(let msgId, let to, let ts):
            // `sent` before `delivered`: a receipt that overtook its message's confirm waits.
            if awaitingConfirm(msgId) {
                return [.holdReceipt(HeldReceipt(item: item, session: session, inbox: inbox), msgId: msgId)]
            }
            holders[session]?.pending[msgId, default: []].append(Pending(tag: item.tag, from: nil, inbox: inbox.serial))
            return [.send(.delivered(Delivered(msgId: msgId, to: to ?? "", ts: ts)), session: session)]
        }
    }

    /// A delivery on an inbox its session no longer holds: kept for the release in progress,
    /// else put back at once.
    private mutating func returnDelivery(_ tag: UInt64, of inbox: Inbox) -> [Action] {
        if closing[inbox.serial] != nil {
            closing[inbox.serial]?.append(tag)
            return []
        }
        return [.requeue([tag], channel: inbox.channel)]
    }

    private mutating func beginRelease(_ inbox: Inbox, tags: [UInt64]) -> [Action] {
        var tags = tags
        // Held for a welcome that will not come: they go back too.
        if var route = routes[inbox.key], !route.started {
            tags += route.held.map(\.tag)
            route.held = []
            route.started = true
            routes[inbox.key] = route
        }
        closing[inbox.serial] = tags
        return [.cancelConsumer(inbox)]
    }

    // MARK: Acks

    /// The client acked `msgIds`: each acked private message's sender gets a `delivered`
    /// receipt (confirmed first, within the receipt timeout), then everything acked is acked at
    /// the broker. The acked deliveries stop being pending at once. `token` is resumed once
    /// the ack is answered.
    mutating func acknowledge(_ msgIds: [String], session: UInt64, ts: Int64, token: UInt64, now: Instant) -> [Action] {
        guard var holder = holders[session], let inbox = holder.inbox else { return [.resume(token: token)] }
        var acked: [Pending] = []
        var byMsgId: [String: [Pending]] = [:]
        var receipts: [Receipt] = []
        for msgId in msgIds {
            guard let deliveries = holder.pending.removeValue(forKey: msgId) else { continue }
            let current = deliveries.filter { $0.inbox == inbox.serial }
            acked += current
            byMsgId[msgId] = current
            guard let sender = current.lazy.compactMap(\.from).first else { continue }
            receipts.append(Receipt(msgId: msgId, sender: sender, addressee: holder.nick, ts: ts))
        }
        holders[session] = holder
        guard !acked.isEmpty else { return [.resume(token: token)] }
        guard !receipts.isEmpty else {
            return [.ack(acked.map(\.tag), channel: inbox.channel), .resume(token: token)]
        }
        let ticket = nextTicket
        nextTicket += 1
        acks[ticket] = Ack(token: token, session: session, inbox: inbox, acked: acked, byMsgId: byMsgId, receipts: receipts)
        return [
            .startTimer(Timer(ticket: ticket, deadline: now.advanced(by: limits.receiptTimeout))),
            .publishReceipts(ticket, receipts),
        ]
    }

    /// The broker answered an ack's receipts (in the order of ``Action/publishReceipts(_:_:)``).
    /// Every one confirmed, or refused by a full inbox (that message stays pending): the rest is
    /// acked. Any other failure: the ack is `unavailable` and its messages come again.
    mutating func receiptsAnswered(_ ticket: Ticket, _ outcomes: [ReceiptOutcome]) -> [Action] {
        guard let ack = acks.removeValue(forKey: ticket) else { return [] }
        var actions: [Action] = [.cancelTimer(ticket)]
        if outcomes.count != ack.receipts.count || outcomes.contains(.failed) {
            return actions + failed(ack)
        }
        var acked = ack.acked
        let deferred = zip(ack.receipts, outcomes).filter { $0.1 == .senderInboxFull }.map { $0.0.msgId }
        if !deferred.isEmpty {
            actions.append(.receiptsDeferred(count: deferred.count))
            let tags = Set(deferred.flatMap { ack.byMsgId[$0] ?? [] }.map(\.tag))
            acked.removeAll { tags.contains($0.tag) }
            for msgId in deferred where holders[ack.session] != nil {
                holders[ack.session]?.pending[msgId, default: []] += ack.byMsgId[msgId] ?? []
            }
        }
        if !acked.isEmpty { actions.append(.ack(acked.map(\.tag), channel: ack.inbox.channel)) }
        actions.append(.resume(token: ack.token))
        return actions
    }

    /// A reattach's pause is over: it tries again.
    /// A take-over's pause is over: it tries again, or gives up once its deadline passed.
    /// A wait's deadline passed: its caller goes on, timed out.
    /// An ack's receipts were not confirmed by their deadline: the channel they went on is
    /// replaced and the ack is `unavailable` (a late answer changes nothing).
    /// A refused ack's release that waited for its interval goes now (``ackRefused(_:now:)``).
    mutating func timerFired(_ ticket: Ticket, now: Instant) -> [Action] {
        if let session = refusedLater.removeValue(forKey: ticket) {
            refusedLaterTicket.removeValue(forKey: session)
            return releaseForRefusedAck(session, now: now)
        }
        if let wait = waits.removeValue(forKey: ticket) {
            return [.wake(waiter: wait.waiter, timedOut: true)]
        }
        if let reattach = reattaches.removeValue(forKey: ticket) {
            return [.retryReattach(session: reattach.session, generation: reattach.generation)]
        }
        if let takeover = takeovers[ticket] {
            guard now < takeover.deadline else {
                takeovers.removeValue(forKey: ticket)
                return [.tookOver(ticket, nil)]
            }
            return [.tryTakeOver(ticket, session: takeover.session, nick: takeover.nick)]
        }
        guard let ack = acks.removeValue(forKey: ticket) else { return [] }
        return [.receiptsTimedOut, .replacePublishChannel(ticket)] + failed(ack)
    }

    /// An `ack` of `session` was refused on arrival (over the rate, or the session's queue
    /// full): it never ran, so the messages it named are still pending here, and the client was
    /// told they come again. The session's inbox is released with everything it did not ack and
    /// taken again, so they do. While a release of it is under way (or it holds no inbox, or
    /// nothing is pending) this changes nothing: a flood of refused acks makes one release.
    ///
    /// A client that sends one refused ack after each redelivery would otherwise make the node
    /// requeue and redeliver its whole unacked window (up to the inbox prefetch) per refused
    /// frame, as fast as the broker turns it around. So the inbox of one session is released
    /// this way at most once per ``Limits/refusedAckInterval``: a refusal sooner than that
    /// starts a timer for the interval's end (one per session; more refusals meanwhile change
    /// nothing), and the release goes then (Specs/bounds.md, "refused acks").
    mutating func ackRefused(_ session: UInt64, now: Instant) -> [Action] {
        guard let holder = holders[session], let inbox = holder.inbox, !Self.tags(of: inbox, in: holder.pending).isEmpty else { return [] }
        guard refusedLaterTicket[session] == nil else { return [] }
        if let last = refusedReleases[session], now < last.advanced(by: limits.refusedAckInterval) {
            let ticket = nextTicket
            nextTicket += 1
            refusedLater[ticket] = session
            refusedLaterTicket[session] = ticket
            return [.startTimer(Timer(ticket: ticket, deadline: last.advanced(by: limits.refusedAckInterval)))]
        }
        return releaseForRefusedAck(session, now: now)
    }

    /// Releases the session's inbox with everything it did not ack, and takes it again.
    private mutating func releaseForRefusedAck(_ session: UInt64, now: Instant) -> [Action] {
        guard var holder = holders[session], let inbox = holder.inbox else { return [] }
        let pending = Self.tags(of: inbox, in: holder.pending)
        guard !pending.isEmpty else { return [] }
        holder.inbox = nil
        holder.pending = [:]
        holders[session] = holder
        refusedReleases[session] = now
        return beginRelease(inbox, tags: pending) + [.redeliver(session: session, inbox: inbox)]
    }

    /// The ack could not be recorded: the client is told, and its messages come again (the
    /// session's inbox is released with the ack's tags and taken again).
    private mutating func failed(_ ack: Ack) -> [Action] {
        let tags = ack.acked.map(\.tag)
        var actions: [Action] = [
            .send(
                ChatProtocolError(.unavailable, "Your ack could not be recorded: the messages will come again, ack them then.").frame,
                session: ack.session)
        ]
        let inbox = ack.inbox
        if var holder = holders[ack.session], holder.inbox?.serial == inbox.serial {
            let pending = Self.tags(of: inbox, in: holder.pending)
            holder.inbox = nil
            holder.pending = [:]
            holders[ack.session] = holder
            actions += beginRelease(inbox, tags: pending + tags)
            actions.append(.redeliver(session: ack.session, inbox: inbox))
        } else if closing[inbox.serial] != nil {
            closing[inbox.serial]? += tags
        } else if !tags.isEmpty {
            actions.append(.requeue(tags.sorted(), channel: inbox.channel))
        }
        actions.append(.resume(token: ack.token))
        return actions
    }

    static func tags(of inbox: Inbox, in pending: [String: [Pending]]) -> [UInt64] {
        pending.values.flatMap { $0 }.filter { $0.inbox == inbox.serial }.map(\.tag).sorted()
    }
}

extension InboxMachine.Action: Equatable {}

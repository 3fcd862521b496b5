import Broker

/// User inboxes: one exclusive consumer of `user.<nick>` per joined user, every one of them on
/// the node's single inbox channel, each with its own prefetch window (AMQP `basic.qos` with
/// `global=false` is per consumer), all delivering into one ``DeliverySink`` read by one task.
///
/// Why one channel: a channel per user capped a node at the broker's `channel_max` (2047 on
/// RabbitMQ) online users, and a channel, a delivery stream and a reading task per user cost
/// memory on both sides. What a channel close did for free, ending an inbox now does by hand:
/// cancel the consumer, take its deliveries up to its `ended` event (those sent between the
/// cancel and its cancel-ok come before it), then nack with requeue exactly the tags of that
/// consumer that the client did not ack, in tag order. Never an ack or nack with `multiple` on
/// this channel: it would settle other users' tags.
///
/// What happens to a consumer's deliveries, its release, and acks with their receipts is
/// decided by ``InboxMachine``; this file opens the channel, starts consumers and carries out
/// the machine's actions (``runInbox(_:)``).
extension ChatNodeExecutor {
    typealias Inboxes = InboxMachine<ContinuousClock.Instant>
    typealias Inbox = Inboxes.Inbox
    typealias HeldReceipt = Inboxes.HeldReceipt

    static func inboxLimits(_ configuration: ChatConfiguration) -> Inboxes.Limits {
        Inboxes.Limits(
            receiptTimeout: configuration.publishTimeout, heldPerInbox: Int(configuration.limits.inboxPrefetch),
            takeoverTimeout: configuration.takeoverTimeout, takeoverRetry: .milliseconds(25), reattachRetry: .seconds(1),
            refusedAckInterval: .seconds(1))
    }

    /// The node's inbox channel for the current link, opened (again) when there is none or a
    /// channel error closed it; every consumer of a closed one is taken again when its
    /// `ended` event comes.
    ///
    /// One caller opens it; the others (every inbox being taken again after a channel error
    /// or a reconnect) wait for that one, so thousands of them open one channel, not
    /// thousands (which would run into `channel_max` again).
    func sharedInboxChannel() async throws(BrokerError) -> InboxChannel {
        guard let link else { throw BrokerError.connectionClosed("The node is not connected to the broker.") }
        if let current = inboxChannel, current.generation == link.generation, current.channel.closeReason == nil {
            return current
        }
        guard inboxes.channelNeeded() else {
            await waitInInbox { inboxes.waitForChannel($0, now: .now) }
            guard let current = inboxChannel, current.generation == self.link?.generation, current.channel.closeReason == nil else {
                throw BrokerError.channelClosed("the node's inbox channel could not be opened; join again in a moment.")
            }
            return current
        }
        defer { runInboxWaits(inboxes.channelOpeningEnded()) }
        retireClosedInboxChannels()
        let channel = try await link.connection.openChannel()
        guard self.link?.generation == link.generation else {
            await channel.close()
            throw BrokerError.connectionClosed("The node lost its broker connection.")
        }
        let (events, sink) = DeliverySink.makeStream()
        let opened = InboxChannel(channel: channel, sink: sink, serial: nextInboxSerial, generation: link.generation)
        nextInboxSerial += 1
        inboxChannel = opened
        inboxChannels[opened.serial] = (opened, 0)
        Task {
            for await event in events {
                switch event {
                case .deliveries(let batch): await self.onInboxDeliveries(batch, channel: opened.serial)
                case .ended(let tag): await self.onInboxEnded(Inboxes.Key(channel: opened.serial, tag: tag))
                }
            }
        }
        return opened
    }

    /// Finishes the sinks of closed inbox channels that no consumer uses any more (their
    /// reading tasks then end).
    func retireClosedInboxChannels() {
        for (serial, entry) in inboxChannels where entry.consumers == 0 && entry.channel.channel.closeReason != nil {
            inboxChannels.removeValue(forKey: serial)
            entry.channel.sink.finish()
        }
    }

    /// Starts the exclusive consumer of `user.<nick>` on the inbox channel, retrying while
    /// another session (on any node) still consumes it (it lets go when it sees the takeover),
    /// for at most the takeover timeout (``InboxMachine/takeOver(session:nick:now:)``). Its
    /// deliveries are held until ``startInbox(_:session:nick:)``.
    func acquireInbox(nick: String, owner sessionId: UInt64) async -> Inbox? {
        let (ticket, actions) = inboxes.takeOver(session: sessionId, nick: nick, now: .now)
        return await withCheckedContinuation { (continuation: CheckedContinuation<Inbox?, Never>) in
            takeoverResumers[ticket] = continuation
            Task { await self.runInbox(actions) }
        }
    }

    /// One try of a take-over: is the queue free, then the consume.
    ///
    /// The queue is checked for consumers first (a declare on the publish channel reports
    /// them): a refused exclusive consume is a channel error, and on the shared channel it
    /// would requeue every user's unacked messages. Two nodes can still race between the
    /// check and the consume; the loser's inbox channel then closes and every inbox on it is
    /// taken again (at least once: the clients see redelivered messages with their `msgId`).
    private func tryTakeOver(_ ticket: Inboxes.Ticket, session sessionId: UInt64, nick: String) async {
        let queue = topology.userQueue(nick)
        var outcome = Inboxes.TryOutcome.failed
        if link != nil, nickOwner[nick] == sessionId {
            do {
                let info = try await publisher().declareQueue(queue, options: userQueueRedeclareOptions(nick))
                var free = info.consumerCount == 0
                if !free { free = await queueIsFree(queue) }
                outcome = .held
                if free {
                    let shared = try await sharedInboxChannel()
                    do {
                        let tag = try await shared.channel.consume(
                            queue: queue, options: ConsumeOptions(prefetch: configuration.limits.inboxPrefetch, exclusive: true),
                            into: shared.sink)
                        let inbox = Inbox(serial: nextInboxSerial, channel: shared.serial, consumerTag: tag, generation: shared.generation)
                        nextInboxSerial += 1
                        inboxChannels[shared.serial]?.consumers += 1
                        await runInbox(inboxes.consumed(inbox, session: sessionId, currentGeneration: link?.generation))
                        // Its consumer may have ended already (a channel error): then try again.
                        if inboxes.hasRoute(inbox.key) { outcome = .took(inbox) }
                    } catch let error where error.code == BrokerError.accessRefused || error.code == BrokerError.resourceLocked {
                        // Lost a race for the queue; the next try reopens the channel.
                    }
                }
            } catch {
                outcome = .failed
            }
        }
        await runInbox(inboxes.tried(ticket, outcome, now: .now))
    }

    /// Whether no one holds `queue` exclusively: `consumerCount` alone can say no for a while
    /// after a broker node died (a quorum queue keeps counting the consumers of connections to
    /// the dead node), so an exclusive consume is tried on a throwaway channel, where a refusal
    /// harms no one, and closed at once (anything it was sent goes back to the queue, in place).
    func queueIsFree(_ queue: String) async -> Bool {
        do {
            return try await withTemporaryChannel { channel throws(BrokerError) in
                _ = try await channel.consume(queue: queue, options: ConsumeOptions(prefetch: 1, exclusive: true))
                return true
            }
        } catch {
            return false
        }
    }

    /// After a reconnect or a lost inbox channel: takes a joined session's inbox again. When
    /// that fails the machine has it tried again later (``InboxMachine/reattachFailed(session:generation:now:)``)
    /// while the session lives on the same broker connection.
    /// - Parameter generation: the link a retry is for (nil: the current one).
    func reattachInbox(_ sessionId: UInt64, generation: Int? = nil) async {
        guard let entry = sessions[sessionId], inboxes.inbox(of: sessionId) == nil, let current = link?.generation,
            generation == nil || generation == current
        else { return }
        guard let inbox = await acquireInbox(nick: entry.nick, owner: sessionId) else {
            await runInbox(inboxes.reattachFailed(session: sessionId, generation: current, now: .now))
            return
        }
        guard sessions[sessionId] != nil, inboxes.inbox(of: sessionId) == nil else {
            await releaseInbox(inbox)
            return
        }
        await startInbox(inbox, session: sessionId, nick: entry.nick)
    }

    /// The session was welcomed holding `inbox`: its deliveries go through to it, first those
    /// held since its consume.
    func startInbox(_ inbox: Inbox, session sessionId: UInt64, nick: String) async {
        await runInbox(inboxes.started(inbox, session: sessionId, nick: nick) { self.publishes.isInFlight($0) })
    }

    /// A batch from the inbox sink of channel `channel`.
    func onInboxDeliveries(_ batch: [Delivery], channel: Int) async {
        let items = batch.map { Inboxes.Item(tag: $0.deliveryTag, consumerTag: $0.consumerTag ?? "", content: Self.inboxContent($0.body)) }
        if logger.logLevel <= .debug { logger.debug("Inbox deliveries", metadata: ["channel": "\(channel)", "items": "\(items)"]) }
        await runInbox(inboxes.deliveries(items, channel: channel) { self.publishes.isInFlight($0) })
    }

    /// A consumer of the inbox sink ended.
    func onInboxEnded(_ key: Inboxes.Key) async {
        await runInbox(inboxes.consumerEnded(key, currentGeneration: link?.generation))
    }

    /// An `ack` of the session was refused on arrival: see ``InboxMachine/ackRefused(_:now:)``.
    func ackRefused(session sessionId: UInt64) async {
        await runInbox(inboxes.ackRefused(sessionId, now: .now))
    }

    /// A `delivered` receipt the publish machine held until its message's `sent`.
    func receiptReleased(_ held: HeldReceipt) async {
        await runInbox(inboxes.receiptReleased(held) { self.publishes.isInFlight($0) })
    }

    /// Ends an inbox no session took (its join failed after the consume): everything it
    /// brought goes back. Returns once that is done (or after the takeover timeout).
    func releaseInbox(_ inbox: Inbox) async {
        await runInbox(inboxes.release(inbox, ofSession: nil))
        await waitForRelease(of: inbox)
    }

    /// The session ended: its inbox, if any, is released, and exactly what the client did not
    /// ack goes back to the queue. Returns when that is done (or after the takeover timeout), so
    /// a new consumer of the same queue started afterwards gets the messages in queue order.
    func releaseInbox(ofEndedSession sessionId: UInt64) async {
        let inbox = inboxes.inbox(of: sessionId)
        await runInbox(inboxes.sessionEnded(sessionId))
        if let inbox { await waitForRelease(of: inbox) }
    }

    private func waitForRelease(of inbox: Inbox) async {
        guard inboxes.isClosing(inbox.serial) else { return }
        await waitInInbox { inboxes.waitForRelease(of: inbox.serial, waiter: $0, now: .now) }
    }

    /// Suspends until the machine wakes the waiter that `register` gave it
    /// (``InboxMachine/Action/wake(waiter:timedOut:)``): what it waits for happened, or its
    /// deadline (a machine timer) passed.
    private func waitInInbox(_ register: (UInt64) -> [Inboxes.Action]) async {
        let waiter = nextWaiter
        nextWaiter += 1
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            inboxWaitResumers[waiter] = continuation
            runInboxWaits(register(waiter))
        }
    }

    /// Carries out a wait's actions at once, without awaiting (a deadline to start or cancel, a
    /// waiter to wake), so the deadline runs before anything can end the wait; any other
    /// action goes through ``runInbox(_:)`` in a task, after them.
    private func runInboxWaits(_ actions: [Inboxes.Action]) {
        var rest: [Inboxes.Action] = []
        for action in actions {
            switch action {
            case .startTimer(let timer): startInboxTimer(timer)
            case .cancelTimer(let ticket): inboxTimers.cancel(ticket)
            case .wake(let waiter, _): inboxWaitResumers.removeValue(forKey: waiter)?.resume()
            default: rest.append(action)
            }
        }
        if !rest.isEmpty { Task { await self.runInbox(rest) } }
    }

    private func startInboxTimer(_ timer: Inboxes.Timer) {
        inboxTimers.start(timer.ticket, deadline: timer.deadline) { [weak self] in await self?.inboxTimerFired($0) }
    }

    /// The client acked `msgIds`: see ``InboxMachine/acknowledge(_:session:ts:token:now:)``.
    /// Returns once the ack is answered (the receipts confirmed and the tags acked, or the
    /// messages on their way again).
    func acknowledge(_ msgIds: [String], session sessionId: UInt64) async {
        let token = nextWaiter
        nextWaiter += 1
        let actions = inboxes.acknowledge(msgIds, session: sessionId, ts: now, token: token, now: .now)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            ackResumers[token] = continuation
            Task { await self.runInbox(actions) }
        }
    }

    /// What an inbox delivery's body says (a user queue holds `tell` and `delivered` records).
    static func inboxContent(_ body: [UInt8]) -> Inboxes.Content {
        guard let record = BrokerRecord.decode(body), let msgId = record.msgId, let ts = record.ts else { return .invalid }
        switch record.kind {
        case .tell:
            guard let from = record.from, let text = record.text else { return .invalid }
            return .tell(msgId: msgId, from: from, to: record.to, text: text, ts: ts)
        case .delivered:
            return .delivered(msgId: msgId, to: record.to, ts: ts)
        default:
            return .invalid
        }
    }

    /// Carries out the machine's actions, in order; the broker calls are awaited one by one.
    func runInbox(_ actions: [Inboxes.Action]) async {
        for action in actions {
            // The trace of private deliveries, receipts and acks (`--log-level debug`).
            if logger.logLevel <= .debug { logger.debug("Inbox action", metadata: ["action": "\(action)"]) }
            switch action {
            case .send(let frame, let session):
                send(frame, to: session)
            case .ack(let tags, let channel):
                guard let shared = inboxChannels[channel]?.channel.channel else { continue }
                for tag in tags { try? await shared.ack(deliveryTag: tag, multiple: false) }
            case .requeue(let tags, let channel):
                // A closed channel requeued them already.
                guard let shared = inboxChannels[channel]?.channel.channel, shared.closeReason == nil else { continue }
                for tag in tags.sorted() { try? await shared.nack(deliveryTag: tag, multiple: false, requeue: true) }
            case .reject(let tag, let channel):
                guard let shared = inboxChannels[channel]?.channel.channel else { continue }
                try? await shared.reject(deliveryTag: tag, requeue: false)
            case .cancelConsumer(let inbox):
                guard let shared = inboxChannels[inbox.channel]?.channel.channel, shared.closeReason == nil else { continue }
                try? await shared.cancel(consumerTag: inbox.consumerTag)
            case .wake(let waiter, _):
                // A timed-out waiter goes on as one woken in time: it checks what it needs.
                inboxWaitResumers.removeValue(forKey: waiter)?.resume()
            case .reattach(let session):
                Task { await self.reattachInbox(session) }
            case .consumerEnded(let channel):
                inboxChannels[channel]?.consumers -= 1
                retireClosedInboxChannels()
            case .holdReceipt(let held, let msgId):
                // Its publish may have been answered while earlier actions were awaited.
                if !publishes.holdReceipt(held, msgId: msgId) { await receiptReleased(held) }
            case .privateDelivery:
                metrics.privateDeliveries.increment()
            case .publishReceipts(let ticket, let receipts):
                Task { await self.publishReceipts(ticket, receipts) }
            case .startTimer(let timer):
                startInboxTimer(timer)
            case .cancelTimer(let ticket):
                inboxTimers.cancel(ticket)
            case .replacePublishChannel(let ticket):
                if let channel = receiptChannels[ticket] { await replacePublisher(channel) }
            case .receiptsTimedOut:
                logger.warning(
                    "The broker did not confirm a publish in time; the publish channel is replaced and its waiting publishes are answered unavailable")
                metrics.publishTimeouts.increment()
            case .receiptsDeferred(let count):
                metrics.receiptsDeferred.increment(by: count)
                logger.info(
                    "Receipts wait: their senders' inboxes are full; the messages stay unacked and come again on the addressee's next join",
                    metadata: ["count": "\(count)"])
            case .redeliver(let session, let inbox):
                await waitForRelease(of: inbox)
                await reattachInbox(session)
            case .resume(let token):
                ackResumers.removeValue(forKey: token)?.resume()
            case .tryTakeOver(let ticket, let session, let nick):
                Task { await self.tryTakeOver(ticket, session: session, nick: nick) }
            case .tookOver(let ticket, let inbox):
                takeoverResumers.removeValue(forKey: ticket)?.resume(returning: inbox)
            case .retryReattach(let session, let generation):
                Task { await self.reattachInbox(session, generation: generation) }
            case .reattachWaits(let session):
                logger.warning(
                    "Could not take a user's inbox again after a reconnect yet; trying again every second",
                    metadata: ["nick": "\(sessions[session]?.nick ?? "")"])
            }
        }
    }

    /// Publishes an ack's receipts on the publish channel and tells the machine how each went.
    /// A result that comes after the deadline answered the ack is dropped by the machine.
    private func publishReceipts(_ ticket: Inboxes.Ticket, _ receipts: [Inboxes.Receipt]) async {
        let requests = receipts.map { receipt in
            let record = BrokerRecord(kind: .delivered, msgId: receipt.msgId, to: receipt.addressee, ts: receipt.ts)
            return PublishRequest(
                message: OutgoingMessage(body: record.body, properties: MessageProperties(persistent: true, messageId: receipt.msgId, type: "delivered")),
                exchange: topology.directExchange, routingKey: receipt.sender)
        }
        var outcomes: [Inboxes.ReceiptOutcome] = []
        do throws(BrokerError) {
            let channel = try await publisher()
            guard inboxes.acks[ticket] != nil else { return }
            receiptChannels[ticket] = channel
            defer { receiptChannels.removeValue(forKey: ticket) }
            let results = try await channel.publishBatch(requests)
            for (request, result) in zip(requests, results) {
                guard case .failure(let error) = result else {
                    outcomes.append(.confirmed)
                    continue
                }
                // A receipt refused by the sender's full inbox: its message stays pending here,
                // unacked (Specs/chat-protocol.md, "Private messages"). Any other failure fails
                // the ack, so the rest need no look.
                guard case .nacked = error, await inboxCouldBeFull(request.routingKey, adding: request.message.body.count) else {
                    outcomes.append(.failed)
                    break
                }
                outcomes.append(.senderInboxFull)
            }
        } catch {
            outcomes = [.failed]
        }
        await runInbox(inboxes.receiptsAnswered(ticket, outcomes))
    }

    private func inboxTimerFired(_ firing: MachineTimers<Inboxes.Ticket>.Firing) async {
        guard inboxTimers.take(firing) else { return }
        await runInbox(inboxes.timerFired(firing.key, now: .now))
    }
}

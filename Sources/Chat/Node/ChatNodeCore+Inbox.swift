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
extension ChatNodeCore {
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
        if inboxChannelOpening {
            _ = await wait(timeout: configuration.takeoverTimeout) { inboxChannelWaiters.append($0) }
            guard let current = inboxChannel, current.generation == self.link?.generation, current.channel.closeReason == nil else {
                throw BrokerError.channelClosed("the node's inbox channel could not be opened; join again in a moment.")
            }
            return current
        }
        inboxChannelOpening = true
        defer {
            inboxChannelOpening = false
            for waiter in inboxChannelWaiters { resume(waiter: waiter, with: true) }
            inboxChannelWaiters.removeAll()
        }
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
                case .ended(let tag): await self.onInboxEnded(InboxKey(channel: opened.serial, tag: tag))
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
    /// for at most the takeover timeout. Its deliveries are held until ``startInbox(_:)``.
    ///
    /// The queue is checked for consumers first (a declare on the publish channel reports
    /// them): a refused exclusive consume is a channel error, and on the shared channel it
    /// would requeue every user's unacked messages. Two nodes can still race between the
    /// check and the consume; the loser's inbox channel then closes and every inbox on it is
    /// taken again (at least once: the clients see redelivered messages with their `msgId`).
    func acquireInbox(nick: String, owner sessionId: UInt64) async -> Inbox? {
        let deadline = ContinuousClock.now + configuration.takeoverTimeout
        let queue = topology.userQueue(nick)
        while ContinuousClock.now < deadline {
            guard link != nil, nickOwner[nick] == sessionId else { return nil }
            do {
                let info = try await publisher().declareQueue(queue, options: userQueueRedeclareOptions(nick))
                var free = info.consumerCount == 0
                if !free { free = await queueIsFree(queue) }
                if free {
                    let shared = try await sharedInboxChannel()
                    do {
                        let tag = try await shared.channel.consume(
                            queue: queue, options: ConsumeOptions(prefetch: configuration.limits.inboxPrefetch, exclusive: true),
                            into: shared.sink)
                        let inbox = Inbox(channel: shared.channel, channelSerial: shared.serial, consumerTag: tag,
                                          serial: nextInboxSerial, generation: shared.generation)
                        nextInboxSerial += 1
                        await register(inbox, session: sessionId)
                        // Its consumer may have ended already (a channel error): then try again.
                        if inboxRoutes[inbox.key] != nil { return inbox }
                    } catch where error.code == BrokerError.accessRefused || error.code == BrokerError.resourceLocked {
                        // Lost a race for the queue; the next attempt reopens the channel.
                    }
                }
            } catch {
                return nil
            }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return nil
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

    /// Records a new consumer's route, with whatever its sink brought before `consume` returned.
    private func register(_ inbox: Inbox, session sessionId: UInt64) async {
        var route = InboxRoute(session: sessionId, inbox: inbox)
        let early = unclaimedInboxEvents.removeValue(forKey: inbox.key)
        route.held = early?.deliveries ?? []
        inboxRoutes[inbox.key] = route
        inboxChannels[inbox.channelSerial]?.consumers += 1
        if early?.ended == true { await onInboxEnded(inbox.key) }
    }

    /// After a reconnect or a lost inbox channel: takes a joined session's inbox again.
    /// Keeps trying (every second) while the session lives on the same broker connection: a
    /// session left without its inbox would silently get no private messages.
    func reattachInbox(_ sessionId: UInt64) async {
        guard let entry = sessions[sessionId], entry.inbox == nil, let generation = link?.generation else { return }
        var inbox = await acquireInbox(nick: entry.nick, owner: sessionId)
        var warned = false
        while inbox == nil {
            if !warned {
                logger.warning("Could not take a user's inbox again after a reconnect yet; trying again every second", metadata: ["nick": "\(entry.nick)"])
                warned = true
            }
            try? await Task.sleep(for: .seconds(1))
            guard link?.generation == generation, let current = sessions[sessionId], current.inbox == nil, current.nick == entry.nick else { return }
            inbox = await acquireInbox(nick: entry.nick, owner: sessionId)
        }
        guard let inbox else { return }
        guard sessions[sessionId] != nil, sessions[sessionId]?.inbox == nil else {
            await releaseInbox(inbox, pending: [:], startDelivering: true)
            return
        }
        sessions[sessionId]?.inbox = inbox
        sessions[sessionId]?.pending.removeAll()
        await startInbox(inbox)
    }

    /// Lets an inbox's deliveries through to its session: first those held since its consume.
    func startInbox(_ inbox: Inbox) async {
        while let route = inboxRoutes[inbox.key], !route.started {
            guard let first = route.held.first else {
                inboxRoutes[inbox.key]?.started = true
                return
            }
            inboxRoutes[inbox.key]?.held.removeFirst()
            await onInbox(first, session: route.session, inbox: inbox)
        }
    }

    /// A batch from the inbox sink: one consumer's deliveries, in queue order.
    func onInboxDeliveries(_ batch: [Delivery], channel: Int) async {
        for delivery in batch {
            let key = InboxKey(channel: channel, tag: delivery.consumerTag ?? "")
            guard let route = inboxRoutes[key] else {
                unclaimedInboxEvents[key, default: ([], false)].deliveries.append(delivery)
                continue
            }
            if route.started {
                await onInbox(delivery, session: route.session, inbox: route.inbox)
            } else {
                inboxRoutes[key]?.held.append(delivery)
            }
        }
    }

    /// A consumer of the inbox sink ended: what it held and never handed over goes back.
    func onInboxEnded(_ key: InboxKey) async {
        guard let route = inboxRoutes.removeValue(forKey: key) else {
            unclaimedInboxEvents[key, default: ([], false)].ended = true
            return
        }
        inboxChannels[key.channel]?.consumers -= 1
        for delivery in route.held { await returnDelivery(delivery, of: route.inbox) }
        await inboxEnded(route.inbox, session: route.session)
        retireClosedInboxChannels()
    }

    /// An inbox's consumer ended. A released one gets its remaining tags nacked back; one the
    /// session still holds was ended by the broker (a channel error on the inbox channel, the
    /// queue deleted), so it is taken again while the link lasts.
    func inboxEnded(_ inbox: Inbox, session sessionId: UInt64) async {
        if let closing = closingInboxes.removeValue(forKey: inbox.serial) {
            await requeue(closing.tags, on: inbox)
            for waiter in inboxReleaseWaiters.removeValue(forKey: inbox.serial) ?? [] { resume(waiter: waiter, with: true) }
            return
        }
        guard sessions[sessionId]?.inbox?.serial == inbox.serial else { return }
        let pending = sessions[sessionId]?.pending ?? [:]
        sessions[sessionId]?.inbox = nil
        sessions[sessionId]?.pending.removeAll()
        await requeue(Self.tags(of: inbox, in: pending), on: inbox)
        guard link?.generation == inbox.generation else { return }
        Task { await self.reattachInbox(sessionId) }
    }

    /// Ends an inbox: cancels its consumer and, once its `ended` event came, puts back what
    /// the client did not ack (`pending`, plus deliveries that come before the cancel-ok).
    /// Returns when that is done (or after the takeover timeout), so a new consumer of the
    /// same queue started afterwards gets the messages in queue order.
    /// - Parameter startDelivering: true for an inbox never started (its held deliveries
    ///   then go back too).
    func releaseInbox(_ inbox: Inbox, pending: [String: [PendingDelivery]], startDelivering: Bool) async {
        closingInboxes[inbox.serial] = ClosingInbox(inbox: inbox, tags: Self.tags(of: inbox, in: pending))
        if startDelivering { await startInbox(inbox) }
        if inbox.channel.closeReason == nil {
            try? await inbox.channel.cancel(consumerTag: inbox.consumerTag)
        }
        guard closingInboxes[inbox.serial] != nil else { return }
        _ = await wait(timeout: configuration.takeoverTimeout) { inboxReleaseWaiters[inbox.serial, default: []].append($0) }
    }

    /// Makes the unacknowledged messages of a session's inbox come again, as an `unavailable`
    /// answer to an ack promises: the inbox is released with `tags` (the ack's deliveries)
    /// put back too, and a new consumer is started. When the inbox is no longer the
    /// session's, the tags just go back to the queue.
    func redeliverInbox(_ sessionId: UInt64, inbox: Inbox, tags: [UInt64]) async {
        if sessions[sessionId]?.inbox?.serial == inbox.serial {
            var pending = sessions[sessionId]?.pending ?? [:]
            pending[""] = tags.map { PendingDelivery(deliveryTag: $0, from: nil, inbox: inbox.serial) }
            sessions[sessionId]?.inbox = nil
            sessions[sessionId]?.pending.removeAll()
            await releaseInbox(inbox, pending: pending, startDelivering: false)
            await reattachInbox(sessionId)
        } else if closingInboxes[inbox.serial] != nil {
            closingInboxes[inbox.serial]?.tags += tags
        } else {
            await requeue(tags, on: inbox)
        }
    }

    /// A delivery that came on an inbox its session no longer holds: kept for the release
    /// in progress, else put back at once.
    func returnDelivery(_ delivery: Delivery, of inbox: Inbox) async {
        if closingInboxes[inbox.serial] != nil {
            closingInboxes[inbox.serial]?.tags.append(delivery.deliveryTag)
        } else {
            await requeue([delivery.deliveryTag], on: inbox)
        }
    }

    /// Nacks `tags` with requeue, one by one in tag order (so each message goes back to its
    /// place); nothing when the channel is closed (the broker requeued them already).
    func requeue(_ tags: [UInt64], on inbox: Inbox) async {
        guard !tags.isEmpty, inbox.channel.closeReason == nil else { return }
        for tag in tags.sorted() {
            try? await inbox.channel.nack(deliveryTag: tag, multiple: false, requeue: true)
        }
    }

    static func tags(of inbox: Inbox, in pending: [String: [PendingDelivery]]) -> [UInt64] {
        pending.values.flatMap { $0 }.filter { $0.inbox == inbox.serial }.map(\.deliveryTag)
    }
}

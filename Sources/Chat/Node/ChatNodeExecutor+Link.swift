import Broker

extension ChatNodeExecutor {
    /// Serves one broker connection until it closes: declares the topology, starts the
    /// history, event and inbox consumers; presence is announced every interval meanwhile
    /// (``PresenceMachine``), and joins are served once the node caught up (``CatchUpMachine``).
    func serve(_ connection: any BrokerConnection) async throws(BrokerError) {
        let setup = try await declareTopology(on: connection.openChannel(), connection: connection)
        let nodeQueue = topology.nodeQueue(nodeId)
        try await setup.declareQueue(nodeQueue, options: QueueOptions(exclusive: true, autoDelete: true, arguments: ChatTopology.nodeQueueArguments))
        try await setup.bindQueue(nodeQueue, exchange: topology.presenceExchange, routingKey: "", arguments: [:])
        try await setup.bindQueue(nodeQueue, exchange: topology.publicExchange, routingKey: "typing.#", arguments: [:])

        let eventChannel = try await connection.openChannel()
        let events = try await eventChannel.consume(queue: nodeQueue, options: ConsumeOptions(prefetch: 0, noAck: true, exclusive: true))
        // History: where the stream ends now, then from there back `historyReadOnStart`
        // records (or on after the last one read, after a reconnect): a start costs that much,
        // however long the stream is.
        let end = try await historyEnd(connection, publishingOn: setup)
        let start: StreamOffset =
            switch historyMachine.start(end: end, readOnStart: configuration.limits.historyReadOnStart) {
            case .first: .first
            case .offset(let offset): .offset(offset)
            }
        let streamChannel = try await connection.openChannel()
        // In batches (one per unit of broker work, and all units that arrived while the node
        // was busy): the node hops onto its actor once per batch and sends each room's messages
        // of a batch as one frame (PublicFanOut).
        let stream = try await streamChannel.consumeBatches(queue: topology.historyStream, options: .stream(from: start, prefetch: 1000))
        // Claims: the whole stream at start (it is small), then on after the last one read.
        let claimsChannel = try await connection.openChannel()
        let claimsStart: StreamOffset = lastClaimsOffset.map { .offset($0 + 1) } ?? .first
        let claimRecords = try await claimsChannel.consume(queue: topology.claimsStream, options: .stream(from: claimsStart, prefetch: 1000))
        // State (accounts): the whole stream at start, then on after the last record read.
        let stateChannel = try await connection.openChannel()
        let stateStart: StreamOffset = lastStateOffset.map { .offset($0 + 1) } ?? .first
        let stateRecords = try await stateChannel.consume(queue: topology.stateStream, options: .stream(from: stateStart, prefetch: 1000))

        generation += 1
        let myGeneration = generation
        link = Link(connection: connection, publish: setup, generation: myGeneration)
        connected.store(true, ordering: .relaxed)
        logger.info("Connected to the broker", metadata: ["node": "\(nodeId)"])

        let marker = "\(nodeId)/\(myGeneration)/\(nextMarker)"
        nextMarker += 1
        run(catchUp.linkUp(generation: myGeneration, syncMarker: marker, historyEnd: end, lastHistoryOffset: historyMachine.lastOffset, readsState: true))
        _ = try await setup.publish(
            OutgoingMessage(body: BrokerRecord(kind: .sync, node: nodeId, marker: marker).body, properties: MessageProperties(persistent: true, type: "sync")),
            exchange: "", routingKey: topology.claimsStream, mandatory: false)
        _ = try await setup.publish(
            OutgoingMessage(body: BrokerRecord(kind: .sync, node: nodeId, marker: marker).body, properties: MessageProperties(persistent: true, type: "sync")),
            exchange: "", routingKey: topology.stateStream, mandatory: false)

        for sessionId in sessions.keys {
            Task { await self.reattachInbox(sessionId) }
        }
        run(presenceMachine.linkUp(generation: myGeneration, now: .now, ms: now, localRoster: localRoster))
        run(catchUp.startSecretCheck())

        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var unacked = 0
                // Everything that arrived while the last batch was read, at once (no timer).
                for await batch in CoalescedDeliveries(stream.batches) {
                    await self.onHistory(batch)
                    unacked += batch.count
                    if unacked >= 100, let last = batch.last {
                        unacked = 0
                        try? await streamChannel.ack(deliveryTag: last.deliveryTag, multiple: true)
                    }
                }
            }
            group.addTask {
                var unacked = 0
                for await delivery in claimRecords.deliveries {
                    await self.onClaimRecord(delivery)
                    unacked += 1
                    if unacked >= 100 {
                        unacked = 0
                        try? await claimsChannel.ack(deliveryTag: delivery.deliveryTag, multiple: true)
                    }
                }
            }
            group.addTask {
                var unacked = 0
                for await delivery in stateRecords.deliveries {
                    await self.onStateRecord(delivery)
                    unacked += 1
                    if unacked >= 100 {
                        unacked = 0
                        try? await stateChannel.ack(deliveryTag: delivery.deliveryTag, multiple: true)
                    }
                }
            }
            group.addTask {
                for await delivery in events.deliveries {
                    await self.onEvent(delivery)
                }
            }
            group.addTask {
                _ = await connection.waitUntilClosed()
            }
            await group.next()
            group.cancelAll()
        }
        throw connection.closeReason ?? BrokerError.connectionClosed("The broker connection ended.")
    }

    /// Declares every exchange and stream; returns the channel to go on with (another one when
    /// the broker refused `chat.state`'s arguments, which closes the channel it was asked on).
    func declareTopology(on channel: any BrokerChannel, connection: any BrokerConnection) async throws(BrokerError) -> any BrokerChannel {
        try await channel.declareExchange(topology.publicExchange, kind: .topic, options: ExchangeOptions())
        try await channel.declareExchange(topology.directExchange, kind: .direct, options: ExchangeOptions())
        try await channel.declareExchange(topology.presenceExchange, kind: .fanout, options: ExchangeOptions())
        try await channel.declareQueue(topology.historyStream, options: QueueOptions(durable: true, arguments: ChatTopology.historyStreamArguments))
        try await channel.bindQueue(topology.historyStream, exchange: topology.publicExchange, routingKey: "room.#", arguments: [:])
        try await channel.declareQueue(topology.claimsStream, options: QueueOptions(durable: true, arguments: ChatTopology.claimsStreamArguments))
        do {
            try await channel.declareQueue(topology.stateStream, options: QueueOptions(durable: true, arguments: stateStreamArguments))
            return channel
        } catch let error where error.code == BrokerError.preconditionFailed {
            // Declared by an earlier build (without the segment size) or with other sizes: used as
            // it is. Its checkpoints assume this node's sizes (Specs/amqp-topology.md).
            logger.warning(
                "chat.state exists with other arguments than this node declares (x-max-length-bytes, x-stream-max-segment-size-bytes): it is used as it is; to keep every account through retention, give it segments of at most a sixteenth of its size (see Specs/amqp-topology.md, Retention of chat.state)",
                metadata: ["stream": "\(topology.stateStream)"])
            let fresh = try await connection.openChannel()
            try await fresh.declareQueue(topology.stateStream, options: QueueOptions(passive: true))
            return fresh
        }
    }

    /// The offset where the history stream ends now: a `sync` record is published into it (so
    /// it is not empty), then a consumer from `last` (the start of its last chunk) reports the
    /// offset of its first delivery. Nil when that does not come before the machine's deadline
    /// (the takeover timeout; ``HistoryMachine/probeStarted(now:)``), then the node reads the
    /// stream from its first record.
    func historyEnd(_ connection: any BrokerConnection, publishingOn channel: any BrokerChannel) async throws(BrokerError) -> Int64? {
        let probeRecord = BrokerRecord(kind: .sync, node: nodeId, marker: "\(nodeId)/end/\(nextMarker)")
        nextMarker += 1
        try await channel.publish(
            OutgoingMessage(body: probeRecord.body, properties: MessageProperties(persistent: true, type: "sync")),
            exchange: "", routingKey: topology.historyStream, mandatory: false)
        let probeChannel = try await connection.openChannel()
        let consumer = try await probeChannel.consume(queue: topology.historyStream, options: .stream(from: .last, prefetch: 1))
        let (probe, actions) = historyMachine.probeStarted(now: .now)
        var reader: Task<Void, Never>?
        let end = await withCheckedContinuation { (continuation: CheckedContinuation<Int64?, Never>) in
            historyProbeResumer = (probe, continuation)
            reader = Task {
                var offset: Int64?
                for await delivery in consumer.deliveries {
                    offset = delivery.streamOffset
                    break
                }
                self.probeRead(probe, offset: offset)
            }
            run(actions)
        }
        reader?.cancel()
        await probeChannel.close()
        return end
    }

    private func probeRead(_ probe: Int, offset: Int64?) {
        run(historyMachine.probeRead(probe, offset: offset))
    }

    private func probeTimerFired(_ firing: MachineTimers<Int>.Firing) {
        guard historyProbeTimer.take(firing) else { return }
        run(historyMachine.probeTimerFired(firing.key))
    }

    /// Carries out the end probe's actions, in order.
    func run(_ actions: [Histories.ProbeAction]) {
        for action in actions {
            switch action {
            case .startTimer(let timer):
                historyProbeTimer.cancelAll()
                historyProbeTimer.start(timer.probe, deadline: timer.deadline) { [weak self] in await self?.probeTimerFired($0) }
            case .cancelTimer:
                historyProbeTimer.cancelAll()
            case .answer(let probe, let end):
                guard let resumer = historyProbeResumer, resumer.probe == probe else { continue }
                historyProbeResumer = nil
                resumer.continuation.resume(returning: end)
            }
        }
    }

    /// The connection is gone: waiting joins fail, inboxes are void (the broker requeued
    /// their unacknowledged messages), and the node waits for the next connection.
    func linkLost() {
        guard link != nil else { return }
        link = nil
        connected.store(false, ordering: .relaxed)
        run(catchUp.linkLost())
        run(presenceMachine.linkLost())
        run(claimsMachine.linkLost())
        run(accountsMachine.linkLost())
        retention.linkLost()
        inboxes.linkLost()
    }

    /// Graceful stop: let publishes awaiting a confirm finish (for up to the publish machine's
    /// stop grace, 2 s), tell the cluster
    /// this node's users left, then close the connection. Idempotent: a second call (the
    /// cancellation handler and the run loop both call it) waits for the first to finish.
    func shutdown(_ connection: any BrokerConnection) async {
        if let running = shutdownRun {
            await running.value
            return
        }
        let run = Task { await self.performShutdown(connection) }
        shutdownRun = run
        await run.value
    }

    private func performShutdown(_ connection: any BrokerConnection) async {
        // No announcement of this node's sessions may overtake its empty roster below.
        run(presenceMachine.stop())
        // The stream readers end with the node's task, so a confirmed public message can no
        // longer come back through the history stream: on a stopping node the confirm is
        // what says `sent` (the read-back guards against a failing cluster, not a stop).
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            stopDrained = continuation
            run(publishes.stop(now: .now))
        }
        // An announcement already under way (it may still list this node's sessions) goes out
        // before the empty roster, never after it.
        await rosterAnnouncement?.value
        if let link {
            _ = try? await link.publish.publish(rosterMessage(nicks: []), exchange: topology.presenceExchange, routingKey: "", mandatory: false)
        }
        await connection.close()
    }

    // MARK: History stream

    typealias Histories = HistoryMachine<ContinuousClock.Instant>

    /// Every public message read, by room (``HistoryMachine/history``).
    var history: RoomHistory { historyMachine.history }
    /// History records read since the node started (to show that a start reads a bounded part).
    var historyRecordsRead: Int { historyMachine.recordsRead }

    /// Reads one batch of history records in one actor turn (``HistoryMachine/read(_:hasMembers:)``):
    /// every record is indexed (history, read-back of this node's own publishes, catch-up), and
    /// each room's public messages of the batch go to the room's local sessions as one frame, so
    /// membership is the same for the whole batch and a session entering or leaving sees a
    /// batch entirely before or after.
    func onHistory(_ batch: [Delivery]) {
        let records = batch.map { Histories.Record(offset: $0.streamOffset, body: $0.body) }
        let actions = historyMachine.read(records) { room in roomMembers[room].map { !$0.isEmpty } ?? false }
        for action in actions {
            switch action {
            case .readUpTo(let offset):
                run(catchUp.historyRead(offset: offset))
            case .readBack(let msgId):
                noteReadBack(msgId)
            case .skippedUnreadable:
                logger.warning("Skipped an unreadable record in the history stream")
            case .send(let room, let frames):
                let recipients = fanOut(frames, room: room)
                metrics.publicDeliveries.increment(by: recipients * frames.count)
            }
        }
    }

    // MARK: Claims stream

    func onClaimRecord(_ delivery: Delivery) {
        if let offset = delivery.streamOffset {
            if lastClaimsOffset == nil { claimsMachine.streamBegins(at: offset) }
            lastClaimsOffset = offset
        }
        guard let record = BrokerRecord.decode(delivery.body) else {
            logger.warning("Skipped an unreadable record in the claims stream")
            return
        }
        switch record.kind {
        case .claim:
            guard let nick = record.nick, let marker = record.marker else { return }
            run(claimsMachine.record(nick: nick, marker: marker, claimant: record.claimant))
        case .sync:
            run(catchUp.syncRead(marker: record.marker))
        default:
            return
        }
    }

    // MARK: Node events

    func onEvent(_ delivery: Delivery) async {
        guard let record = BrokerRecord.decode(delivery.body) else { return }
        switch record.kind {
        case .roster:
            guard let node = record.node else { return }
            onRoster(from: node, nicks: Set(record.nicks ?? []))
        case .takeover:
            guard let node = record.node, let nick = record.nick,
                let sessionId = sessionsMachine.sessionReplacedByTakeover(of: nick, node: node, localNode: nodeId)
            else { return }
            await replace(sessionId)
        case .hello, .fingerprint:
            onSecretRecord(record)
        case .typing:
            guard let from = record.from else { return }
            let outlets = sessionsMachine.typingRecipients(from: from, room: record.room, to: record.to)
            guard !outlets.isEmpty else { return }
            broadcaster.broadcast(ChatFrameCodec.encode(.typing(Typing(from: from, room: record.room, to: record.to))), to: outlets)
        default:
            return
        }
    }
}

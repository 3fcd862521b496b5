import Broker

extension ChatNodeExecutor {
    /// Serves one broker connection until it closes: declares the topology, starts the
    /// history, event and inbox consumers; presence is announced every interval meanwhile
    /// (``PresenceMachine``), and joins are served once the node caught up (``CatchUpMachine``).
    func serve(_ connection: any BrokerConnection) async throws(BrokerError) {
        let setup = try await connection.openChannel()
        try await declareTopology(on: setup)
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
            lastStreamOffset.map { .offset($0 + 1) }
            ?? end.map { .offset(max(0, $0 - Int64(configuration.limits.historyReadOnStart))) } ?? .first
        let streamChannel = try await connection.openChannel()
        // In batches (one per unit of broker work, and all units that arrived while the node
        // was busy): the node hops onto its actor once per batch and sends each room's messages
        // of a batch as one frame (PublicFanOut).
        let stream = try await streamChannel.consumeBatches(queue: topology.historyStream, options: .stream(from: start, prefetch: 1000))
        // Claims: the whole stream at start (it is small), then on after the last one read.
        let claimsChannel = try await connection.openChannel()
        let claimsStart: StreamOffset = lastClaimsOffset.map { .offset($0 + 1) } ?? .first
        let claimRecords = try await claimsChannel.consume(queue: topology.claimsStream, options: .stream(from: claimsStart, prefetch: 1000))

        generation += 1
        let myGeneration = generation
        link = Link(connection: connection, publish: setup, generation: myGeneration)
        connected.store(true, ordering: .relaxed)
        logger.info("Connected to the broker", metadata: ["node": "\(nodeId)"])

        let marker = "\(nodeId)/\(myGeneration)/\(nextMarker)"
        nextMarker += 1
        run(catchUp.linkUp(generation: myGeneration, syncMarker: marker, historyEnd: end, lastHistoryOffset: lastStreamOffset))
        _ = try await setup.publish(
            OutgoingMessage(body: BrokerRecord(kind: .sync, node: nodeId, marker: marker).body, properties: MessageProperties(persistent: true, type: "sync")),
            exchange: "", routingKey: topology.claimsStream, mandatory: false)

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

    func declareTopology(on channel: any BrokerChannel) async throws(BrokerError) {
        try await channel.declareExchange(topology.publicExchange, kind: .topic, options: ExchangeOptions())
        try await channel.declareExchange(topology.directExchange, kind: .direct, options: ExchangeOptions())
        try await channel.declareExchange(topology.presenceExchange, kind: .fanout, options: ExchangeOptions())
        try await channel.declareQueue(topology.historyStream, options: QueueOptions(durable: true, arguments: ChatTopology.historyStreamArguments))
        try await channel.bindQueue(topology.historyStream, exchange: topology.publicExchange, routingKey: "room.#", arguments: [:])
        try await channel.declareQueue(topology.claimsStream, options: QueueOptions(durable: true, arguments: ChatTopology.claimsStreamArguments))
    }

    /// The offset where the history stream ends now: a `sync` record is published into it (so
    /// it is not empty), then a consumer from `last` (the start of its last chunk) reports the
    /// offset of its first delivery. Nil when that does not come within the takeover timeout
    /// (then the node reads the stream from its first record).
    func historyEnd(_ connection: any BrokerConnection, publishingOn channel: any BrokerChannel) async throws(BrokerError) -> Int64? {
        let probe = BrokerRecord(kind: .sync, node: nodeId, marker: "\(nodeId)/end/\(nextMarker)")
        nextMarker += 1
        try await channel.publish(
            OutgoingMessage(body: probe.body, properties: MessageProperties(persistent: true, type: "sync")),
            exchange: "", routingKey: topology.historyStream, mandatory: false)
        let probeChannel = try await connection.openChannel()
        let consumer = try await probeChannel.consume(queue: topology.historyStream, options: .stream(from: .last, prefetch: 1))
        let timeout = configuration.takeoverTimeout
        let end = await withTaskGroup(of: Int64?.self) { group in
            group.addTask {
                for await delivery in consumer.deliveries { return delivery.streamOffset }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        await probeChannel.close()
        return end
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
        inboxes.linkLost()
    }

    /// Graceful stop: let publishes awaiting a confirm finish (for up to 2 s), tell the cluster
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
        run(publishes.stop(now: .now))
        if publishes.inFlight > 0 {
            _ = await wait(timeout: .seconds(2)) { stopWaiter = $0 }
            stopWaiter = nil
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

    /// Reads one batch of history records in one actor turn: every record is indexed (history,
    /// read-back of this node's own publishes, catch-up), and each room's public messages of the
    /// batch go to the room's local sessions as one frame, so membership is the same for the
    /// whole batch and a session entering or leaving sees a batch entirely before or after.
    func onHistory(_ batch: [Delivery]) {
        var fanOut = PublicFanOut()
        /// Whether a room has local sessions, looked up once per room and batch.
        var hasMembers: [String: Bool] = [:]
        for delivery in batch {
            guard let message = readHistoryRecord(delivery), let room = message.room else { continue }
            let local =
                hasMembers[room]
                ?? {
                    let found = roomMembers[room].map { !$0.isEmpty } ?? false
                    hasMembers[room] = found
                    return found
                }()
            if local { fanOut.append(ChatFrameCodec.encode(.message(message)), room: room) }
        }
        guard !fanOut.isEmpty else { return }
        for send in fanOut.sends() {
            let recipients = self.fanOut(send.frames, room: send.room)
            metrics.publicDeliveries.increment(by: recipients * send.frames.count)
        }
    }

    /// Indexes one history record: returns the public message it carries, if any.
    private func readHistoryRecord(_ delivery: Delivery) -> ChatMessage? {
        historyRecordsRead += 1
        if let offset = delivery.streamOffset {
            lastStreamOffset = offset
            history.noteRead(offset: offset)
            run(catchUp.historyRead(offset: offset))
        }
        guard let record = BrokerRecord.decode(delivery.body) else {
            logger.warning("Skipped an unreadable record in the history stream")
            return nil
        }
        guard record.kind == .say, let msgId = record.msgId, let from = record.from, let room = record.room,
            let text = record.text, let ts = record.ts, ChatName.isValid(room)
        else { return nil }
        noteReadBack(msgId)
        let message = ChatMessage(msgId: msgId, from: from, room: room, text: text, ts: ts, seq: delivery.streamOffset)
        history.append(message, room: room)
        return message
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
            guard let node = record.node, node != nodeId, let nick = record.nick, let sessionId = nickOwner[nick] else { return }
            await replace(sessionId)
        case .hello, .fingerprint:
            onSecretRecord(record)
        case .typing:
            guard let from = record.from else { return }
            let frame = ChatFrameCodec.encode(.typing(Typing(from: from, room: record.room, to: record.to)))
            if let room = record.room {
                let outlets = (roomMembers[room] ?? [:]).compactMap { id, outlet in sessions[id]?.nick == from ? nil : outlet }
                broadcaster.broadcast(frame, to: outlets)
            } else if let to = record.to, let sessionId = nickOwner[to], let entry = sessions[sessionId] {
                entry.session.outlet.send(frame)
            }
        default:
            return
        }
    }
}

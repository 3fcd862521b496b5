import Broker

extension ChatNodeExecutor {
    typealias ReadStates = ReadStateMachine<UInt64>

    /// A deferred `read` of one session and conversation.
    struct ReadTimerKey: Sendable, Hashable {
        var session: UInt64
        var conversation: ReadStates.Conversation
    }

    /// How this node declares `chat.state` (``ChatLimits/stateStreamBytes``, ``ChatLimits/stateSegmentBytes``).
    var stateStreamArguments: AMQPTable {
        ChatTopology.stateStreamArguments(maxBytes: configuration.limits.stateStreamBytes, segmentBytes: configuration.limits.stateSegmentBytes)
    }

    /// `read` of a room: the read-state machine decides (capped, throttled); a record is
    /// published (confirmed). Nothing is answered; the stream brings it to every node, which
    /// tells the user's other sessions.
    func markRead(room: String, upTo: Int64, session: ChatSession) async {
        guard let entry = sessions[session.id] else { return }
        let conversation = ReadStates.Conversation.room(room)
        let origin = ReadStates.origin(node: nodeId, session: session.id)
        switch readState.requestRead(
            session: session.id, origin: origin, nick: entry.nick, conversation: conversation, upTo: upTo, lastOffset: historyMachine.lastOffset, now: now)
        {
        case .ignore, .deferred:
            return
        case .refused(let error):
            session.send(error.frame)
        case .deferUntil(let deadline):
            let key = ReadTimerKey(session: session.id, conversation: conversation)
            readTimers.start(key, deadline: .now + .milliseconds(max(0, deadline - now))) { [weak self] in await self?.readTimerFired($0) }
        case .publish(let record):
            if await !publishState(StateRecord(record), nick: record.nick) {
                session.send(ChatProtocolError(.unavailable, "Your read position could not be stored: it is sent again with your next read.").frame)
            }
        }
    }

    private func readTimerFired(_ firing: MachineTimers<ReadTimerKey>.Firing) async {
        guard readTimers.take(firing) else { return }
        guard let record = readState.throttleFired(session: firing.key.session, conversation: firing.key.conversation, now: now) else { return }
        _ = await publishState(StateRecord(record), nick: record.nick)
    }

    /// A session ended: its deferred reads are published now.
    func readStateSessionEnded(_ sessionId: UInt64) {
        let records = readState.sessionEnded(sessionId)
        for key in readTimers.keys where key.session == sessionId { readTimers.cancel(key) }
        guard !records.isEmpty else { return }
        Task { for record in records { _ = await self.publishState(StateRecord(record), nick: record.nick) } }
    }

    /// `settings`: stored (confirmed), then answered with the settings as stored; the user's
    /// other sessions get `settings` when their node reads the record.
    func changeSettings(privateReceipts: Bool, session: ChatSession) async {
        guard let entry = sessions[session.id] else { return }
        let record = ReadStates.Record.settings(
            nick: entry.nick, privateReceipts: privateReceipts, ts: now, origin: ReadStates.origin(node: nodeId, session: session.id))
        guard await publishState(StateRecord(record), nick: entry.nick) else {
            session.send(ChatProtocolError(.unavailable, "Your settings could not be stored: try again in a few seconds.").frame)
            return
        }
        // Known here at once; the stream brings the same record back (newest wins).
        run(readState.read(record))
        session.send(.settings(Settings(privateReceipts: privateReceipts)))
    }

    func run(_ actions: [ReadStates.Action]) {
        for action in actions {
            switch action {
            case .tell(let nick, let frame, let exceptOrigin):
                // One session per nick today (a join takes the nick over).
                guard let id = nickOwner[nick], ReadStates.origin(node: nodeId, session: id) != exceptOrigin else { continue }
                send(frame, to: id)
            }
        }
    }

    /// The welcome's read state of `nick`.
    func welcomeReadState(of nick: String) -> Join.ReadState {
        let counts = readState.welcome(of: nick, history: history)
        return Join.ReadState(read: counts.read, unread: counts.unread, privateReceipts: readState.privateReceipts(of: nick))
    }

    // MARK: chat.state retention

    /// Folds one `chat.state` record (not a `sync`) into the machines, and lets the retention
    /// machine decide whether this node checkpoints now.
    func foldStateRecord(_ body: [UInt8], offset: Int64?) {
        let decoded = StateRecord.decodeEntry(body)
        switch decoded.entry {
        case .account(let record):
            run(accountsMachine.read(record, offset: offset))
        case .readState(let record):
            run(readState.read(record))
        case .checkpoint(let nick, let at, let accounts, let reads):
            run(accountsMachine.readCheckpoint(nick: nick, at: at, parts: accounts))
            for record in reads { run(readState.read(record)) }
        case nil:
            break
        }
        let isCheckpoint: Bool = if case .checkpoint = decoded.entry { true } else { false }
        run(retention.read(nick: decoded.entry == nil ? nil : decoded.nick, bytes: body.count, isCheckpoint: isCheckpoint, origin: decoded.node))
    }

    /// A `sync` record of `chat.state`: it counts for retention, and names its node.
    func countStateSync(_ body: [UInt8], node: String?) {
        run(retention.read(nick: nil, bytes: body.count, isCheckpoint: false, origin: node))
    }

    private func publishCheckpoint(_ record: StateRecord) async {
        if await !publishState(record, nick: record.nick) { retention.checkpointFailed(record.nick) }
    }

    func run(_ actions: [StateRetentionMachine.Action]) {
        for action in actions {
            switch action {
            case .checkpoint(let nicks):
                let at = lastStateOffset ?? -1
                var records: [StateRecord] = []
                for nick in nicks {
                    let parts = accountsMachine.records(of: nick).map { StateRecord($0) } + readState.records(of: nick).map { StateRecord($0) }
                    if parts.isEmpty {
                        retention.forget(nick)
                    } else {
                        records.append(.checkpoint(nick: nick, at: at, ts: now, parts: parts))
                    }
                }
                guard !records.isEmpty else { continue }
                checkpointsPublished += records.count
                logger.info("Checkpointing users' state in chat.state before retention could drop it", metadata: ["users": "\(records.count)"])
                Task { for record in records { await self.publishCheckpoint(record) } }
            }
        }
    }
}

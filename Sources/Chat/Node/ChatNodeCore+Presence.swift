import Broker

extension ChatNodeCore {
    /// The nicks of this node's joined sessions.
    var localRoster: Set<String> { Set(sessions.values.map(\.nick)) }

    func rosterMessage(nicks: Set<String>) -> OutgoingMessage {
        OutgoingMessage(body: BrokerRecord(kind: .roster, node: nodeId, nicks: nicks.sorted()).body, properties: MessageProperties(type: "roster"))
    }

    /// A local session joined (`online`), or the last local session of `nick` ended. The table
    /// changes at once; the sessions and the other nodes hear of it at the next flush.
    func localPresence(nick: String, online: Bool) {
        queuePresence(presence.update(node: nodeId, nick: nick, online: online, now: now))
        localRosterChanged = true
        schedulePresenceFlush()
    }

    /// Queues changes for the next `presence` frame.
    func queuePresence(_ changes: [PresenceTable.Change]) {
        guard !changes.isEmpty else { return }
        for change in changes { claimsMachine.seen(change.nick) }
        presenceBatch.add(changes)
        rosterSnapshotStale = true
        schedulePresenceFlush()
    }

    /// A nick was claimed: the welcome roster must list it from now on.
    func claimsChanged() {
        rosterSnapshotStale = true
    }

    /// Flushes after `presenceBatchInterval`, unless a flush is already due.
    func schedulePresenceFlush() {
        guard !presenceFlushScheduled else { return }
        presenceFlushScheduled = true
        let interval = configuration.presenceBatchInterval
        Task { [weak self] in
            try? await Task.sleep(for: interval)
            await self?.flushPresence()
        }
    }

    /// Sends the batched changes as one frame, the same bytes to every joined session; takes the
    /// welcome roster snapshot of what they now know; announces the local roster if it changed.
    func flushPresence() {
        presenceFlushScheduled = false
        if let frame = presenceBatch.take(ts: now), !sessions.isEmpty {
            broadcaster.broadcast(ChatFrameCodec.encode(.presence(frame)), to: sessions.values.map(\.session.outlet))
        }
        if rosterSnapshotStale { rebuildRosterSnapshot() }
        if localRosterChanged { announceRoster() }
    }

    /// The `users` of a welcome: the snapshot of the last flush while changes since then wait
    /// in the batch (the new session gets them with everyone else in the next frame); a fresh
    /// one when nothing waits (then only claims changed, and no frame would tell them).
    func welcomeRoster() -> RosterSnapshot {
        if let rosterSnapshot, !rosterSnapshotStale || !presenceBatch.isEmpty { return rosterSnapshot }
        return rebuildRosterSnapshot()
    }

    @discardableResult
    private func rebuildRosterSnapshot() -> RosterSnapshot {
        let snapshot = RosterSnapshot(users: welcomeRosterUsers())
        rosterSnapshot = snapshot
        rosterSnapshotStale = false
        return snapshot
    }

    /// Applies the local roster at once and announces it to the other nodes; announcements
    /// never overlap, and a change during one is announced right after it.
    func announceRoster() {
        localRosterChanged = false
        queuePresence(presence.apply(node: nodeId, nicks: localRoster, now: now))
        guard !announcing else {
            rosterDirty = true
            return
        }
        announcing = true
        Task { await self.announceLoop() }
    }

    private func announceLoop() async {
        defer { announcing = false }
        repeat {
            rosterDirty = false
            let message = rosterMessage(nicks: localRoster)
            guard let channel = try? await publisher() else { return }
            do {
                try await channel.publish(message, exchange: topology.presenceExchange, routingKey: "", mandatory: false)
            } catch {
                logger.debug("Could not announce the roster", metadata: ["error": "\(error)"])
                return
            }
        } while rosterDirty
    }
}

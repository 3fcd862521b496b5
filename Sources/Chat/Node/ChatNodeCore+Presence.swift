import Broker

extension ChatNodeCore {
    /// The nicks of this node's joined sessions.
    var localRoster: Set<String> { Set(sessions.values.map(\.nick)) }

    func rosterMessage(nicks: Set<String>) -> OutgoingMessage {
        OutgoingMessage(body: BrokerRecord(kind: .roster, node: nodeId, nicks: nicks.sorted()).body, properties: MessageProperties(type: "roster"))
    }

    /// Applies the local roster at once and announces it to the other nodes; announcements
    /// never overlap, and a change during one is announced right after it.
    func announceRoster() {
        let roster = localRoster
        broadcastPresence(presence.apply(node: nodeId, nicks: roster, now: now))
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

    /// Tells every joined local session about nicks that came or went.
    func broadcastPresence(_ changes: [PresenceTable.Change]) {
        guard !changes.isEmpty, !sessions.isEmpty else { return }
        let outlets = sessions.values.map(\.session.outlet)
        let ts = now
        for change in changes {
            broadcaster.broadcast(ChatFrameCodec.encode(.presence(Presence(nick: change.nick, online: change.online, ts: ts))), to: outlets)
        }
    }
}

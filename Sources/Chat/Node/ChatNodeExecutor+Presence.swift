import Broker

/// The executor of ``PresenceMachine``: it feeds the machine what happened (a local session
/// joined or left, another node's roster came, the link came up or went, a timer fired, an
/// announcement went out) and carries out the actions it returns, in order. It decides nothing
/// about who is online or when the sessions hear of it.
extension ChatNodeExecutor {
    typealias Presences = PresenceMachine<ContinuousClock.Instant>

    static func presenceTimings(_ configuration: ChatConfiguration) -> Presences.Timings {
        Presences.Timings(
            batchInterval: configuration.presenceBatchInterval, announceInterval: configuration.presenceInterval,
            expiryMilliseconds: configuration.presenceExpiry.milliseconds)
    }

    /// Who is online in the cluster.
    var presence: PresenceTable { presenceMachine.table }

    /// The nicks of this node's joined sessions.
    var localRoster: Set<String> { Set(sessions.values.map(\.nick)) }

    func rosterMessage(nicks: Set<String>) -> OutgoingMessage {
        OutgoingMessage(body: BrokerRecord(kind: .roster, node: nodeId, nicks: nicks.sorted()).body, properties: MessageProperties(type: "roster"))
    }

    /// A local session joined (`online`), or the last local session of `nick` ended.
    func localPresence(nick: String, online: Bool) {
        run(presenceMachine.localPresence(nick: nick, online: online, now: .now, ms: now))
    }

    /// Another node's roster announcement.
    func onRoster(from node: String, nicks: Set<String>) {
        run(presenceMachine.rosterReceived(from: node, nicks: nicks, now: .now, ms: now, localRoster: localRoster))
    }

    /// A nick was claimed: the welcome roster must list it from now on.
    func claimsChanged() {
        presenceMachine.claimsChanged()
    }

    /// The `users` of a welcome (see ``PresenceMachine/welcomeRoster()``).
    func welcomeRoster() -> RosterSnapshot {
        if let snapshot = presenceMachine.welcomeRoster() { return snapshot }
        let snapshot = RosterSnapshot(users: welcomeRosterUsers())
        presenceMachine.snapshotTaken(snapshot)
        return snapshot
    }

    /// Carries out the machine's actions, in order.
    func run(_ actions: [Presences.Action]) {
        for action in actions {
            switch action {
            case .startTimer(let timer):
                presenceTimers.start(timer.kind, deadline: timer.deadline) { [weak self] in await self?.presenceTimerFired($0) }
            case .cancelTimer(let kind):
                presenceTimers.cancel(kind)
            case .sendPresence(let frame):
                guard !sessions.isEmpty else { continue }
                broadcaster.broadcast(ChatFrameCodec.encode(.presence(frame)), to: sessions.values.map(\.session.outlet))
            case .changed(let changes):
                for change in changes { claimsMachine.seen(change.nick) }
            case .takeRosterSnapshot:
                presenceMachine.snapshotTaken(RosterSnapshot(users: welcomeRosterUsers()))
            case .publishRoster(let nicks):
                // The machine has at most one announcement out; a graceful stop awaits it, so
                // that it cannot overtake the stop's empty roster.
                rosterAnnouncement = Task { await self.publishRoster(nicks) }
            case .tick:
                publishes.forgetIdleSenders(now: now)
            }
        }
    }

    private func presenceTimerFired(_ firing: MachineTimers<Presences.TimerKind>.Firing) {
        guard presenceTimers.take(firing) else { return }
        run(presenceMachine.timerFired(firing.key, now: .now, ms: now, localRoster: localRoster))
    }

    /// Publishes one roster announcement and tells the machine how it went.
    private func publishRoster(_ nicks: Set<String>) async {
        var published = false
        if let channel = try? await publisher() {
            do {
                try await channel.publish(rosterMessage(nicks: nicks), exchange: topology.presenceExchange, routingKey: "", mandatory: false)
                published = true
            } catch {
                logger.debug("Could not announce the roster", metadata: ["error": "\(error)"])
            }
        }
        run(presenceMachine.announceFinished(published: published, localRoster: localRoster))
    }
}

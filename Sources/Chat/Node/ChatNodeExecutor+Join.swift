import Broker
import OrderedCollections

extension ChatNodeExecutor {
    typealias Sessions = SessionsMachine<SessionEntry>
    typealias Claims = ClaimsMachine<ContinuousClock.Instant>
    typealias ClaimOutcome = Claims.Outcome

    // MARK: The machines' state, read where the node needs it

    /// Every joined session (``SessionsMachine/sessions``); an entry's own fields (inbox,
    /// pending deliveries, typing limiter) may be changed through it.
    var sessions: [UInt64: SessionEntry] {
        get { sessionsMachine.sessions }
        _modify { yield &sessionsMachine.sessions }
    }
    var nickOwner: [String: UInt64] { sessionsMachine.nickOwner }
    var roomMembers: [String: OrderedDictionary<UInt64, any ChatOutlet>] { sessionsMachine.roomMembers }
    /// The first claim record of every claimed nick, as read from the stream.
    var claims: [String: Claim] { claimsMachine.claims }
    var claimsStreamComplete: Bool { claimsMachine.streamComplete }

    func outlets(inRoom room: String) -> [any ChatOutlet] {
        sessionsMachine.outlets(inRoom: room)
    }

    typealias Join = JoinMachine<ContinuousClock.Instant>

    /// `join`: a ``JoinMachine`` decides each step (wait for the catch-up, the gate, the
    /// claim, the user queue, the take-over of the nick and the inbox, the welcome or the
    /// error); this performs the steps and feeds their results back. Waiting private messages
    /// follow the welcome.
    func join(_ session: ChatSession, _ request: JoinRequest) async {
        let sessionId = session.id
        var join = Join(request: request, nodeId: nodeId, tokens: tokens, messageIds: messageIds, limits: configuration.limits)
        var action = join.start(sessionsMachine.startJoin(sessionId))
        var inbox: Inbox?
        steps: while true {
            switch action {
            case .waitUntilCaughtUp:
                action = join.caughtUp(await waitUntilCaughtUp())
            case .enterGate:
                // The broker calls below queue on the node's one connection: joins take turns.
                await enterJoinGate()
                action = join.enteredGate()
            case .checkAdmission(let nick, let token, let claimant):
                // The accounts machine first: a password (derived off the actor) or a session
                // token proves the nick in place of the HMAC token.
                switch await signIn(request, address: session.address) {
                case .open:
                    action = join.admission(claimsMachine.admission(of: nick, token: token, claimant: claimant))
                case .signedIn:
                    action = join.admission(claimsMachine.admission(of: nick, token: .valid, claimant: claimant))
                case .device(let id, let refreshSeen):
                    if refreshSeen { self.refreshSeen(nick: nick, device: id) }
                    action = join.admission(
                        claimsMachine.admission(of: nick, token: .valid, claimant: claimant), device: .existing(id: id, session: request.session ?? ""))
                case .refused(let error):
                    action = join.refused(error)
                }
            case .recordDevice(let nick, let label):
                let recorded = await recordDevice(nick: nick, label: label)
                action = join.deviceRecorded(recorded.map { Join.DeviceSession(id: $0.id, session: $0.session) })
            case .recordClaim(let nick, let marker):
                await publishClaim(nick: nick, marker: marker, claimant: nil)
                action = join.claimRecorded()
            case .claim(let nick, let claimant, let checkQueue):
                let outcome = await claim(nick, claimant: claimant, checkQueue: checkQueue)
                if outcome == .unavailable {
                    logger.warning("A claim was not decided in time (or the link was lost): its join is answered unavailable", metadata: ["nick": "\(nick)"])
                }
                action = join.claimed(outcome)
            case .declareQueue(let nick):
                let declared = await declareAndBindUserQueue(nick)
                action = join.queueDeclared(declared, sessionClosed: session.isClosed)
            case .takeOverNick(let nick):
                await run(sessionsMachine.takeOver(nick, by: sessionId))
                sessionsMachine.own(nick, by: sessionId)
                await publishTakeover(nick)
                action = join.tookOverNick()
            case .takeInbox(let nick):
                inbox = await acquireInbox(nick: nick, owner: sessionId)
                action = join.inboxTaken(
                    inbox.map { _ in
                        Join.Standing(ownsNick: sessionsMachine.owns(nick, sessionId), isClosed: session.isClosed, isJoined: sessions[sessionId] != nil)
                    })
            case .admit(let nick, let rooms):
                let limits = configuration.limits
                let entry = SessionEntry(
                    session: session, nick: nick, device: join.device?.id, rooms: rooms,
                    typingLimiter: RateLimiter(rate: limits.typingPerSecond, burst: limits.typingBurst, strikesToClose: .max))
                sessionsMachine.joined(sessionId, entry)
                metrics.joinedSessions.record(sessions.count)
                action = join.admitted(history: history, roster: welcomeRoster(), readState: welcomeReadState(of: nick))
            case .welcome(_, let frame, let followUp):
                session.outlet.send(frame)
                for frame in followUp { session.send(frame) }
                localPresence(nick: join.nick, online: true)
                if let inbox { await startInbox(inbox, session: sessionId, nick: join.nick) }
                // Its device was signed out while the join ran (a `revoke` read meanwhile found
                // no live session of it yet): it closes now, as every session of it did.
                if let device = join.device?.id, !accountsMachine.isSignedIn(nick: join.nick, device: device) {
                    closeSignedOut(nick: join.nick, devices: [device])
                }
                break steps
            case .fail(let error, let disown):
                if let disown { sessionsMachine.disown(disown, by: sessionId) }
                session.send(error.frame)
                break steps
            case .releaseInbox:
                if let inbox { await releaseInbox(inbox) }
                break steps
            case .finish:
                break steps
            }
        }
        if join.holdsGate { leaveJoinGate() }
        if join.started { sessionsMachine.joinFinished(sessionId) }
    }

    /// Declares `user.<nick>` with the inbox caps, on a channel of its own (a queue declared
    /// without them refuses: ChatNodeExecutor+InboxCaps.swift), and binds it on the shared
    /// channel. False when the broker failed.
    private func declareAndBindUserQueue(_ nick: String) async -> Bool {
        do {
            try await declareUserQueue(nick)
            let channel = try await publisher()
            try await channel.bindQueue(topology.userQueue(nick), exchange: topology.directExchange, routingKey: nick, arguments: [:])
            return true
        } catch {
            logger.warning("Could not declare a user queue", metadata: ["nick": "\(nick)", "error": "\(error)"])
            return false
        }
    }

    /// Tells every node that this one took `nick` over: a session of the nick on another node
    /// is replaced and lets go of the inbox. Best effort: without it the inbox take-over runs
    /// into its timeout.
    private func publishTakeover(_ nick: String) async {
        guard let channel = try? await publisher() else { return }
        let takeover = BrokerRecord(kind: .takeover, nick: nick, node: nodeId)
        _ = try? await channel.publish(
            OutgoingMessage(body: takeover.body, properties: MessageProperties(type: "takeover")),
            exchange: topology.presenceExchange, routingKey: "", mandatory: false)
    }

    /// Claims a nick this node has no claim record of (``ClaimsMachine/claim(_:claimant:queueExists:marker:waiter:now:)``)
    /// and returns once its record came back through the claims stream, its deadline passed
    /// or the link was lost. The queue check (a passive declare on a channel of its own: two
    /// broker round trips on the node's one connection, which every join's calls queue on) is
    /// made only when the machine asks for it.
    func claim(_ nick: String, claimant: String?, checkQueue: Bool) async -> ClaimOutcome {
        var queueExists: Bool? = false
        if checkQueue { queueExists = await userQueueExists(nick) }
        let marker = "\(nodeId)/claim/\(nextMarker)"
        nextMarker += 1
        let waiter = nextWaiter
        nextWaiter += 1
        return await withCheckedContinuation { (continuation: CheckedContinuation<ClaimOutcome, Never>) in
            claimResumers[waiter] = continuation
            run(claimsMachine.claim(nick, claimant: claimant, queueExists: queueExists, marker: marker, waiter: waiter, now: .now))
        }
    }

    /// Carries out the claims machine's actions, in order.
    func run(_ actions: [Claims.Action]) {
        for action in actions {
            switch action {
            case .publishClaim(let nick, let marker, let claimant):
                Task { await self.publishClaim(nick: nick, marker: marker, claimant: claimant) }
            case .startTimer(let timer):
                claimTimers.start(timer.marker, deadline: timer.deadline) { [weak self] in await self?.claimTimerFired($0) }
            case .cancelTimer(let marker):
                claimTimers.cancel(marker)
            case .answer(let waiter, let outcome):
                claimResumers.removeValue(forKey: waiter)?.resume(returning: outcome)
            case .claimsChanged:
                claimsChanged()
            }
        }
    }

    private func claimTimerFired(_ firing: MachineTimers<String>.Firing) {
        guard claimTimers.take(firing) else { return }
        run(claimsMachine.timerFired(firing.key))
    }

    /// Whether `user.<nick>` exists: a passive declare, on a channel of its own because a
    /// missing queue closes the channel. Nil when the broker could not say.
    func userQueueExists(_ nick: String) async -> Bool? {
        do {
            try await withTemporaryChannel { channel throws(BrokerError) in
                _ = try await channel.declareQueue(topology.userQueue(nick), options: QueueOptions(passive: true))
            }
            return true
        } catch let error where error.code == BrokerError.notFound {
            return false
        } catch {
            return nil
        }
    }

    func publishClaim(nick: String, marker: String, claimant: String?) async {
        let record = BrokerRecord(kind: .claim, nick: nick, marker: marker, claimant: claimant)
        guard let channel = try? await publisher() else { return }
        _ = try? await channel.publish(
            OutgoingMessage(body: record.body, properties: MessageProperties(persistent: true, type: "claim")),
            exchange: "", routingKey: topology.claimsStream, mandatory: false)
    }

    /// Another session took the nick: this one gets `replaced` and is closed (4001).
    func replace(_ sessionId: UInt64, announce: Bool = true) async {
        await run(sessionsMachine.replace(sessionId, announce: announce))
    }

    /// The client went away or was replaced: leave rooms, release the inbox (what the client
    /// did not ack goes back to the queue), update presence.
    func sessionEnded(_ sessionId: UInt64) async {
        await endSession(sessionId)
    }

    /// - Parameter announce: false when a new session of the same nick on this node takes
    ///   over right away, so the nick does not flap offline and online.
    func endSession(_ sessionId: UInt64, announce: Bool = true) async {
        await run(sessionsMachine.end(sessionId, announce: announce))
    }

    /// Carries out the sessions machine's actions, in order (an inbox release is awaited).
    func run(_ actions: [Sessions.Action]) async {
        for action in actions {
            switch action {
            case .letIn(let waiter):
                joinGateResumers.removeValue(forKey: waiter)?.resume()
            case .close(_, let entry):
                entry.session.markClosed()
                entry.session.send(ChatProtocolError(.replaced, "Your nick \(entry.nick) joined from another connection, so this one is closed.").frame)
                entry.session.outlet.close(code: ChatCloseCode.replaced, reason: "Replaced")
            case .ended(let sessionId):
                publishes.sessionEnded(sessionId)
                readStateSessionEnded(sessionId)
                metrics.joinedSessions.record(sessions.count)
            case .offline(let nick):
                localPresence(nick: nick, online: false)
            case .releaseInbox(let sessionId):
                await releaseInbox(ofEndedSession: sessionId)
            }
        }
    }

    static func unavailable(id: String? = nil) -> ServerFrame {
        Join.unavailable(id: id).frame
    }
}

extension ChatNodeExecutor.SessionEntry {
    var outlet: any ChatOutlet { session.outlet }
}

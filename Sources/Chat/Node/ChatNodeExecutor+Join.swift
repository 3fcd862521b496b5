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

    /// `join`: checks or claims the nick, takes it over from any older session in the cluster,
    /// takes the user's inbox, then welcomes the session. Waiting private messages follow.
    func join(_ session: ChatSession, _ request: JoinRequest) async {
        let sessionId = session.id
        switch sessionsMachine.startJoin(sessionId) {
        case .go:
            break
        case .alreadyJoined(let nick):
            session.send(ChatProtocolError(.badRequest, "You already joined as \(nick): open a new connection to join as someone else.").frame)
            return
        case .underWay:
            session.send(ChatProtocolError(.badRequest, "A join is already under way on this connection: wait for its welcome.").frame)
            return
        }
        defer { sessionsMachine.joinFinished(sessionId) }
        let nick = request.nick
        guard await waitUntilCaughtUp() else {
            session.send(Self.unavailable())
            return
        }
        // The broker calls below queue on the node's one connection: joins take turns.
        await enterJoinGate()
        defer { leaveJoinGate() }

        let claimant = request.nonce.map { tokens.claimant(for: nick, nonce: $0) }
        let token: Claims.Token = request.token.map { tokens.verify($0, for: nick) ? .valid : .invalid } ?? .absent
        switch claimsMachine.admission(of: nick, token: token, claimant: claimant) {
        case .granted:
            break
        case .grantedRecordingClaim:
            await publishClaim(nick: nick, marker: "token/\(nodeId)", claimant: nil)
        case .badToken:
            session.send(
                ChatProtocolError(
                    .authFailed, "This token is not valid for the nick \(nick): join with the token you got in its first welcome, or pick another nick."
                ).frame)
            return
        case .taken:
            session.send(Self.nickTaken(nick))
            return
        case .claim(let checkQueue):
            switch await claim(nick, claimant: claimant, checkQueue: checkQueue) {
            case .won: break
            case .taken:
                session.send(Self.nickTaken(nick))
                return
            case .unavailable:
                session.send(Self.unavailable())
                return
            }
        }

        do {
            // With the inbox caps, on a channel of its own (a queue declared without them
            // refuses: ChatNodeExecutor+InboxCaps.swift); the binding on the shared channel.
            try await declareUserQueue(nick)
            let channel = try await publisher()
            try await channel.bindQueue(topology.userQueue(nick), exchange: topology.directExchange, routingKey: nick, arguments: [:])
        } catch {
            logger.warning("Could not declare a user queue", metadata: ["nick": "\(nick)", "error": "\(error)"])
            session.send(Self.unavailable())
            return
        }
        guard !session.isClosed else { return }

        await run(sessionsMachine.takeOver(nick, by: sessionId))
        sessionsMachine.own(nick, by: sessionId)
        if let channel = try? await publisher() {
            let takeover = BrokerRecord(kind: .takeover, nick: nick, node: nodeId)
            _ = try? await channel.publish(
                OutgoingMessage(body: takeover.body, properties: MessageProperties(type: "takeover")),
                exchange: topology.presenceExchange, routingKey: "", mandatory: false)
        }
        let inbox = await acquireInbox(nick: nick, owner: sessionId)
        guard let inbox else {
            sessionsMachine.disown(nick, by: sessionId)
            session.send(ChatProtocolError(.unavailable, "Your nick is still held by another connection or the broker is down: join again in a moment.").frame)
            return
        }
        guard sessionsMachine.owns(nick, sessionId), !session.isClosed, sessions[sessionId] == nil else {
            await releaseInbox(inbox)
            return
        }

        let rooms = OrderedSet(request.rooms ?? [ChatName.lobby])
        let limits = configuration.limits
        let entry = SessionEntry(
            session: session, nick: nick, rooms: rooms,
            typingLimiter: RateLimiter(rate: limits.typingPerSecond, burst: limits.typingBurst, strikesToClose: .max))
        sessionsMachine.joined(sessionId, entry)
        metrics.joinedSessions.record(sessions.count)
        let pages = history.welcome(
            rooms: rooms, resume: request.resume?.rooms ?? [:], limit: limits.historyOnJoin, maxBytes: limits.welcomeHistoryBytes / max(1, rooms.count))
        // The roster as the sessions were last told; the changes since, this join's included,
        // come to every session (this one too) in the next `presence` frame.
        let roster = welcomeRoster()
        let welcome = Welcome(
            nick: nick, token: tokens.token(for: nick), users: [], rooms: history.recentRoomNames(limit: limits.welcomeRooms),
            entered: Array(rooms), history: pages.history, moreHistory: pages.moreHistory,
            pending: request.pending.map { ids in
                Dictionary(ids.map { ($0, messageIds.messageId(sender: nick, clientId: $0)) }, uniquingKeysWith: { first, _ in first })
            })
        session.outlet.send(ChatFrameCodec.encodeWelcome(welcome, usersJSON: roster.json(withOnline: nick)) { roster.users(withOnline: nick) })
        for frame in pages.followUp { session.send(frame) }
        localPresence(nick: nick, online: true)
        await startInbox(inbox, session: sessionId, nick: nick)
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
                claimTimers[timer.marker] = Task { [weak self] in
                    guard (try? await Task.sleep(until: timer.deadline, clock: .continuous)) != nil else { return }
                    await self?.claimTimerFired(timer.marker)
                }
            case .cancelTimer(let marker):
                claimTimers.removeValue(forKey: marker)?.cancel()
            case .answer(let waiter, let outcome):
                claimResumers.removeValue(forKey: waiter)?.resume(returning: outcome)
            case .claimsChanged:
                claimsChanged()
            }
        }
    }

    private func claimTimerFired(_ marker: String) {
        claimTimers.removeValue(forKey: marker)
        run(claimsMachine.timerFired(marker))
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
                metrics.joinedSessions.record(sessions.count)
            case .offline(let nick):
                localPresence(nick: nick, online: false)
            case .releaseInbox(let sessionId):
                await releaseInbox(ofEndedSession: sessionId)
            }
        }
    }

    static func unavailable(id: String? = nil) -> ServerFrame {
        ChatProtocolError(.unavailable, "The chat cannot reach its message broker right now: try again in a moment.", id: id).frame
    }

    static func nickTaken(_ nick: String) -> ServerFrame {
        ChatProtocolError(.authFailed, "The nick \(nick) is taken: join with its token, or pick another nick.").frame
    }
}

extension ChatNodeExecutor.SessionEntry {
    var outlet: any ChatOutlet { session.outlet }
}

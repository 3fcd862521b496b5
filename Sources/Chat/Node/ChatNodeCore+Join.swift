import Broker
import OrderedCollections

extension ChatNodeCore {
    enum ClaimOutcome { case won, taken, unavailable }

    /// `join`: checks or claims the nick, takes it over from any older session in the cluster,
    /// takes the user's inbox, then welcomes the session. Waiting private messages follow.
    func join(_ session: ChatSession, _ request: JoinRequest) async {
        let sessionId = session.id
        if let entry = sessions[sessionId] {
            session.send(ChatProtocolError(.badRequest, "You already joined as \(entry.nick): open a new connection to join as someone else.").frame)
            return
        }
        guard joining.insert(sessionId).inserted else {
            session.send(ChatProtocolError(.badRequest, "A join is already under way on this connection: wait for its welcome.").frame)
            return
        }
        defer { joining.remove(sessionId) }
        let nick = request.nick
        guard await waitUntilCaughtUp() else {
            session.send(Self.unavailable())
            return
        }
        // The broker calls below queue on the node's one connection: joins take turns.
        await enterJoinGate()
        defer { leaveJoinGate() }

        let claimant = request.nonce.map { tokens.claimant(for: nick, nonce: $0) }
        if let token = request.token {
            guard tokens.verify(token, for: nick) else {
                session.send(ChatProtocolError(.authFailed, "This token is not valid for the nick \(nick): join with the token you got in its first welcome, or pick another nick.").frame)
                return
            }
            if claims[nick] == nil { await publishClaim(nick: nick, marker: "token/\(nodeId)", claimant: nil) }
        } else if let first = claims[nick] {
            // Claimed already: by this very client when the first claim carries its nonce (its
            // earlier attempt was answered `unavailable` but the claim still won).
            guard let claimant, first.claimant == claimant else {
                session.send(Self.nickTaken(nick))
                return
            }
        } else {
            switch await claim(nick, claimant: claimant) {
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
            // refuses: ChatNodeCore+InboxCaps.swift); the binding on the shared channel.
            try await declareUserQueue(nick)
            let channel = try await publisher()
            try await channel.bindQueue(topology.userQueue(nick), exchange: topology.directExchange, routingKey: nick, arguments: [:])
        } catch {
            logger.warning("Could not declare a user queue", metadata: ["nick": "\(nick)", "error": "\(error)"])
            session.send(Self.unavailable())
            return
        }
        guard !session.isClosed else { return }

        if let older = nickOwner[nick], older != sessionId { await replace(older, announce: false) }
        nickOwner[nick] = sessionId
        if let channel = try? await publisher() {
            let takeover = BrokerRecord(kind: .takeover, nick: nick, node: nodeId)
            _ = try? await channel.publish(OutgoingMessage(body: takeover.body, properties: MessageProperties(type: "takeover")),
                                           exchange: topology.presenceExchange, routingKey: "", mandatory: false)
        }
        let inbox = await acquireInbox(nick: nick, owner: sessionId)
        guard let inbox else {
            if nickOwner[nick] == sessionId { nickOwner.removeValue(forKey: nick) }
            session.send(ChatProtocolError(.unavailable, "Your nick is still held by another connection or the broker is down: join again in a moment.").frame)
            return
        }
        guard nickOwner[nick] == sessionId, !session.isClosed, sessions[sessionId] == nil else {
            await releaseInbox(inbox)
            return
        }

        let rooms = OrderedSet(request.rooms ?? [ChatName.lobby])
        let limits = configuration.limits
        let entry = SessionEntry(session: session, nick: nick, rooms: rooms,
                                 typingLimiter: RateLimiter(rate: limits.typingPerSecond, burst: limits.typingBurst, strikesToClose: .max))
        sessions[sessionId] = entry
        metrics.joinedSessions.record(sessions.count)
        var roomHistory: [String: [ChatMessage]] = [:]
        var moreHistory: [String] = []
        let historyShare = limits.welcomeHistoryBytes / max(1, rooms.count)
        for room in rooms {
            addMember(sessionId, outlet: session.outlet, to: room)
            let page = history.page(in: room, limit: limits.historyOnJoin, maxBytes: historyShare)
            roomHistory[room] = page.messages
            if page.more { moreHistory.append(room) }
        }
        // The roster as the sessions were last told; the changes since, this join's included,
        // come to every session (this one too) in the next `presence` frame.
        let roster = welcomeRoster()
        let welcome = Welcome(nick: nick, token: tokens.token(for: nick), users: [], rooms: history.recentRoomNames(limit: limits.welcomeRooms),
                              entered: Array(rooms), history: roomHistory, moreHistory: moreHistory.sorted(),
                              pending: request.pending.map { ids in
                                  Dictionary(ids.map { ($0, messageIds.messageId(sender: nick, clientId: $0)) }, uniquingKeysWith: { first, _ in first })
                              })
        session.outlet.send(ChatFrameCodec.encodeWelcome(welcome, usersJSON: roster.json(withOnline: nick)) { roster.users(withOnline: nick) })
        localPresence(nick: nick, online: true)
        await startInbox(inbox, session: sessionId, nick: nick)
    }

    /// Claims a nick this node has no claim record of: its claim record must be the first one
    /// for the nick in the claims stream, which every node reads in the same order, so two
    /// nodes racing for a nick agree on the winner. A first record with the same `claimant`
    /// (an earlier attempt of the same join, on any node) is a win too. When the user queue
    /// exists already but no earlier record is in the stream (it aged out), the nick is taken.
    /// That check (a passive declare on a channel of its own: two broker round trips on the
    /// node's one connection, which every join's calls queue on) is skipped while the claims
    /// stream still begins at offset 0: then every claim ever made has its record in it.
    func claim(_ nick: String, claimant: String?) async -> ClaimOutcome {
        var queueExists = false
        if !claimsStreamComplete {
            switch await userQueueExists(nick) {
            case true?:
                // Claimed; only the claim's own client (same nonce) goes on, to find its record.
                guard claimant != nil else { return .taken }
                queueExists = true
            case false?:
                break
            case nil:
                return .unavailable
            }
        }
        let marker = "\(nodeId)/claim/\(nextMarker)"
        nextMarker += 1
        let seen = await wait(timeout: configuration.claimTimeout) { waiter in
            claimWaiters[marker] = waiter
            Task { await self.publishClaim(nick: nick, marker: marker, claimant: claimant) }
        }
        claimWaiters.removeValue(forKey: marker)
        guard seen else { return .unavailable }
        guard let first = claims[nick] else { return .taken }
        if first.marker == marker { return queueExists ? .taken : .won }
        if let claimant, first.claimant == claimant { return .won }
        return .taken
    }

    /// Whether `user.<nick>` exists: a passive declare, on a channel of its own because a
    /// missing queue closes the channel. Nil when the broker could not say.
    func userQueueExists(_ nick: String) async -> Bool? {
        do {
            try await withTemporaryChannel { channel throws(BrokerError) in
                _ = try await channel.declareQueue(topology.userQueue(nick), options: QueueOptions(passive: true))
            }
            return true
        } catch where error.code == BrokerError.notFound {
            return false
        } catch {
            return nil
        }
    }

    func publishClaim(nick: String, marker: String, claimant: String?) async {
        let record = BrokerRecord(kind: .claim, nick: nick, marker: marker, claimant: claimant)
        guard let channel = try? await publisher() else { return }
        _ = try? await channel.publish(OutgoingMessage(body: record.body, properties: MessageProperties(persistent: true, type: "claim")),
                                       exchange: "", routingKey: topology.claimsStream, mandatory: false)
    }

    /// Another session took the nick: this one gets `replaced` and is closed (4001).
    func replace(_ sessionId: UInt64, announce: Bool = true) async {
        guard let entry = sessions[sessionId] else {
            if nickOwner.first(where: { $0.value == sessionId }) != nil {
                nickOwner = nickOwner.filter { $0.value != sessionId }
            }
            return
        }
        entry.session.markClosed()
        entry.session.send(ChatProtocolError(.replaced, "Your nick \(entry.nick) joined from another connection, so this one is closed.").frame)
        entry.session.outlet.close(code: ChatCloseCode.replaced, reason: "Replaced")
        await endSession(sessionId, announce: announce)
    }

    /// The client went away or was replaced: leave rooms, release the inbox (what the client
    /// did not ack goes back to the queue), update presence.
    func sessionEnded(_ sessionId: UInt64) async {
        await endSession(sessionId)
    }

    /// - Parameter announce: false when a new session of the same nick on this node takes
    ///   over right away, so the nick does not flap offline and online.
    func endSession(_ sessionId: UInt64, announce: Bool = true) async {
        guard let entry = sessions.removeValue(forKey: sessionId) else { return }
        publishes.sessionEnded(sessionId)
        metrics.joinedSessions.record(sessions.count)
        if nickOwner[entry.nick] == sessionId { nickOwner.removeValue(forKey: entry.nick) }
        for room in entry.rooms { removeMember(sessionId, from: room) }
        if announce, nickOwner[entry.nick] == nil { localPresence(nick: entry.nick, online: false) }
        await releaseInbox(ofEndedSession: sessionId)
    }

    static func unavailable(id: String? = nil) -> ServerFrame {
        ChatProtocolError(.unavailable, "The chat cannot reach its message broker right now: try again in a moment.", id: id).frame
    }

    static func nickTaken(_ nick: String) -> ServerFrame {
        ChatProtocolError(.authFailed, "The nick \(nick) is taken: join with its token, or pick another nick.").frame
    }
}

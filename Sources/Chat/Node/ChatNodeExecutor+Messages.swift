import Broker

extension ChatNodeExecutor {
    /// Runs one client frame (called in order for each session); `admission` is its number in
    /// the session's arrival order.
    func process(_ text: String, admission: UInt64, from session: ChatSession) async {
        let frame: ClientFrame
        do {
            frame = try ChatFrameCodec.decodeClientFrame(text, limits: configuration.limits)
        } catch {
            refused()
            session.send(error.frame)
            return
        }
        metrics.framesIn[frame.type]?.increment()
        let route = FrameRouting.route(
            frame, joined: sessions[session.id].map { ($0.nick, $0.rooms) },
            order: { session.checkOrder(id: $0, admission: admission) },
            typingAdmitted: { sessions[session.id]?.typingLimiter.admit(now: now) == .accept })
        await run(route, admission: admission, from: session)
    }

    /// Carries out a frame's ``FrameRoute``.
    private func run(_ route: FrameRoute, admission: UInt64, from session: ChatSession) async {
        switch route {
        case .join(let request):
            await join(session, request)
        case .answer(let error, let refused):
            if refused { self.refused() }
            session.send(error.frame)
        case .enter(let room):
            if case .tooManyRooms(let count) = sessionsMachine.enter(room, session: session.id) {
                session.send(ChatProtocolError(.tooManyRooms, "You are in \(count) rooms, the most at once: leave one before you enter \(room).").frame)
                return
            }
            session.send(.entered(historyMachine.entered(room, limits: configuration.limits)))
        case .leave(let room):
            sessionsMachine.leave(room, session: session.id)
            session.send(.left(Left(room: room)))
        case .say(let id, let room, let text):
            guard let nick = sessions[session.id]?.nick else { return }
            await publishMessage(from: session.id, admission: admission, nick: nick, clientId: id, kind: .say) { msgId, ts in
                let record = BrokerRecord(kind: .say, msgId: msgId, from: nick, room: room, text: text, ts: ts)
                return PublishRequest(
                    message: OutgoingMessage(body: record.body, properties: MessageProperties(persistent: true, messageId: msgId, type: "say")),
                    exchange: topology.publicExchange, routingKey: ChatTopology.roomKey(room))
            }
        case .tell(let id, let to, let text):
            guard let nick = sessions[session.id]?.nick else { return }
            await publishMessage(from: session.id, admission: admission, nick: nick, clientId: id, kind: .tell) { msgId, ts in
                let record = BrokerRecord(kind: .tell, msgId: msgId, from: nick, to: to, text: text, ts: ts)
                return PublishRequest(
                    message: OutgoingMessage(body: record.body, properties: MessageProperties(persistent: true, messageId: msgId, type: "tell")),
                    exchange: topology.directExchange, routingKey: to, mandatory: true)
            }
        case .ack(let msgIds):
            await acknowledge(msgIds, session: session.id)
        case .setPassword(let request):
            guard let nick = sessions[session.id]?.nick else { return }
            await setPassword(request, nick: nick, session: session)
        case .devices:
            listDevices(session: session)
        case .signOut(let device, let everywhere):
            await signOut(device: device, everywhere: everywhere, session: session)
        case .history(let request):
            for frame in historyMachine.page(request, limits: configuration.limits) { session.send(frame) }
        case .read(let room, let upTo):
            await markRead(room: room, upTo: upTo, session: session)
        case .settings(let privateReceipts):
            await changeSettings(privateReceipts: privateReceipts, session: session)
        case .users(let prefix, let limit):
            session.send(.users(findUsers(prefix: prefix, limit: limit)))
        case .typing(let room, let to, let routingKey):
            guard let nick = sessions[session.id]?.nick, let channel = try? await publisher() else { return }
            let record = BrokerRecord(kind: .typing, from: nick, to: to, room: room)
            _ = try? await channel.publish(
                OutgoingMessage(body: record.body, properties: MessageProperties(type: "typing")),
                exchange: topology.publicExchange, routingKey: routingKey, mandatory: false)
        case .drop:
            return
        }
    }

    static func inboxFull(_ nick: String, id: String?) -> ServerFrame {
        ChatProtocolError(.inboxFull, "The inbox of \(nick) is full: send this again later, once \(nick) has read their messages.", id: id).frame
    }
}

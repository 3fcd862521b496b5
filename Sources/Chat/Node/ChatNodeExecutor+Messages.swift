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
        if case .join(let request) = frame {
            await join(session, request)
            return
        }
        guard let entry = sessions[session.id] else {
            session.send(ChatProtocolError(.notJoined, "Join first: send a join frame with your nick.", id: frame.id).frame)
            return
        }
        if let id = frame.id, case .refuse(let waitingFor) = session.checkOrder(id: id, admission: admission) {
            refused()
            session.send(
                ChatProtocolError(
                    .unavailable, "Your earlier message \(waitingFor.prefix(ClientFrame.maxIdBytes)) was not accepted: send it again first, then this one.",
                    id: id
                ).frame)
            return
        }
        switch frame {
        case .join:
            return
        case .enter(let request):
            if case .tooManyRooms(let count) = sessionsMachine.enter(request.room, session: session.id) {
                session.send(ChatProtocolError(.tooManyRooms, "You are in \(count) rooms, the most at once: leave one before you enter \(request.room).").frame)
                return
            }
            session.send(.entered(historyMachine.entered(request.room, limits: configuration.limits)))
        case .leave(let request):
            sessionsMachine.leave(request.room, session: session.id)
            session.send(.left(Left(room: request.room)))
        case .say(let request):
            let room = request.room ?? ChatName.lobby
            guard entry.rooms.contains(room) else {
                session.send(Self.notInRoom(room, id: request.id))
                return
            }
            await publishMessage(from: session.id, admission: admission, nick: entry.nick, clientId: request.id, kind: .say) { msgId, ts in
                let record = BrokerRecord(kind: .say, msgId: msgId, from: entry.nick, room: room, text: request.text, ts: ts)
                return PublishRequest(
                    message: OutgoingMessage(body: record.body, properties: MessageProperties(persistent: true, messageId: msgId, type: "say")),
                    exchange: topology.publicExchange, routingKey: ChatTopology.roomKey(room))
            }
        case .tell(let request):
            await publishMessage(from: session.id, admission: admission, nick: entry.nick, clientId: request.id, kind: .tell) { msgId, ts in
                let record = BrokerRecord(kind: .tell, msgId: msgId, from: entry.nick, to: request.to, text: request.text, ts: ts)
                return PublishRequest(
                    message: OutgoingMessage(body: record.body, properties: MessageProperties(persistent: true, messageId: msgId, type: "tell")),
                    exchange: topology.directExchange, routingKey: request.to, mandatory: true)
            }
        case .ack(let request):
            await acknowledge(request.msgIds, session: session.id)
        case .history(let request):
            for frame in historyMachine.page(request, limits: configuration.limits) { session.send(frame) }
        case .users(let request):
            session.send(.users(findUsers(prefix: request.prefix ?? "", limit: request.limit ?? ClientFrame.defaultUsersLimit)))
        case .typing(let request):
            if let room = request.room, !entry.rooms.contains(room) {
                session.send(Self.notInRoom(room, id: nil))
                return
            }
            // Throttled: the excess is dropped without a word (Specs/bounds.md).
            guard sessions[session.id]?.typingLimiter.admit(now: now) == .accept else { return }
            let record = BrokerRecord(kind: .typing, from: entry.nick, to: request.to, room: request.room)
            let key = request.room.map(ChatTopology.typingRoomKey) ?? ChatTopology.typingUserKey(request.to ?? "")
            guard let channel = try? await publisher() else { return }
            _ = try? await channel.publish(
                OutgoingMessage(body: record.body, properties: MessageProperties(type: "typing")),
                exchange: topology.publicExchange, routingKey: key, mandatory: false)
        }
    }

    static func inboxFull(_ nick: String, id: String?) -> ServerFrame {
        ChatProtocolError(.inboxFull, "The inbox of \(nick) is full: send this again later, once \(nick) has read their messages.", id: id).frame
    }

    static func notInRoom(_ room: String, id: String?) -> ServerFrame {
        ChatProtocolError(.notInRoom, "You are not in the room \(room): enter it first.", id: id).frame
    }
}

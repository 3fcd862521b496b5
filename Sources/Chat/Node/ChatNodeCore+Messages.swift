import Broker

extension ChatNodeCore {
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
            session.send(ChatProtocolError(.unavailable, "Your earlier message \(waitingFor.prefix(ClientFrame.maxIdBytes)) was not accepted: send it again first, then this one.", id: id).frame)
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
            let page = history.page(in: request.room, limit: configuration.limits.historyOnJoin, maxBytes: configuration.limits.historyBytesPerReply)
            session.send(.entered(Entered(room: request.room, history: page.messages, more: page.more)))
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
                return PublishRequest(message: OutgoingMessage(body: record.body, properties: MessageProperties(persistent: true, messageId: msgId, type: "say")),
                                      exchange: topology.publicExchange, routingKey: ChatTopology.roomKey(room))
            }
        case .tell(let request):
            await publishMessage(from: session.id, admission: admission, nick: entry.nick, clientId: request.id, kind: .tell) { msgId, ts in
                let record = BrokerRecord(kind: .tell, msgId: msgId, from: entry.nick, to: request.to, text: request.text, ts: ts)
                return PublishRequest(message: OutgoingMessage(body: record.body, properties: MessageProperties(persistent: true, messageId: msgId, type: "tell")),
                                      exchange: topology.directExchange, routingKey: request.to, mandatory: true)
            }
        case .ack(let request):
            await acknowledge(request.msgIds, session: session.id)
        case .history(let request):
            let limit = request.limit ?? ClientFrame.defaultHistoryLimit
            let page = history.page(in: request.room, before: request.before, limit: limit, maxBytes: configuration.limits.historyBytesPerReply)
            session.send(.history(History(room: request.room, messages: page.messages, more: page.more)))
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
            _ = try? await channel.publish(OutgoingMessage(body: record.body, properties: MessageProperties(type: "typing")),
                                           exchange: topology.publicExchange, routingKey: key, mandatory: false)
        }
    }

    /// A private message or receipt from the user's queue: to the client; either stays
    /// unacknowledged at the broker until the client acks its `msgId`, so one in flight when
    /// the session or the node goes away comes again on the next join. One that comes on an
    /// inbox the session no longer holds goes back to the queue.
    func onInbox(_ delivery: Delivery, session sessionId: UInt64, inbox: Inbox) async {
        guard let entry = sessions[sessionId], entry.inbox?.serial == inbox.serial else {
            await returnDelivery(delivery, of: inbox)
            return
        }
        guard let record = BrokerRecord.decode(delivery.body), let msgId = record.msgId, let ts = record.ts else {
            try? await inbox.channel.reject(deliveryTag: delivery.deliveryTag, requeue: false)
            return
        }
        switch record.kind {
        case .tell:
            guard let from = record.from, let text = record.text else {
                try? await inbox.channel.reject(deliveryTag: delivery.deliveryTag, requeue: false)
                return
            }
            sessions[sessionId]?.pending[msgId, default: []].append(PendingDelivery(deliveryTag: delivery.deliveryTag, from: from, inbox: inbox.serial))
            entry.session.send(.message(ChatMessage(msgId: msgId, from: from, to: record.to ?? entry.nick, text: text, ts: ts)))
            metrics.privateDeliveries.increment()
        case .delivered:
            if publishes.holdReceipt(HeldReceipt(delivery: delivery, session: sessionId, inbox: inbox), msgId: msgId) {
                return
            }
            sessions[sessionId]?.pending[msgId, default: []].append(PendingDelivery(deliveryTag: delivery.deliveryTag, from: nil, inbox: inbox.serial))
            entry.session.send(.delivered(Delivered(msgId: msgId, to: record.to ?? "", ts: ts)))
        default:
            try? await inbox.channel.reject(deliveryTag: delivery.deliveryTag, requeue: false)
        }
    }

    /// The client acked private messages and receipts: the sender of each message gets a
    /// `delivered` receipt through its queue (confirmed first), then everything acked is acked
    /// at the broker, one tag at a time (the inbox channel is shared), and leaves the queue.
    /// The acked deliveries stop being pending at once, so a session that ends meanwhile does
    /// not requeue them; when the receipts cannot be published they come again instead.
    func acknowledge(_ msgIds: [String], session sessionId: UInt64) async {
        guard let entry = sessions[sessionId], let inbox = entry.inbox else { return }
        var acked: [PendingDelivery] = []
        var receipts: [PublishRequest] = []
        var ackedByMsgId: [String: [PendingDelivery]] = [:]
        let ts = now
        for msgId in msgIds {
            guard let deliveries = sessions[sessionId]?.pending.removeValue(forKey: msgId) else { continue }
            let current = deliveries.filter { $0.inbox == inbox.serial }
            acked += current
            ackedByMsgId[msgId] = current
            guard let sender = current.lazy.compactMap(\.from).first else { continue }
            let receipt = BrokerRecord(kind: .delivered, msgId: msgId, to: entry.nick, ts: ts)
            receipts.append(PublishRequest(message: OutgoingMessage(body: receipt.body, properties: MessageProperties(persistent: true, messageId: msgId, type: "delivered")),
                                           exchange: topology.directExchange, routingKey: sender))
        }
        guard !acked.isEmpty else { return }
        acksInFlight[inbox.serial, default: 0] += 1
        defer {
            acksInFlight[inbox.serial, default: 1] -= 1
            if acksInFlight[inbox.serial] == 0 { acksInFlight.removeValue(forKey: inbox.serial) }
        }
        do {
            if !receipts.isEmpty {
                let channel = try await publisher()
                let batch = receipts
                let results = try await withPublishDeadline(on: channel) { () async throws(BrokerError) in try await channel.publishBatch(batch) }
                var deferred: Set<String> = []
                for (receipt, result) in zip(batch, results) {
                    guard case .failure(let error) = result else { continue }
                    // A receipt refused by the sender's full inbox: its message stays
                    // pending here, unacked (Specs/chat-protocol.md, "Private messages").
                    guard case .nacked = error, let msgId = receipt.message.properties.messageId,
                          await inboxCouldBeFull(receipt.routingKey, adding: receipt.message.body.count) else {
                        throw BrokerError.nacked
                    }
                    deferred.insert(msgId)
                }
                if !deferred.isEmpty {
                    metrics.receiptsDeferred.increment(by: deferred.count)
                    logger.info("Receipts wait: their senders' inboxes are full; the messages stay unacked and come again on the addressee's next join",
                                metadata: ["count": "\(deferred.count)"])
                    let tags = Set(deferred.flatMap { ackedByMsgId[$0] ?? [] }.map(\.deliveryTag))
                    acked.removeAll { tags.contains($0.deliveryTag) }
                    for msgId in deferred {
                        sessions[sessionId]?.pending[msgId, default: []] += ackedByMsgId[msgId] ?? []
                    }
                }
            }
        } catch {
            entry.session.send(ChatProtocolError(.unavailable, "Your ack could not be recorded: the messages will come again, ack them then.").frame)
            await redeliverInbox(sessionId, inbox: inbox, tags: acked.map(\.deliveryTag))
            return
        }
        for delivery in acked {
            try? await inbox.channel.ack(deliveryTag: delivery.deliveryTag, multiple: false)
        }
    }

    static func inboxFull(_ nick: String, id: String?) -> ServerFrame {
        ChatProtocolError(.inboxFull, "The inbox of \(nick) is full: send this again later, once \(nick) has read their messages.", id: id).frame
    }

    static func notInRoom(_ room: String, id: String?) -> ServerFrame {
        ChatProtocolError(.notInRoom, "You are not in the room \(room): enter it first.", id: id).frame
    }
}

import Broker

/// The executor of ``PublishMachine``: it feeds the machine what happened (a `say`/`tell` to
/// run, a confirm, a failure, a read-back, a deadline) and carries out the actions it returns,
/// in order. It decides nothing about when a message is `sent`.
extension ChatNodeExecutor {
    typealias Publishes = PublishMachine<ContinuousClock.Instant, PublishRequest, HeldReceipt>

    static func publishLimits(_ configuration: ChatConfiguration) -> Publishes.Limits {
        Publishes.Limits(
            publishTimeout: configuration.publishTimeout,
            dedupCapacity: configuration.limits.dedupCapacity,
            dedupWindowMilliseconds: configuration.limits.dedupWindow.milliseconds,
            heldPublicPerSession: configuration.limits.heldPublicPerSession)
    }

    /// Publishes a `say` or `tell` once per sender and client id (see ``PublishMachine``) and
    /// returns once the session's frame was answered: `sent`, or an error.
    func publishMessage(
        from sessionId: UInt64, admission: UInt64, nick: String, clientId: String, kind: Publishes.Kind,
        request makeRequest: (_ msgId: String, _ ts: Int64) -> PublishRequest
    ) async {
        let ts = now
        let msgId = messageIds.messageId(sender: nick, clientId: clientId)
        let submission = Publishes.Submission(
            session: sessionId, admission: admission, token: nextWaiter, nick: nick, clientId: clientId,
            msgId: msgId, ts: ts, kind: kind, request: makeRequest(msgId, ts))
        nextWaiter += 1
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            publishResumers[submission.token] = continuation
            run(publishes.submit(submission, now: .now))
        }
    }

    /// Carries out the machine's actions, in order.
    func run(_ actions: [Publishes.Action]) {
        for action in actions {
            if logger.logLevel <= .debug { logger.debug("Publish action", metadata: ["action": "\(action)"]) }
            switch action {
            case .publish(let ticket, let request):
                Task { await self.performPublish(ticket, request) }
            case .startTimer(let timer):
                publishTimers.start(timer.ticket, deadline: timer.deadline) { [weak self] in await self?.publishTimerFired($0) }
            case .cancelTimer(let ticket):
                publishTimers.cancel(ticket)
            case .replaceChannel(let ticket):
                if let channel = publishChannels[ticket] {
                    Task { await self.replacePublisher(channel) }
                }
            case .send(let frame, let session):
                send(frame, to: session)
            case .refusedWhenRun(let session, let id, let admission):
                sessions[session]?.session.refusedWhenRun(id: id, admission: admission)
            case .sendHeld(let frames, let session):
                guard let outlet = sessions[session]?.session.outlet else { continue }
                var start = 0
                while start < frames.count {
                    let end = min(start + PublicFanOut.defaultFrameLimit, frames.count)
                    sendPublic(Array(frames[start..<end]), to: [outlet])
                    start = end
                }
            case .deliverReceipts(let receipts):
                // After the `sent` (or the error, when the broker delivered a message whose
                // confirm was lost), in the order they came.
                Task {
                    for held in receipts { await self.receiptReleased(held) }
                }
            case .timedOut(let kind, let msgId):
                switch kind {
                case .confirm:
                    logger.warning(
                        "The broker did not confirm a publish in time; the publish channel is replaced and its waiting publishes are answered unavailable")
                case .readBack:
                    logger.warning(
                        "A confirmed public message did not come back through the history stream in time; the sender is told to retry",
                        metadata: ["msgId": "\(msgId)"])
                }
                metrics.publishTimeouts.increment()
            case .confirmed(let duration):
                metrics.confirmSeconds.recordNanoseconds(duration.milliseconds * 1_000_000)
            case .inboxFull:
                metrics.inboxFull.increment()
            case .resume(let token):
                publishResumers.removeValue(forKey: token)?.resume()
            case .drained:
                stopDrained?.resume()
                stopDrained = nil
            case .startStopTimer(let deadline):
                stopTimer.start(0, deadline: deadline) { [weak self] in await self?.stopTimerFired($0) }
            case .cancelStopTimer:
                stopTimer.cancel(0)
            }
        }
    }

    /// Publishes on the publish channel and tells the machine how it went. A result that comes
    /// after the deadline answered the message is dropped by the machine.
    private func performPublish(_ ticket: Publishes.Ticket, _ request: PublishRequest) async {
        let failure: Publishes.Failure?
        do throws(BrokerError) {
            let channel = try await publisher()
            // Answered meanwhile (the deadline passed while a channel was opened): not sent.
            guard publishes.attempts[ticket] != nil else { return }
            publishChannels[ticket] = channel
            defer { publishChannels.removeValue(forKey: ticket) }
            try await channel.publish(request.message, exchange: request.exchange, routingKey: request.routingKey, mandatory: request.mandatory)
            failure = nil
        } catch {
            failure = await classify(error, of: request)
        }
        if let failure {
            run(publishes.failed(ticket, failure, now: .now))
        } else {
            run(publishes.confirmed(ticket, now: .now))
        }
    }

    /// What a publish error means for the client.
    private func classify(_ error: BrokerError, of request: PublishRequest) async -> Publishes.Failure {
        if case .unroutable(_, let to) = error { return .unroutable(to: to) }
        if case .nacked = error, request.exchange == topology.directExchange,
            await inboxCouldBeFull(request.routingKey, adding: request.message.body.count)
        {
            return .inboxFull(nick: request.routingKey)
        }
        logger.debug("A publish failed", metadata: ["error": "\(error)"])
        return .unavailable
    }

    private func stopTimerFired(_ firing: MachineTimers<Int>.Firing) {
        guard stopTimer.take(firing) else { return }
        run(publishes.stopGraceEnded())
    }

    private func publishTimerFired(_ firing: MachineTimers<Publishes.Ticket>.Firing) {
        guard publishTimers.take(firing) else { return }
        run(publishes.timerFired(firing.key, now: .now))
    }

    /// The history stream delivered the record of public message `msgId`.
    func noteReadBack(_ msgId: String) {
        guard publishes.inFlight > 0 else { return }
        run(publishes.readBack(msgId, now: .now))
    }

    /// Sends one room's frames of a history batch to its local sessions; a session whose own
    /// `say` awaits its `sent` gets them later, after the `sent` (``PublishMachine/fanOut(_:to:)``).
    func fanOut(_ frames: [String], room: String) -> Int {
        let outlets = outlets(inRoom: room)
        guard let fan = publishes.fanOut(frames, to: roomMembers[room] ?? [:]) else {
            sendPublic(frames, to: outlets)
            return outlets.count
        }
        run(fan.actions)
        sendPublic(frames, to: fan.open)
        return outlets.count
    }
}

import Broker

/// Publishes that cannot hang and confirms that are checked.
///
/// RabbitMQ 3.10 was seen, in a three-node cluster whose node holding the history stream's
/// leader was killed, to confirm publishes to that stream for several seconds without storing
/// them, and to never confirm some others. So a node (1) gives every publish a deadline,
/// after which the publish channel is closed, failing everything that waits on it (answered
/// `unavailable`, retried by clients with the same `id`), and a fresh channel is opened; and
/// (2) says `sent` for a public message only once its record came back through the history
/// stream, which the node reads anyway.
extension ChatNodeCore {
    /// Where a public message's record is in its trip through the history stream.
    enum EchoState: Sendable {
        /// Published, not seen in the stream yet, nobody waiting.
        case expected
        /// Seen in the stream.
        case seen
        /// Not seen yet; the waiter with this id waits for it.
        case waiting(UInt64)
    }

    /// Publishes `request` on the publish channel within `configuration.publishTimeout`; for
    /// a message to the history stream (`awaitEcho`), also waits, within the same deadline,
    /// until the node has read its record `msgId` back from the stream.
    func publishChecked(_ request: PublishRequest, msgId: String, awaitEcho: Bool) async throws(BrokerError) {
        let deadline = ContinuousClock.now + configuration.publishTimeout
        if awaitEcho { awaitingEcho[msgId] = .expected }
        defer { if awaitEcho { awaitingEcho.removeValue(forKey: msgId) } }
        let channel = try await publisher()
        try await withPublishDeadline(on: channel) { () async throws(BrokerError) in
            try await channel.publish(request.message, exchange: request.exchange, routingKey: request.routingKey, mandatory: request.mandatory)
        }
        guard awaitEcho, !stopping else { return }
        if case .seen? = awaitingEcho[msgId] { return }
        let seen = await wait(timeout: deadline - ContinuousClock.now) { id in awaitingEcho[msgId] = .waiting(id) }
        guard seen else {
            logger.warning("A confirmed public message did not come back through the history stream in time; the sender is told to retry",
                           metadata: ["msgId": "\(msgId)"])
            metrics.publishTimeouts.increment()
            await replacePublisher(channel)
            throw BrokerError.timeout("the broker confirmed the message but it did not come back through the history stream in time.")
        }
    }

    /// Runs `body` (a publish on `channel`) and returns its result, or throws
    /// ``BrokerError/timeout(_:)`` once the publish timeout has passed without one; then it also
    /// closes `channel`, which fails every other publish still waiting on it (and this one,
    /// whose late result is dropped).
    func withPublishDeadline<T: Sendable>(
        on channel: any BrokerChannel,
        _ body: @escaping @Sendable () async throws(BrokerError) -> T
    ) async throws(BrokerError) -> T {
        let timeout = configuration.publishTimeout
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, BrokerError>, Never>) in
            let outcome = FirstOutcome(continuation)
            let timer = Task { [weak self] in
                guard (try? await Task.sleep(for: timeout)) != nil,
                      outcome.resume(.failure(.timeout("the broker did not confirm the publish in time."))) else { return }
                await self?.publishTimedOut(on: channel)
            }
            Task {
                let result: Result<T, BrokerError>
                do throws(BrokerError) { result = .success(try await body()) } catch { result = .failure(error) }
                timer.cancel()
                _ = outcome.resume(result)
            }
        }
        return try result.get()
    }

    private func publishTimedOut(on channel: any BrokerChannel) async {
        logger.warning("The broker did not confirm a publish in time; the publish channel is replaced and its waiting publishes are answered unavailable")
        metrics.publishTimeouts.increment()
        await replacePublisher(channel)
    }

    /// Closes `channel`, the publish channel when the publish began: `publisher()` opens a
    /// new one for the next publish.
    /// (Closing a channel that was already replaced, or is already closed, does nothing.)
    func replacePublisher(_ channel: any BrokerChannel) async {
        await channel.close()
    }

    /// The history stream delivered the record of public message `msgId`.
    func noteEcho(_ msgId: String) {
        switch awaitingEcho[msgId] {
        case .expected?:
            awaitingEcho[msgId] = .seen
        case .waiting(let id)?:
            awaitingEcho[msgId] = .seen
            resume(waiter: id, with: true)
        case .seen?, nil:
            return
        }
    }
}

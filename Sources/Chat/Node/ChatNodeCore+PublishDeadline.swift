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
///
/// For `say` and `tell` both are decided by ``PublishMachine`` (ChatNodeCore+Publish.swift);
/// the deadline below is the one of `delivered` receipts published on an ack.
extension ChatNodeCore {
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
}

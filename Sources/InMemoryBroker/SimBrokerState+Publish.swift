import Broker

extension SimBrokerState {
    /// Routes a batch of messages in order and decides each confirm. Under
    /// ``InMemoryBroker/stallConfirms()`` the messages are stored but the confirms wait.
    mutating func publish(_ channel: SimChannel, _ batch: [PublishRequest]) throws(BrokerError) -> SimPublishOutcome {
        var results: [Result<Void, BrokerError>] = []
        results.reserveCapacity(batch.count)
        // The queue of the last default-exchange publish: a batch usually goes to one queue,
        // and comparing the key is cheaper than hashing it again (no queue can go mid-batch).
        var lastDirect: SimQueue?
        for request in batch {
            switch faults.nextPublishFault() {
            case .refuse?:
                results.append(.failure(.injected("the broker refuses publishes (fault injection); the message was not stored.")))
                continue
            case .nack?:
                results.append(.failure(.nacked))
                continue
            case .dropConnection?:
                let reason = BrokerError.connectionClosed("the connection was dropped while publishing (fault injection); reconnect and retry.")
                closeConnection(channel.connection, reason: reason)
                throw reason
            case .confirmWithoutStoring?:
                results.append(.success(()))
                continue
            case nil:
                break
            }
            if request.exchange.isEmpty {
                let queue: SimQueue?
                if let last = lastDirect, last.name == request.routingKey {
                    queue = last
                } else {
                    queue = queues[request.routingKey]
                    lastDirect = queue
                }
                results.append(publishDirect(request, to: queue))
            } else {
                results.append(try route(channel, request))
            }
        }
        guard faults.stallConfirms else { return .done(results) }
        let id = makeID()
        pendingConfirms[id] = SimPendingConfirm(connection: channel.connection.id, results: results)
        return .stalled(id)
    }

    /// Publishes one message through the default exchange to `queue` (nil: no such queue)
    /// and says what its confirm is.
    private mutating func publishDirect(_ request: PublishRequest, to queue: SimQueue?) -> Result<Void, BrokerError> {
        guard let queue else {
            return request.mandatory ? .failure(.unroutable(exchange: "", routingKey: request.routingKey)) : .success(())
        }
        let payload = SimPayload(
            exchange: "", routingKey: request.routingKey,
            body: request.message.body, properties: request.message.properties)
        return enqueue(payload, into: queue) ? .success(()) : .failure(.nacked)
    }

    /// Routes one message through a named exchange to every matching queue and says what
    /// its confirm is.
    private mutating func route(_ channel: SimChannel, _ request: PublishRequest) throws(BrokerError) -> Result<Void, BrokerError> {
        let targets = try exchange(request.exchange, for: channel).route(request.routingKey)
        if targets.isEmpty {
            return request.mandatory ? .failure(.unroutable(exchange: request.exchange, routingKey: request.routingKey)) : .success(())
        }
        let payload = SimPayload(
            exchange: request.exchange, routingKey: request.routingKey,
            body: request.message.body, properties: request.message.properties)
        var rejected = false
        for name in targets {
            guard let queue = queues[name] else { continue }
            if !enqueue(payload, into: queue) { rejected = true }
        }
        return rejected ? .failure(.nacked) : .success(())
    }

    /// Adds a message to a queue and hands it on to a consumer when one has room. Returns
    /// false when the queue refused it (`x-overflow=reject-publish` at its limit).
    mutating func enqueue(_ payload: SimPayload, into queue: SimQueue) -> Bool {
        if queue.isStream {
            let firstBefore = queue.log.first?.offset
            queue.appendToLog(payload, timestamp: clock(), maxBodyBytes: queue.limits.maxLengthBytes, maxMemoryBytes: maxStreamBytes)
            if storing { recordStreamAppend(queue, firstBefore: firstBefore) }
            dispatchStream(queue)
            return true
        }
        if queue.limits.overflow == .rejectPublish && queue.isFull(adding: payload.body.count) {
            return false
        }
        let message = SimQueuedMessage(seq: queue.nextSeq, payload: payload, redelivered: false)
        queue.nextSeq += 1
        queue.appendReady(message)
        recordEnqueued(message, in: queue)
        let dropped = queue.dropHeadOverLimits()
        if !dropped.isEmpty { recordRemoved(dropped, from: queue) }
        dispatch(queue)
        return true
    }

    // MARK: Confirms held back by fault injection

    /// Decides a stalled batch and wakes its publisher if it is already waiting.
    mutating func decide(_ id: UInt64, _ outcome: Result<[Result<Void, BrokerError>], BrokerError>) {
        guard var pending = pendingConfirms[id] else { return }
        if let continuation = pending.continuation {
            pendingConfirms[id] = nil
            continuation.resume(returning: outcome)
        } else {
            pending.outcome = outcome
            pendingConfirms[id] = pending
        }
    }

    /// Releases every stalled confirm with the result the broker decided for it.
    mutating func releaseConfirms() {
        faults.stallConfirms = false
        for id in pendingConfirms.filter({ $0.value.outcome == nil }).keys.sorted() {
            if let pending = pendingConfirms[id] { decide(id, .success(pending.results)) }
        }
    }

    /// Registers the publisher's continuation, or resumes it at once when already decided.
    mutating func awaitConfirm(_ id: UInt64, _ continuation: CheckedContinuation<Result<[Result<Void, BrokerError>], BrokerError>, Never>) {
        guard var pending = pendingConfirms[id] else {
            continuation.resume(returning: .failure(.connectionClosed("the confirm was lost")))
            return
        }
        if let outcome = pending.outcome {
            pendingConfirms[id] = nil
            continuation.resume(returning: outcome)
        } else {
            pending.continuation = continuation
            pendingConfirms[id] = pending
        }
    }
}

import Broker

/// The durability layer under the simulator: what each operation records for the store, and
/// how the simulator is rebuilt from it (`Specs/storage.md`). Only durable things are
/// recorded: durable exchanges (not `amq.*`), durable queues, bindings between a durable
/// exchange and a durable queue, persistent messages in durable classic queues, and every
/// entry of a stream.
extension SimBrokerState {
    // MARK: Recording

    mutating func recordExchange(_ exchange: SimExchange) {
        guard storing, exchange.durable, !exchange.name.hasPrefix("amq.") else { return }
        journal.append(.putExchange(name: exchange.name, kind: exchange.kind, autoDelete: exchange.autoDelete, arguments: exchange.arguments))
    }

    mutating func recordExchangeDeleted(_ exchange: SimExchange?) {
        guard storing, let exchange, exchange.durable else { return }
        journal.append(.deleteExchange(name: exchange.name))
    }

    mutating func recordQueue(_ queue: SimQueue) {
        guard storing, queue.durable else { return }
        let id = nextStoreQueueID
        nextStoreQueueID += 1
        queue.storeID = id
        journal.append(.putQueue(id: id, name: queue.name, autoDelete: queue.autoDelete, arguments: queue.arguments))
    }

    mutating func recordQueueDeleted(_ queue: SimQueue) {
        guard let id = queue.storeID else { return }
        journal.append(.deleteQueue(id: id, name: queue.name))
    }

    mutating func recordBinding(_ exchange: SimExchange, _ queue: SimQueue, _ binding: SimBinding, added: Bool) {
        guard queue.storeID != nil, exchange.durable else { return }
        journal.append(
            added
                ? .bind(exchange: exchange.name, queue: queue.name, key: binding.key, arguments: binding.arguments)
                : .unbind(exchange: exchange.name, queue: queue.name, key: binding.key, arguments: binding.arguments))
    }

    /// Whether a classic queue's message is in the store.
    private static func isStored(_ message: SimQueuedMessage, in queue: SimQueue) -> Bool {
        queue.storeID != nil && !queue.isStream && message.payload.properties.persistent
    }

    mutating func recordEnqueued(_ message: SimQueuedMessage, in queue: SimQueue) {
        guard let id = queue.storeID, Self.isStored(message, in: queue) else { return }
        journal.append(.putMessage(queue: id, seq: Int64(message.seq), timestamp: 0, payload: message.payload))
    }

    /// A message left its queue for good (acked, dropped, purged, rejected).
    mutating func recordRemoved(_ message: SimQueuedMessage, from queue: SimQueue) {
        guard let id = queue.storeID, !queue.isDeleted, Self.isStored(message, in: queue) else { return }
        journal.append(.deleteMessage(queue: id, seq: Int64(message.seq)))
    }

    mutating func recordRemoved(_ messages: [SimQueuedMessage], from queue: SimQueue) {
        for message in messages { recordRemoved(message, from: queue) }
    }

    /// A stored message goes to a consumer or `basic.get` that must ack it: mark it delivered,
    /// so that it comes back `redelivered` after a restart, as on RabbitMQ. Only the first
    /// delivery writes: a message already flagged `redelivered` was marked before (or was
    /// restored with the mark). Nobody waits for the mark; it goes with the next commit.
    mutating func recordDelivered(_ message: SimQueuedMessage, from queue: SimQueue) {
        guard !message.redelivered, let id = queue.storeID, !queue.isDeleted, Self.isStored(message, in: queue) else { return }
        journal.append(.markDelivered(queue: id, seq: Int64(message.seq)))
    }

    /// A stream appended `entry`; retention may have dropped entries below `firstBefore`.
    mutating func recordStreamAppend(_ queue: SimQueue, firstBefore: Int64?) {
        guard let id = queue.storeID, let entry = queue.log.last else { return }
        journal.append(.putMessage(queue: id, seq: entry.offset, timestamp: entry.timestamp, payload: entry.payload))
        if let first = queue.log.first?.offset, let before = firstBefore, first > before {
            journal.append(.trim(queue: id, below: first))
        }
    }

    // MARK: Rebuilding

    /// Replaces every exchange and queue with what the store holds. Connections are not
    /// touched (the caller has dropped them).
    mutating func load(_ snapshot: StoreSnapshot) {
        storing = true
        exchanges = exchanges.filter { $0.key.hasPrefix("amq.") }
        for exchange in exchanges.values { exchange.removeAllBindings() }
        for queue in queues.values { queue.isDeleted = true }
        queues = [:]
        for exchange in snapshot.exchanges {
            exchanges[exchange.name] = SimExchange(
                name: exchange.name, kind: exchange.kind, durable: true,
                autoDelete: exchange.autoDelete, arguments: exchange.arguments)
        }
        var byID: [Int64: SimQueue] = [:]
        nextStoreQueueID = 1
        for stored in snapshot.queues {
            // Arguments were accepted when the queue was declared; a value this version does not
            // take falls back to the defaults rather than losing the queue.
            let limits = (try? SimQueueLimits(arguments: stored.arguments)) ?? (try! SimQueueLimits(arguments: [:]))
            let queue = SimQueue(
                name: stored.name, durable: true, exclusiveOwner: nil, autoDelete: stored.autoDelete,
                arguments: stored.arguments, limits: limits)
            queue.storeID = stored.id
            queues[stored.name] = queue
            byID[stored.id] = queue
            nextStoreQueueID = max(nextStoreQueueID, stored.id + 1)
        }
        for binding in snapshot.bindings {
            guard let exchange = exchanges[binding.exchange], queues[binding.queue] != nil else { continue }
            exchange.bind(SimBinding(queue: binding.queue, key: binding.key, arguments: binding.arguments))
        }
        var streamFirst: [Int64: Int64] = [:]
        // Messages come grouped by queue: look a queue up once per group.
        var currentID: Int64 = -1
        var current: SimQueue?
        for message in snapshot.messages {
            if message.queue != currentID {
                currentID = message.queue
                current = byID[currentID]
                if let queue = current, queue.isStream { streamFirst[currentID] = message.seq }
            }
            guard let queue = current else { continue }
            if queue.isStream {
                queue.nextOffset = message.seq
                queue.appendToLog(
                    message.payload, timestamp: message.timestamp, maxBodyBytes: queue.limits.maxLengthBytes,
                    maxMemoryBytes: maxStreamBytes)
            } else {
                queue.nextSeq = UInt64(message.seq)
                queue.appendReady(SimQueuedMessage(seq: UInt64(message.seq), payload: message.payload, redelivered: message.delivered))
                queue.nextSeq += 1
            }
        }
        // A smaller retention than the stored log: what it drops goes from the disk too.
        for (id, first) in streamFirst {
            if let queue = byID[id], let kept = queue.log.first?.offset, kept > first {
                journal.append(.trim(queue: id, below: kept))
            }
        }
    }
}

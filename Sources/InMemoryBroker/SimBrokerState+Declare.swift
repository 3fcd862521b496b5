import Broker

extension SimBrokerState {
    // MARK: Exchanges

    mutating func declareExchange(_ channel: SimChannel, _ name: String, kind: ExchangeKind, options: ExchangeOptions) throws(BrokerError) {
        if options.passive {
            if name.isEmpty { return }
            _ = try exchange(name, for: channel)
            return
        }
        if name.isEmpty {
            throw channelError(channel, BrokerError.accessRefused, "ACCESS_REFUSED - operation not permitted on the default exchange")
        }
        if let existing = exchanges[name] {
            if existing.kind != kind {
                throw channelError(channel, BrokerError.preconditionFailed, Self.inequivalent("type", exchange: name, kind.rawValue, existing.kind.rawValue))
            }
            if existing.durable != options.durable {
                throw channelError(
                    channel, BrokerError.preconditionFailed, Self.inequivalent("durable", exchange: name, "\(options.durable)", "\(existing.durable)"))
            }
            if existing.autoDelete != options.autoDelete {
                throw channelError(
                    channel, BrokerError.preconditionFailed, Self.inequivalent("auto_delete", exchange: name, "\(options.autoDelete)", "\(existing.autoDelete)")
                )
            }
            return
        }
        if name.hasPrefix("amq.") {
            throw channelError(channel, BrokerError.accessRefused, "ACCESS_REFUSED - exchange name '\(name)' contains reserved prefix 'amq.*'")
        }
        let exchange = SimExchange(name: name, kind: kind, durable: options.durable, autoDelete: options.autoDelete, arguments: options.arguments)
        exchanges[name] = exchange
        recordExchange(exchange)
    }

    mutating func deleteExchange(_ channel: SimChannel, _ name: String) throws(BrokerError) {
        if name.isEmpty || name.hasPrefix("amq.") {
            throw channelError(channel, BrokerError.accessRefused, "ACCESS_REFUSED - operation not permitted on the exchange '\(name)'")
        }
        recordExchangeDeleted(exchanges.removeValue(forKey: name))
    }

    private static func inequivalent(_ field: String, exchange name: String, _ received: String, _ current: String) -> String {
        "PRECONDITION_FAILED - inequivalent arg '\(field)' for exchange '\(name)' in vhost '/': received '\(received)' but current is '\(current)'"
    }

    // MARK: Queues

    mutating func declareQueue(_ channel: SimChannel, _ requested: String, options: QueueOptions) throws(BrokerError) -> QueueInfo {
        let connection = channel.connection.id
        if options.passive {
            let queue = try queue(requested, for: channel)
            return QueueInfo(name: queue.name, messageCount: queue.messageCount, consumerCount: UInt32(queue.consumers.count))
        }
        let name = requested.isEmpty ? "amq.gen-\(connection)-\(makeID())" : requested
        let owner: SimConnectionID? = options.exclusive ? connection : nil
        var options = options
        // As in RabbitMQ, an exclusive queue is never durable, whatever the declare says.
        if options.exclusive { options.durable = false }
        if let existing = queues[name] {
            if existing.exclusiveOwner != owner {
                throw channelError(channel, BrokerError.resourceLocked, Self.lockedText(name))
            }
            if existing.durable != options.durable {
                throw channelError(
                    channel, BrokerError.preconditionFailed, Self.inequivalent("durable", queue: name, "\(options.durable)", "\(existing.durable)"))
            }
            if existing.autoDelete != options.autoDelete {
                throw channelError(
                    channel, BrokerError.preconditionFailed, Self.inequivalent("auto_delete", queue: name, "\(options.autoDelete)", "\(existing.autoDelete)"))
            }
            for key in SimQueueLimits.comparedArguments where Self.normalized(key, existing.arguments[key]) != Self.normalized(key, options.arguments[key]) {
                let received = options.arguments[key].map { "\($0)" } ?? "none"
                let current = existing.arguments[key].map { "\($0)" } ?? "none"
                throw channelError(channel, BrokerError.preconditionFailed, Self.inequivalent(key, queue: name, received, current))
            }
            return QueueInfo(name: name, messageCount: existing.messageCount, consumerCount: UInt32(existing.consumers.count))
        }
        if name.hasPrefix("amq.") && !requested.isEmpty {
            throw channelError(channel, BrokerError.accessRefused, "ACCESS_REFUSED - queue name '\(name)' contains reserved prefix 'amq.*'")
        }
        let limits: SimQueueLimits
        do {
            limits = try SimQueueLimits(arguments: options.arguments)
        } catch {
            throw channelError(channel, error.code ?? BrokerError.preconditionFailed, "\(error)")
        }
        if limits.kind != .classic {
            if !options.durable {
                throw channelError(
                    channel, BrokerError.preconditionFailed, "PRECONDITION_FAILED - invalid property 'non-durable' for queue '\(name)' in vhost '/'")
            }
            if options.exclusive {
                throw channelError(
                    channel, BrokerError.preconditionFailed, "PRECONDITION_FAILED - invalid property 'exclusive-owner' for queue '\(name)' in vhost '/'")
            }
            if options.autoDelete {
                throw channelError(
                    channel, BrokerError.preconditionFailed, "PRECONDITION_FAILED - invalid property 'auto-delete' for queue '\(name)' in vhost '/'")
            }
        }
        let queue = SimQueue(
            name: name, durable: options.durable, exclusiveOwner: owner, autoDelete: options.autoDelete,
            arguments: options.arguments, limits: limits)
        queues[name] = queue
        recordQueue(queue)
        return QueueInfo(name: name, messageCount: 0, consumerCount: 0)
    }

    /// An absent `x-queue-type` is the same as `classic`; other absent arguments are absent.
    private static func normalized(_ key: String, _ value: AMQPValue?) -> AMQPValue? {
        if key == "x-queue-type", value == nil { return .string("classic") }
        return value
    }

    private static func inequivalent(_ field: String, queue name: String, _ received: String, _ current: String) -> String {
        "PRECONDITION_FAILED - inequivalent arg '\(field)' for queue '\(name)' in vhost '/': received '\(received)' but current is '\(current)'"
    }

    mutating func deleteQueue(_ channel: SimChannel, _ name: String, ifUnused: Bool, ifEmpty: Bool) throws(BrokerError) -> UInt32 {
        guard queues[name] != nil else { return 0 }
        let queue = try queue(name, for: channel)
        if ifUnused && !queue.consumers.isEmpty {
            throw channelError(channel, BrokerError.preconditionFailed, "PRECONDITION_FAILED - queue '\(name)' in vhost '/' in use")
        }
        if ifEmpty && !queue.ready.isEmpty {
            throw channelError(channel, BrokerError.preconditionFailed, "PRECONDITION_FAILED - queue '\(name)' in vhost '/' is not empty")
        }
        return deleteQueue(queue)
    }

    /// Deletes a queue: its consumers are cancelled (their streams finish), its bindings go
    /// (and auto-delete exchanges left without bindings with them). Returns its ready count.
    mutating func deleteQueue(_ queue: SimQueue) -> UInt32 {
        guard queues[queue.name] === queue else { return 0 }
        queues[queue.name] = nil
        recordQueueDeleted(queue)
        queue.isDeleted = true
        for consumer in queue.consumers {
            consumer.isCancelled = true
            consumer.isActive = false
            channels[consumer.channel]?.consumers[consumer.tag] = nil
            consumer.handOver.finish()
        }
        queue.consumers = []
        queue.active = []
        for exchange in exchanges.values.sorted(by: { $0.name < $1.name }) where exchange.unbindAll(queue: queue.name) > 0 {
            if exchange.autoDelete && exchange.bindings.isEmpty { recordExchangeDeleted(exchanges.removeValue(forKey: exchange.name)) }
        }
        let count = UInt32(queue.ready.count)
        _ = queue.purge()
        queue.log = []
        queue.logBytes = 0
        return count
    }

    /// Deletes an auto-delete queue that has had consumers and has none left.
    mutating func deleteIfAutoDeleted(_ queue: SimQueue) -> Bool {
        guard queue.autoDelete, queue.hadConsumer, queue.consumers.isEmpty, !queue.isDeleted else { return false }
        _ = deleteQueue(queue)
        return true
    }

    mutating func purgeQueue(_ channel: SimChannel, _ name: String) throws(BrokerError) -> UInt32 {
        let queue = try queue(name, for: channel)
        recordRemoved(Array(queue.ready), from: queue)
        return queue.purge()
    }

    // MARK: Bindings

    mutating func bind(_ channel: SimChannel, queue name: String, exchange exchangeName: String, key: String, arguments: AMQPTable, add: Bool)
        throws(BrokerError)
    {
        if exchangeName.isEmpty {
            throw channelError(channel, BrokerError.accessRefused, "ACCESS_REFUSED - operation not permitted on the default exchange")
        }
        // RabbitMQ 3.x treats unbinding a binding that does not exist (even from a missing
        // exchange or queue, or another connection's exclusive queue) as done.
        if !add && !(exchanges[exchangeName]?.bindings.contains(SimBinding(queue: name, key: key, arguments: arguments)) ?? false) {
            return
        }
        let exchange = try exchange(exchangeName, for: channel)
        let queue = try queue(name, for: channel)
        let binding = SimBinding(queue: queue.name, key: key, arguments: arguments)
        if add {
            if !exchange.bindings.contains(binding) { recordBinding(exchange, queue, binding, added: true) }
            exchange.bind(binding)
        } else if exchange.unbind(binding) {
            recordBinding(exchange, queue, binding, added: false)
            if exchange.autoDelete, exchange.bindings.isEmpty { recordExchangeDeleted(exchanges.removeValue(forKey: exchange.name)) }
        }
    }
}

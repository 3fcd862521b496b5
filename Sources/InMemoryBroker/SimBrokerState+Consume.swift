import Broker

extension SimBrokerState {
    // MARK: Consumers

    mutating func consume(_ channel: SimChannel, queue name: String, options: ConsumeOptions) throws(BrokerError) -> BrokerConsumer {
        let (stream, continuation) = DeliveryStream.makeStream()
        do {
            let tag = try startConsumer(channel, queue: name, options: options, output: .stream(continuation))
            return BrokerConsumer(tag: tag, deliveries: stream)
        } catch {
            continuation.finish()
            throw error
        }
    }

    /// Starts a consumer whose deliveries are handed over one batch per broker operation.
    mutating func consumeBatches(_ channel: SimChannel, queue name: String, options: ConsumeOptions) throws(BrokerError) -> BrokerBatchConsumer {
        let (stream, continuation) = AsyncStream.makeStream(of: [Delivery].self, bufferingPolicy: .unbounded)
        do {
            let tag = try startConsumer(channel, queue: name, options: options, output: .stream(continuation))
            return BrokerBatchConsumer(tag: tag, batches: stream)
        } catch {
            continuation.finish()
            throw error
        }
    }

    /// Starts a consumer whose deliveries go to a shared sink, one batch per broker operation.
    mutating func consume(_ channel: SimChannel, queue name: String, options: ConsumeOptions, into sink: DeliverySink) throws(BrokerError) -> String {
        try startConsumer(channel, queue: name, options: options, output: .sink(sink))
    }

    /// Checks and registers a consumer, delivers what is ready and returns its tag.
    private mutating func startConsumer(
        _ channel: SimChannel, queue name: String, options: ConsumeOptions,
        output: DeliveryOutput
    ) throws(BrokerError) -> String {
        let queue = try queue(name, for: channel)
        if queue.isStream {
            if options.noAck {
                throw connectionError(
                    channel, BrokerError.notImplemented,
                    "NOT_IMPLEMENTED - automatic acknowledgement not supported by stream queues queue '\(name)' in vhost '/'")
            }
            if options.prefetch == 0 {
                throw channelError(
                    channel, BrokerError.preconditionFailed, "PRECONDITION_FAILED - consumer prefetch count is not set for stream queue '\(name)' in vhost '/'")
            }
        }
        if options.exclusive ? !queue.consumers.isEmpty : queue.consumers.contains(where: \.exclusive) {
            throw channelError(channel, BrokerError.accessRefused, "ACCESS_REFUSED - queue '\(name)' in vhost '/' in exclusive use")
        }
        let tag = options.consumerTag ?? "amq.ctag-\(channel.connection.id)-\(makeID())"
        if channel.consumers[tag] != nil {
            throw connectionError(channel, BrokerError.notAllowed, "NOT_ALLOWED - attempt to reuse consumer tag '\(tag)'")
        }
        let consumer = SimConsumer(
            tag: tag, channel: channel, queue: queue, prefetch: options.prefetch, noAck: options.noAck,
            exclusive: options.exclusive, output: output)
        channel.consumers[tag] = consumer
        queue.consumers.append(consumer)
        queue.hadConsumer = true
        if queue.isStream {
            consumer.streamCursor = streamStart(queue, options.arguments["x-stream-offset"])
            dispatchStream(queue)
        } else {
            consumer.isActive = true
            queue.active.append(consumer)
            dispatch(queue)
        }
        return tag
    }

    /// Where a stream consumer starts for an `x-stream-offset` argument.
    private func streamStart(_ queue: SimQueue, _ argument: AMQPValue?) -> Int64 {
        let first = queue.log.first?.offset ?? queue.streamEnd
        switch argument {
        case .string("first")?:
            return first
        case .string("last")?:
            return queue.log.last?.offset ?? queue.streamEnd
        case .int(let n)?:
            return min(max(n, first), queue.streamEnd)
        case .timestamp(let seconds)?:
            return queue.log.first { $0.timestamp >= seconds }?.offset ?? queue.streamEnd
        case .string(let interval)?:
            guard let seconds = Self.intervalSeconds(interval) else { return queue.streamEnd }
            let since = clock() - seconds
            return queue.log.first { $0.timestamp >= since }?.offset ?? queue.streamEnd
        default:
            return queue.streamEnd
        }
    }

    /// Parses RabbitMQ's stream interval form: a number and one of `Y M D h m s`.
    private static func intervalSeconds(_ text: String) -> Int64? {
        guard let unit = text.last, let count = Int64(text.dropLast()), count >= 0 else { return nil }
        let scale: Int64? =
            switch unit {
            case "s": 1
            case "m": 60
            case "h": 3600
            case "D": 86_400
            case "M": 30 * 86_400
            case "Y": 365 * 86_400
            default: nil
            }
        return scale.map { $0 * count }
    }

    /// Cancels the consumer `tag` of the channel; an unknown tag is not an error (AMQP).
    mutating func cancel(_ channel: SimChannel, tag: String) {
        guard let consumer = channel.consumers.removeValue(forKey: tag) else { return }
        detach(consumer)
        _ = deleteIfAutoDeleted(consumer.queue)
    }

    /// Takes a consumer off its queue and finishes its stream. Its unacknowledged deliveries
    /// stay with the channel.
    mutating func detach(_ consumer: SimConsumer) {
        consumer.isCancelled = true
        consumer.isActive = false
        let queue = consumer.queue
        queue.consumers.removeAll { $0 === consumer }
        if let index = queue.active.firstIndex(where: { $0 === consumer }) { queue.active.remove(at: index) }
        consumer.handOver.finish()
    }

    mutating func get(_ channel: SimChannel, queue name: String, autoAck: Bool) throws(BrokerError) -> Delivery? {
        let queue = try queue(name, for: channel)
        if queue.isStream {
            throw connectionError(
                channel, BrokerError.notImplemented, "NOT_IMPLEMENTED - basic.get not supported by stream queues queue '\(name)' in vhost '/'")
        }
        guard let message = queue.popReady() else { return nil }
        let tag = channel.nextTag
        channel.nextTag += 1
        if !autoAck {
            recordDelivered(message, from: queue)
            channel.unacked.append(SimUnacked(tag: tag, queue: queue, message: message, consumer: nil))
        } else {
            recordRemoved(message, from: queue)
        }
        return Self.delivery(tag, nil, message.redelivered, message.payload, message.payload.properties)
    }

    // MARK: Acknowledgements

    /// Settles one delivery (or, with `multiple`, every one up to it; tag 0 with `multiple`
    /// means all). An unknown tag is PRECONDITION_FAILED and closes the channel; the call
    /// does not throw (AMQP acks have no reply), the channel's next call does.
    mutating func settle(_ channel: SimChannel, tag: UInt64, multiple: Bool, requeue: Bool) throws(BrokerError) {
        let range: Range<Int>
        if multiple && tag == 0 {
            range = 0..<channel.unacked.count
        } else {
            guard let index = Self.index(of: tag, in: channel) else {
                // `basic.ack` has no reply: as on RabbitMQ, the channel closes with 406 and the
                // call itself returns; the next call on the channel throws.
                _ = channelError(channel, BrokerError.preconditionFailed, "PRECONDITION_FAILED - unknown delivery tag \(tag)")
                return
            }
            range = multiple ? 0..<(index + 1) : index..<(index + 1)
        }
        // The queues to dispatch afterwards, in the order first touched (deterministic).
        var touched: [SimQueue] = []
        for entry in channel.unacked[range] {
            if let consumer = entry.consumer {
                consumer.unacked -= 1
                if !consumer.isCancelled && !consumer.isActive && !entry.queue.isStream && consumer.hasCapacity {
                    consumer.isActive = true
                    entry.queue.active.append(consumer)
                }
            }
            if requeue { self.requeue(entry) } else { recordRemoved(entry.message, from: entry.queue) }
            if touched.last !== entry.queue && !touched.contains(where: { $0 === entry.queue }) {
                touched.append(entry.queue)
            }
        }
        channel.unacked.removeSubrange(range)
        for queue in touched where !queue.isDeleted {
            if queue.isStream { dispatchStream(queue) } else { dispatch(queue) }
        }
    }

    private static func index(of tag: UInt64, in channel: SimChannel) -> Int? {
        let unacked = channel.unacked
        var low = 0
        var high = unacked.count
        while low < high {
            let mid = (low + high) / 2
            if unacked[mid].tag < tag { low = mid + 1 } else { high = mid }
        }
        return low < unacked.count && unacked[low].tag == tag ? low : nil
    }

    /// Puts an unacknowledged message back in its queue (classic: at its original place;
    /// quorum: at the back), marked redelivered. Stream entries stay in the log.
    @discardableResult
    mutating func requeue(_ entry: SimUnacked) -> Bool {
        let queue = entry.queue
        guard !queue.isDeleted, !queue.isStream else { return false }
        if queue.limits.kind == .quorum {
            var message = entry.message
            message.redelivered = true
            queue.appendReady(message)
        } else {
            queue.requeue(entry.message)
        }
        // A requeue may take the queue over `x-max-length`: with drop-head RabbitMQ then drops
        // from the head (possibly the requeued message itself); reject-publish only refuses
        // publishes, so the queue stays over its limit until consumed.
        if queue.limits.overflow == .dropHead { recordRemoved(queue.dropHeadOverLimits(), from: queue) }
        return true
    }

    // MARK: Dispatch

    /// Hands ready messages to consumers with room, round-robin, in queue order.
    mutating func dispatch(_ queue: SimQueue) {
        while !queue.active.isEmpty, !queue.ready.isEmpty {
            let consumer = queue.active.removeFirst()
            // Like RabbitMQ, a consumer at its prefetch limit is found out lazily, when its
            // turn comes: only then does it leave the ring (until an ack makes room).
            // A consumer in the ring is never cancelled, so its channel is open.
            guard consumer.hasCapacity, let message = queue.popReady() else {
                consumer.isActive = false
                continue
            }
            deliver(message, to: consumer, on: consumer.owner)
            queue.active.append(consumer)
        }
    }

    private mutating func deliver(_ message: SimQueuedMessage, to consumer: SimConsumer, on channel: SimChannel) {
        let tag = channel.nextTag
        channel.nextTag += 1
        if !consumer.noAck {
            recordDelivered(message, from: consumer.queue)
            consumer.unacked += 1
            channel.unacked.append(SimUnacked(tag: tag, queue: consumer.queue, message: message, consumer: consumer))
        } else {
            recordRemoved(message, from: consumer.queue)
        }
        if consumer.handOver.emit(Self.delivery(tag, consumer.tag, message.redelivered, message.payload, message.payload.properties)) {
            unflushed.append(consumer)
        }
    }

    /// Hands each stream consumer the log entries from its cursor, as far as its prefetch allows.
    mutating func dispatchStream(_ queue: SimQueue) {
        guard let first = queue.log.first?.offset else { return }
        for consumer in queue.consumers where consumer.hasCapacity && consumer.streamCursor < queue.streamEnd {
            guard let channel = channels[consumer.channel] else { continue }
            // A reader that fell behind retention goes on from the oldest entry kept: it skips
            // what is gone, never stalls. (RabbitMQ may still read a dropped segment file it has
            // open; the chat does not rely on either.)
            if consumer.streamCursor < first { consumer.streamCursor = first }
            while consumer.hasCapacity, consumer.streamCursor < queue.streamEnd {
                let entry = queue.log[Int(consumer.streamCursor - first)]
                consumer.streamCursor += 1
                let tag = channel.nextTag
                channel.nextTag += 1
                let message = SimQueuedMessage(seq: UInt64(entry.offset), payload: entry.payload, redelivered: false)
                consumer.unacked += 1
                channel.unacked.append(SimUnacked(tag: tag, queue: queue, message: message, consumer: consumer))
                var properties = entry.payload.properties
                properties.headers["x-stream-offset"] = .int(entry.offset)
                if consumer.handOver.emit(Self.delivery(tag, consumer.tag, false, entry.payload, properties)) {
                    unflushed.append(consumer)
                }
            }
        }
    }

    /// Hands every consumer the deliveries the current operation made for it (a batched
    /// consumer as one batch). Runs at the end of every locked operation
    /// (``InMemoryBroker/withState(_:)``).
    mutating func flushDeliveries() {
        guard !unflushed.isEmpty else { return }
        for consumer in unflushed { consumer.handOver.flush() }
        unflushed.removeAll(keepingCapacity: true)
    }

    static func delivery(_ tag: UInt64, _ consumerTag: String?, _ redelivered: Bool, _ payload: SimPayload, _ properties: MessageProperties) -> Delivery {
        Delivery(
            deliveryTag: tag, consumerTag: consumerTag, redelivered: redelivered, exchange: payload.exchange,
            routingKey: payload.routingKey, body: payload.body, properties: properties)
    }
}

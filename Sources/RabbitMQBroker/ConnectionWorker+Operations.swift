import Broker
import CRabbitMQ

/// The operations that channel and connection handles send to the connection thread.
/// Each runs on that thread and returns its result; a failure has already had its effect
/// (a closed channel, a lost connection) when it returns.
extension ConnectionWorker {
    /// The open channel `handle` names, or the error a closed one gives. A channel number
    /// can be reused after a close, so the identity of the shared state is checked too.
    func channel(_ handle: ChannelShared) -> Result<ChannelState, BrokerError> {
        if let channel = channels[handle.id], channel.shared === handle { return .success(channel) }
        return .failure(handle.closedError)
    }

    /// Runs a synchronous rabbitmq-c RPC on `handle`'s channel; `body` returns the decoded
    /// reply (already copied out of rabbitmq-c's memory) or nil when the call failed.
    func rpc<T>(_ handle: ChannelShared, _ body: (amqp_connection_state_t, ChannelState) -> T?) -> Result<T, BrokerError> {
        switch channel(handle) {
        case .failure(let error):
            return .failure(error)
        case .success(let channel):
            guard let connection else { return .failure(fatal ?? handle.closedError) }
            return uncorked {
                if let value = body(connection, channel) { return .success(value) }
                return .failure(failure(from: amqp_get_rpc_reply(connection), channel: handle.id))
            }
        }
    }

    func openChannel() -> Result<ChannelShared, BrokerError> {
        guard let connection else { return .failure(fatal ?? .connectionClosed("the connection is closed.")) }
        guard let id = allocateChannelID() else {
            return .failure(.amqp(code: 530, text: "NOT_ALLOWED - all \(maxChannels) channels of this connection are open; close some first"))
        }
        let shared = ChannelShared(id: id)
        channels[id] = ChannelState(shared: shared)
        return uncorked {
            if amqp_channel_open(connection, id) == nil {
                let error = failure(from: amqp_get_rpc_reply(connection), channel: id)
                finishChannel(id, error)
                return .failure(error)
            }
            if amqp_confirm_select(connection, id) == nil {
                let error = failure(from: amqp_get_rpc_reply(connection), channel: id)
                finishChannel(id, error)
                return .failure(error)
            }
            return .success(shared)
        }
    }

    func closeChannel(_ handle: ChannelShared) {
        guard case .success = channel(handle), let connection else { return }
        let reply = uncorked { amqp_channel_close(connection, handle.id, Int32(AMQP_REPLY_SUCCESS)) }
        if reply.reply_type != AMQP_RESPONSE_NORMAL {
            _ = failure(from: reply, channel: handle.id)
        }
        finishChannel(handle.id, .channelClosed("it was closed by the application."))
    }

    func requestClose() {
        closeRequested = true
    }

    // MARK: Exchanges, queues, bindings

    func declareExchange(_ handle: ChannelShared, name: String, kind: ExchangeKind, options: ExchangeOptions) -> Result<Void, BrokerError> {
        rpc(handle) { connection, channel in
            withArena { arena in
                amqp_exchange_declare(
                    connection, channel.id, arena.bytes(name), arena.bytes(kind.rawValue), options.passive ? 1 : 0,
                    options.durable ? 1 : 0, options.autoDelete ? 1 : 0, 0, arena.table(options.arguments))
            } == nil ? nil : ()
        }
    }

    func deleteExchange(_ handle: ChannelShared, name: String) -> Result<Void, BrokerError> {
        rpc(handle) { connection, channel in
            withAMQPBytes(name) { amqp_exchange_delete(connection, channel.id, $0, 0) } == nil ? nil : ()
        }
    }

    func declareQueue(_ handle: ChannelShared, name: String, options: QueueOptions) -> Result<QueueInfo, BrokerError> {
        rpc(handle) { connection, channel in
            withArena { arena in
                amqp_queue_declare(
                    connection, channel.id, arena.bytes(name), options.passive ? 1 : 0, options.durable ? 1 : 0,
                    options.exclusive ? 1 : 0, options.autoDelete ? 1 : 0, arena.table(options.arguments)
                )
                .map { ok in QueueInfo(name: swiftString(ok.pointee.queue), messageCount: ok.pointee.message_count, consumerCount: ok.pointee.consumer_count) }
            }
        }
    }

    func deleteQueue(_ handle: ChannelShared, name: String, ifUnused: Bool, ifEmpty: Bool) -> Result<UInt32, BrokerError> {
        rpc(handle) { connection, channel in
            withAMQPBytes(name) { amqp_queue_delete(connection, channel.id, $0, ifUnused ? 1 : 0, ifEmpty ? 1 : 0) }
                .map { $0.pointee.message_count }
        }
    }

    func purgeQueue(_ handle: ChannelShared, name: String) -> Result<UInt32, BrokerError> {
        rpc(handle) { connection, channel in
            withAMQPBytes(name) { amqp_queue_purge(connection, channel.id, $0) }.map { $0.pointee.message_count }
        }
    }

    func bind(_ handle: ChannelShared, queue: String, exchange: String, routingKey: String, arguments: AMQPTable, unbind: Bool) -> Result<Void, BrokerError> {
        rpc(handle) { connection, channel in
            withArena { arena in
                if unbind {
                    return amqp_queue_unbind(
                        connection, channel.id, arena.bytes(queue), arena.bytes(exchange), arena.bytes(routingKey),
                        arena.table(arguments)) == nil ? nil : ()
                }
                return amqp_queue_bind(
                    connection, channel.id, arena.bytes(queue), arena.bytes(exchange), arena.bytes(routingKey),
                    arena.table(arguments)) == nil ? nil : ()
            }
        }
    }

    // MARK: Publishing

    /// Publishes `requests` in order as one confirm group; `waiter` is resumed once the
    /// broker settled all of them (or the channel or connection closed).
    func publish(_ handle: ChannelShared, _ requests: [PublishRequest], waiter: PublishWaiter) {
        guard !requests.isEmpty else {
            waiter.resume([])
            return
        }
        let channel: ChannelState
        switch self.channel(handle) {
        case .failure(let error):
            waiter.resume(Array(repeating: .failure(error), count: requests.count))
            return
        case .success(let open):
            channel = open
        }
        guard let connection else {
            waiter.resume(Array(repeating: .failure(fatal ?? handle.closedError), count: requests.count))
            return
        }
        let returnKeys: [ConfirmTracker<PublishWaiter>.ReturnKey?]? =
            requests.contains(where: \.mandatory)
            ? requests.map { $0.mandatory ? .init(exchange: $0.exchange, routingKey: $0.routingKey, body: $0.message.body) : nil }
            : nil
        channel.confirms.register(count: requests.count, waiter: waiter, returnKeys: returnKeys)
        if requests.count > 1 { setCork(true) }
        defer { if requests.count > 1 { setCork(false) } }
        for request in requests {
            let status = withArena { arena in
                var properties = arena.properties(request.message.properties)
                return withAMQPBytes(request.exchange) { exchange in
                    withAMQPBytes(request.routingKey) { routingKey in
                        request.message.body.withUnsafeBytes { body in
                            amqp_basic_publish(
                                connection, channel.id, exchange, routingKey, request.mandatory ? 1 : 0, 0, &properties,
                                amqp_bytes_t(len: body.count, bytes: UnsafeMutableRawPointer(mutating: body.baseAddress)))
                        }
                    }
                }
            }
            if status != AMQP_STATUS_OK.rawValue {
                // The waiter is failed with every other pending publish when the loop ends.
                lose("publishing failed (\(Self.describe(status)))")
                return
            }
        }
    }

    // MARK: Consuming

    func consume(
        _ handle: ChannelShared, queue: String, options: ConsumeOptions,
        output: DeliveryOutput
    ) -> Result<String, BrokerError> {
        if case .success(let channel) = channel(handle), channel.prefetch != options.prefetch {
            let qos: Result<Void, BrokerError> = rpc(handle) { connection, channel in
                amqp_basic_qos(connection, channel.id, 0, options.prefetch, 0) == nil ? nil : ()
            }
            if case .failure(let error) = qos { return .failure(error) }
            channel.prefetch = options.prefetch
        }
        return rpc(handle) { connection, channel in
            let tag: String? = withArena { arena in
                amqp_basic_consume(
                    connection, channel.id, arena.bytes(queue), arena.bytes(options.consumerTag ?? ""), 0,
                    options.noAck ? 1 : 0, options.exclusive ? 1 : 0, arena.table(options.arguments)
                )
                .map { swiftString($0.pointee.consumer_tag) }
            }
            if let tag {
                // A pass reads at most `framesPerPass` frames; with manual ack the prefetch
                // window bounds a batch further.
                let window = options.noAck || options.prefetch == 0 ? Self.framesPerPass : min(Int(options.prefetch), Self.framesPerPass)
                channel.consumers[tag] = DeliveryHandOver(output, consumerTag: tag, expectedBatch: window)
            }
            return tag
        }
    }

    func cancel(_ handle: ChannelShared, tag: String) -> Result<Void, BrokerError> {
        rpc(handle) { connection, channel in
            guard withAMQPBytes(tag, { amqp_basic_cancel(connection, channel.id, $0) }) != nil else { return nil }
            if channel.consumers[tag] != nil { consumersToFinish.append((channel.id, tag)) }
            return ()
        }
    }

    enum Settle: Sendable {
        case ack(multiple: Bool)
        case nack(multiple: Bool, requeue: Bool)
        case reject(requeue: Bool)
    }

    /// Sends `basic.ack`/`nack`/`reject` (no reply in AMQP; a bad tag closes the channel
    /// asynchronously with 406).
    func settle(_ handle: ChannelShared, deliveryTag: UInt64, _ how: Settle) {
        guard case .success(let channel) = channel(handle), let connection else { return }
        let status: Int32
        switch how {
        case .ack(let multiple):
            status = amqp_basic_ack(connection, channel.id, deliveryTag, multiple ? 1 : 0)
        case .nack(let multiple, let requeue):
            status = amqp_basic_nack(connection, channel.id, deliveryTag, multiple ? 1 : 0, requeue ? 1 : 0)
        case .reject(let requeue):
            status = amqp_basic_reject(connection, channel.id, deliveryTag, requeue ? 1 : 0)
        }
        if status != AMQP_STATUS_OK.rawValue { lose("acknowledging failed (\(Self.describe(status)))") }
    }

    func get(_ handle: ChannelShared, queue: String, autoAck: Bool) -> Result<Delivery?, BrokerError> {
        let channel: ChannelState
        switch self.channel(handle) {
        case .failure(let error): return .failure(error)
        case .success(let open): channel = open
        }
        guard let connection else { return .failure(handle.closedError) }
        let reply = uncorked { withAMQPBytes(queue) { amqp_basic_get(connection, channel.id, $0, autoAck ? 1 : 0) } }
        guard reply.reply_type == AMQP_RESPONSE_NORMAL, let decoded = reply.reply.decoded else {
            return .failure(failure(from: reply, channel: channel.id))
        }
        guard reply.reply.id == UInt32(RABBITCHAT_BASIC_GET_OK) else { return .success(nil) }
        let ok = decoded.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee
        let deliveryTag = ok.delivery_tag
        let redelivered = ok.redelivered != 0
        let exchange = swiftString(ok.exchange)
        let routingKey = swiftString(ok.routing_key)
        guard let (body, properties) = readContent(channel.id) else {
            return .failure(fatal ?? handle.closedError)
        }
        return .success(
            Delivery(
                deliveryTag: deliveryTag, consumerTag: nil, redelivered: redelivered, exchange: exchange,
                routingKey: routingKey, body: body, properties: properties))
    }
}

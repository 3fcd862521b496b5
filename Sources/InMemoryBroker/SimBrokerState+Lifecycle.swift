import Broker

extension SimBrokerState {
    mutating func connect(name: String, closeState: SimCloseState) throws(BrokerError) -> SimConnectionID {
        if faults.refuseConnections {
            throw .connectionFailed("the in-process broker is down (refusing connections by fault injection); retry after it comes back.")
        }
        let id = makeID()
        connections[id] = SimConnection(id: id, name: name, closeState: closeState)
        return id
    }

    mutating func openChannel(connection id: SimConnectionID, connectionClose: SimCloseState, closeState: SimCloseState) throws(BrokerError) -> SimChannelID {
        guard let connection = connections[id] else {
            throw connectionClose.reason ?? .connectionClosed("the connection is closed")
        }
        let channelID = makeID()
        let channel = SimChannel(id: channelID, connection: connection, closeState: closeState)
        connection.channels[channelID] = channel
        channels[channelID] = channel
        return channelID
    }

    /// Closes a channel: cancels its consumers (auto-delete queues whose last consumer this
    /// was go), puts its unacknowledged deliveries back in their queues marked redelivered,
    /// and records `reason` for later calls.
    mutating func closeChannel(_ channel: SimChannel, reason: BrokerError) {
        guard channels.removeValue(forKey: channel.id) != nil else { return }
        channel.connection.channels[channel.id] = nil
        channel.closeState.close(reason)
        let consumers = channel.consumers.values.sorted { $0.tag < $1.tag }
        channel.consumers = [:]
        let unacked = channel.unacked
        channel.unacked = []
        var touched: [ObjectIdentifier: SimQueue] = [:]
        for consumer in consumers {
            detach(consumer)
            touched[ObjectIdentifier(consumer.queue)] = consumer.queue
        }
        for entry in unacked {
            entry.consumer?.unacked -= 1
            if requeue(entry) { touched[ObjectIdentifier(entry.queue)] = entry.queue }
        }
        for queue in touched.values.sorted(by: { $0.name < $1.name }) {
            if !deleteIfAutoDeleted(queue) { dispatch(queue) }
        }
    }

    /// Closes a connection: its channels close, its exclusive queues are deleted, every
    /// publish of it waiting for a confirm fails with `reason`, and its waiters wake.
    mutating func closeConnection(_ connection: SimConnection, reason: BrokerError) {
        guard connections.removeValue(forKey: connection.id) != nil else { return }
        for channel in connection.channels.values.sorted(by: { $0.id < $1.id }) {
            closeChannel(channel, reason: reason)
        }
        for queue in queues.values.filter({ $0.exclusiveOwner == connection.id }).sorted(by: { $0.name < $1.name }) {
            _ = deleteQueue(queue)
        }
        let waiting = pendingConfirms.filter { $0.value.connection == connection.id && $0.value.outcome == nil }.keys
        for id in waiting.sorted() { decide(id, .failure(reason)) }
        connection.closeState.close(reason)
    }

    /// Closes every connection whose name matches (all when `name` is nil); returns how many.
    mutating func dropConnections(named name: String?, reason: BrokerError) -> Int {
        let victims = connections.values.filter { name == nil || $0.name == name }.sorted { $0.id < $1.id }
        for connection in victims { closeConnection(connection, reason: reason) }
        return victims.count
    }

    /// A broker restart: every connection closes; non-durable queues and exchanges vanish;
    /// durable classic queues keep only their persistent messages; streams keep everything.
    mutating func restart() {
        _ = dropConnections(named: nil, reason: .connectionClosed("the broker restarted (CONNECTION_FORCED); reconnect."))
        for queue in queues.values.sorted(by: { $0.name < $1.name }) {
            if !queue.durable {
                _ = deleteQueue(queue)
            } else if !queue.isStream {
                let kept = queue.ready.filter { $0.payload.properties.persistent }
                _ = queue.purge()
                for message in kept { queue.appendReady(message) }
            }
        }
        for exchange in exchanges.values where !exchange.durable {
            exchanges[exchange.name] = nil
        }
    }
}

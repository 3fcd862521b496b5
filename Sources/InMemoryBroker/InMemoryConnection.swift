import Broker

/// A connection to an ``InMemoryBroker``. Its state lives in the broker; this object is
/// the handle. Sendable: all fields are immutable or themselves thread-safe.
public final class InMemoryConnection: BrokerConnection {
    let broker: InMemoryBroker
    let id: SimConnectionID
    /// The name given to `connect(name:)`.
    public let name: String
    let closeState: SimCloseState

    init(broker: InMemoryBroker, id: SimConnectionID, name: String, closeState: SimCloseState) {
        self.broker = broker
        self.id = id
        self.name = name
        self.closeState = closeState
    }

    public func openChannel() async throws(BrokerError) -> any BrokerChannel {
        let channelClose = SimCloseState()
        let channelID = try broker.withState { state throws(BrokerError) in
            try state.openChannel(connection: id, connectionClose: closeState, closeState: channelClose)
        }
        return InMemoryChannel(broker: broker, id: channelID, closeState: channelClose)
    }

    public func close() async {
        closeNow(reason: .connectionClosed("the connection was closed by the application."))
    }

    /// Drops this connection as a network failure would (fault injection): see
    /// ``InMemoryBroker/dropConnections(named:)``.
    public func drop() {
        closeNow(reason: .connectionClosed("the connection was dropped (fault injection); reconnect."))
    }

    private func closeNow(reason: BrokerError) {
        broker.withState { state in
            if let connection = state.connections[id] { state.closeConnection(connection, reason: reason) }
        }
    }

    public var closeReason: BrokerError? { closeState.reason }

    public func waitUntilClosed() async -> BrokerError { await closeState.wait() }
}

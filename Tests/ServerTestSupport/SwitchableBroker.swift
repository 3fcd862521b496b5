import Broker
import Synchronization

/// Wraps a broker so a test can take it away from one node: `goDown()` closes that node's
/// connections (as a crash or a network cut would) and refuses new ones until `comeBack()`.
/// Works the same over the simulator and RabbitMQ, unlike the simulator's own fault injection.
public final class SwitchableBroker: Broker {
    private struct State {
        var down = false
        var connections: [any BrokerConnection] = []
    }

    public let base: any Broker
    private let state = Mutex(State())

    public init(_ base: any Broker) {
        self.base = base
    }

    public var displayName: String { base.displayName }

    public func connect(name: String) async throws(BrokerError) -> any BrokerConnection {
        if state.withLock({ $0.down }) { throw BrokerError.connectionFailed("switched off by the test") }
        let connection = try await base.connect(name: name)
        let refused = state.withLock { state in
            if state.down { return true }
            state.connections.append(connection)
            return false
        }
        if refused {
            await connection.close()
            throw BrokerError.connectionFailed("switched off by the test")
        }
        return connection
    }

    public func goDown() async {
        let connections = state.withLock { state in
            state.down = true
            defer { state.connections = [] }
            return state.connections
        }
        for connection in connections { await connection.close() }
    }

    public func comeBack() {
        state.withLock { $0.down = false }
    }
}

import Broker

/// Fault injection: how tests make the broker misbehave to exercise recovery paths.
/// Every fault is deterministic and takes effect at once, for every connection.
extension InMemoryBroker {
    /// What an injected publish fault does to a publish.
    public enum PublishFault: Sendable, Hashable {
        /// The publish throws ``BrokerError/injected(_:)``; the message is not stored.
        case refuse
        /// The broker answers `basic.nack`: the publish throws ``BrokerError/nacked``;
        /// the message is not stored.
        case nack
        /// The publishing connection is dropped before the message is stored: the publish
        /// throws ``BrokerError/connectionClosed(_:)``, as after a network failure.
        case dropConnection
        /// The broker confirms the publish but stores and routes nothing: what RabbitMQ 3.10
        /// did, for seconds, to publishes to a stream whose leader's node had just died.
        case confirmWithoutStoring
    }

    /// Closes the connections named `name` (every connection when nil) as a network failure
    /// would: their unacknowledged deliveries are requeued (redelivered), their consumers
    /// cancelled, their exclusive queues deleted, their publishes awaiting a confirm fail,
    /// and `waitUntilClosed()` returns ``BrokerError/connectionClosed(_:)``.
    /// Returns how many connections were dropped.
    @discardableResult
    public func dropConnections(named name: String? = nil) -> Int {
        withState { state in
            state.dropConnections(named: name, reason: .connectionClosed("the connection was dropped (fault injection); reconnect."))
        }
    }

    /// Closes, with a channel error, every channel that has a consumer on `queue`, as a
    /// PRECONDITION_FAILED (406) would: their unacknowledged deliveries are requeued
    /// (redelivered), their consumers' streams finish, their connections go on. Returns how
    /// many channels were closed.
    @discardableResult
    public func failChannels(consuming queue: String) -> Int {
        withState { state in
            let doomed = state.channels.values.filter { $0.consumers.values.contains { $0.queue.name == queue } }
            for channel in doomed.sorted(by: { $0.id < $1.id }) {
                state.closeChannel(
                    channel,
                    reason: .amqp(
                        code: BrokerError.preconditionFailed,
                        text: "PRECONDITION_FAILED - channel closed by fault injection"))
            }
            return doomed.count
        }
    }

    /// Makes the next `count` publishes (every publish when nil) fail with `fault`, until
    /// ``clearPublishFault()``. A batch uses one count per message.
    public func failPublishes(_ fault: PublishFault, count: Int? = nil) {
        withState { state in
            state.faults.publishFault = fault
            state.faults.publishFaultRemaining = count
        }
    }

    /// Publishes behave normally again.
    public func clearPublishFault() {
        withState { state in
            state.faults.publishFault = nil
            state.faults.publishFaultRemaining = nil
        }
    }

    /// From now on, published messages are routed and stored but their confirms are held
    /// back: `publish` does not return until ``releaseConfirms()`` (or until its connection
    /// is lost, when it throws ``BrokerError/connectionClosed(_:)`` although the message
    /// was stored, exactly the ambiguity of a real broker).
    public func stallConfirms() {
        withState { $0.faults.stallConfirms = true }
    }

    /// Sends every held-back confirm and stops stalling.
    public func releaseConfirms() {
        withState { $0.releaseConfirms() }
    }

    /// Takes the broker "down": drops every connection and refuses new ones with
    /// ``BrokerError/connectionFailed(_:)`` until ``comeBack()``. The broker's queues and
    /// messages stay as they were (a network partition, not a restart).
    public func goDown() {
        withState { state in
            state.faults.refuseConnections = true
            _ = state.dropConnections(named: nil, reason: .connectionClosed("the broker is unreachable (fault injection); reconnect when it is back."))
        }
    }

    /// Accepts connections again after ``goDown()``.
    public func comeBack() {
        withState { $0.faults.refuseConnections = false }
    }

    /// Whether the broker refuses connections (after ``goDown()``).
    public var isDown: Bool {
        withState { $0.faults.refuseConnections }
    }
}

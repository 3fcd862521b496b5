/// The two implementations of the `Broker` protocol that tests run against.
public enum BackendKind: String, CaseIterable, Sendable, CustomStringConvertible {
    /// `InMemoryBroker`: always available, a fresh instance per test.
    case inMemory
    /// `RabbitMQBroker` against `RABBITCHAT_TEST_AMQP_URL`; runs when RabbitMQ is reachable
    /// there, or always with `RABBITCHAT_REQUIRE_RABBITMQ=1` (then fails when it is not).
    case rabbitMQ

    public var description: String { rawValue }
}

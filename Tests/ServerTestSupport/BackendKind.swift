/// The two implementations of the `Broker` protocol that tests run against.
public enum BackendKind: String, CaseIterable, Sendable, CustomStringConvertible {
    /// `InMemoryBroker`: always available, a fresh instance per test.
    case inMemory
    /// `RabbitMQBroker` against `RABBITCHAT_TEST_AMQP_URL`; runs when RabbitMQ is reachable
    /// there, or always with `RABBITCHAT_REQUIRE_RABBITMQ=1` (then fails when it is not).
    case rabbitMQ
    /// `InMemoryBroker` on a store in a fresh temporary data directory (deleted afterwards):
    /// the same simulator with the durability layer under it; `restart()` reopens the store.
    case dataDir

    /// Whether the backend is the simulator (with or without a data directory).
    public var isSimulator: Bool { self != .rabbitMQ }

    public var description: String { rawValue }
}

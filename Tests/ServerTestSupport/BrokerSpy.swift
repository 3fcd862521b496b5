import Broker

/// A queue of the test's own, bound to one of the chat's exchanges: it gets a copy of every
/// message published there with a matching routing key and takes nothing from the chat's
/// queues. A test waits on it for a publish that nothing else shows yet (a receipt held by the
/// sender's node, a `say` whose confirm is stalled, a node's periodic roster announcement):
/// once the spy has it, so has every queue the same publish was routed to.
public final class BrokerSpy: Sendable {
    private let channel: any BrokerChannel
    private let queue: String

    private init(channel: any BrokerChannel, queue: String) {
        self.channel = channel
        self.queue = queue
    }

    /// Binds a fresh spy queue of `cluster`'s broker to `exchange` with `routingKey`.
    public static func bind(_ cluster: ChatCluster, exchange: String, routingKey: String) async throws -> BrokerSpy {
        let channel = try await cluster.testBroker.channel("spy")
        let queue = cluster.testBroker.queueName("spy.\(routingKey)")
        _ = try await channel.declareQueue(queue, options: .exclusive)
        try await channel.bindQueue(queue, exchange: exchange, routingKey: routingKey, arguments: [:])
        return BrokerSpy(channel: channel, queue: queue)
    }

    /// Takes and forgets everything the spy has so far.
    public func drain() async throws {
        while try await channel.get(queue: queue, autoAck: true) != nil {}
    }

    /// Waits until `count` messages whose body (UTF-8 text) `match` accepts came to the spy
    /// since the last wait or drain; they are taken, and so is everything before them.
    public func waitFor(_ what: String, count: Int = 1, timeout: Duration = .seconds(10), where match: (String) -> Bool) async throws {
        var seen = 0
        try await eventually("\(count) × \(what) at the spy", timeout: timeout) {
            while seen < count, let delivery = try await channel.get(queue: queue, autoAck: true) {
                if match(String(decoding: delivery.body, as: UTF8.self)) { seen += 1 }
            }
            return seen >= count
        }
    }

    /// Waits until a message whose body contains `text` came to the spy.
    public func waitFor(_ text: String, timeout: Duration = .seconds(10)) async throws {
        try await waitFor("a publish with \(text)", timeout: timeout) { $0.contains(text) }
    }
}

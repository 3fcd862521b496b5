import Broker
import ServerTestSupport
import Synchronization

/// Reads a consumer's deliveries in the background so that a test can wait, with a bound,
/// for a number of them: deliveries from RabbitMQ arrive asynchronously.
final class DeliveryCollector: Sendable {
    let tag: String
    private struct State {
        var deliveries: [Delivery] = []
        var finished = false
    }

    /// Shared with the reading task.
    private final class Storage: Sendable {
        let mutex = Mutex(State())
    }

    private let storage = Storage()
    private let task: Task<Void, Never>

    init(_ consumer: BrokerConsumer) {
        tag = consumer.tag
        let storage = self.storage
        let stream = consumer.deliveries
        task = Task {
            for await delivery in stream {
                storage.mutex.withLock { $0.deliveries.append(delivery) }
            }
            storage.mutex.withLock { $0.finished = true }
        }
    }

    deinit { task.cancel() }

    var deliveries: [Delivery] { storage.mutex.withLock { $0.deliveries } }
    var texts: [String] { deliveries.map(\.text) }
    var isFinished: Bool { storage.mutex.withLock { $0.finished } }

    /// Waits until at least `count` deliveries came (at most `timeout`), then returns all so far.
    @discardableResult
    func wait(for count: Int, timeout: Duration = .seconds(5)) async -> [Delivery] {
        await until(timeout: timeout) { $0.deliveries.count >= count }
        return deliveries
    }

    /// Waits until the consumer's stream finished (at most `timeout`); returns whether it did.
    @discardableResult
    func waitFinished(timeout: Duration = .seconds(5)) async -> Bool {
        await until(timeout: timeout) { $0.finished }
        return isFinished
    }

    /// Waits `quiet` (at most 50 ms, on the in-process simulator, which hands over at once)
    /// and returns everything delivered so far.
    func settle(_ quiet: Duration) async -> [Delivery] {
        try? await Task.sleep(for: quiet)
        return deliveries
    }

    private func until(timeout: Duration, _ condition: (State) -> Bool) async {
        try? await eventually("the collector's condition", timeout: timeout, interval: .milliseconds(2)) {
            storage.mutex.withLock { condition($0) }
        }
    }
}

import Broker
import ServerTestSupport
import Synchronization

/// Reads a batched consumer's stream in the background, keeping each batch as it came, so
/// that a test can wait (with a bound) for a number of deliveries and look at the batches.
final class BatchCollector: Sendable {
    let tag: String
    private struct State {
        var batches: [[Delivery]] = []
        var finished = false
    }

    /// Shared with the reading task.
    private final class Storage: Sendable {
        let mutex = Mutex(State())
    }

    private let storage = Storage()
    private let task: Task<Void, Never>

    init(_ consumer: BrokerBatchConsumer) {
        tag = consumer.tag
        let storage = self.storage
        let stream = consumer.batches
        task = Task {
            for await batch in stream {
                storage.mutex.withLock { $0.batches.append(batch) }
            }
            storage.mutex.withLock { $0.finished = true }
        }
    }

    deinit { task.cancel() }

    var batches: [[Delivery]] { storage.mutex.withLock { $0.batches } }
    /// Every delivery so far, batches concatenated.
    var deliveries: [Delivery] { batches.flatMap { $0 } }
    var texts: [String] { deliveries.map(\.text) }
    var isFinished: Bool { storage.mutex.withLock { $0.finished } }

    /// Waits until at least `count` deliveries came (at most `timeout`), then returns all so far.
    @discardableResult
    func wait(for count: Int, timeout: Duration = .seconds(5)) async -> [Delivery] {
        await until(timeout: timeout) { $0.batches.reduce(0) { $0 + $1.count } >= count }
        return deliveries
    }

    /// Waits until the stream finished (at most `timeout`); returns whether it did.
    @discardableResult
    func waitFinished(timeout: Duration = .seconds(5)) async -> Bool {
        await until(timeout: timeout) { $0.finished }
        return isFinished
    }

    private func until(timeout: Duration, _ condition: (State) -> Bool) async {
        try? await eventually("the collector's condition", timeout: timeout, interval: .milliseconds(2)) {
            storage.mutex.withLock { condition($0) }
        }
    }
}

extension BrokerChannel {
    /// Starts a batched consumer and a collector of its batches.
    func collectBatches(_ queue: String, prefetch: UInt16 = 100, noAck: Bool = false) async throws(BrokerError) -> BatchCollector {
        BatchCollector(try await consumeBatches(queue: queue, options: ConsumeOptions(prefetch: prefetch, noAck: noAck)))
    }
}

import Broker
import ServerTestSupport
import Synchronization
import Testing

/// Many consumers on one channel, as the chat's inbox channel holds one per user: the
/// prefetch is per consumer, and one consumer can be ended, its unacknowledged deliveries
/// put back, without touching the others'.
@Suite("Contract: many consumers on one channel")
struct SharedChannelContractTests {
    @Test(arguments: BackendKind.allCases)
    func prefetchIsPerConsumerOnAChannelWithSeveralConsumers(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let first = t.queueName("q1")
            let second = t.queueName("q2")
            try await channel.declareFilled([first, second], with: ["1", "2", "3", "4", "5"])
            let one = try await channel.collect(first, prefetch: 2, exclusive: true)
            let two = try await channel.collect(second, prefetch: 2, exclusive: true)
            await one.wait(for: 2)
            await two.wait(for: 2)
            // Barriers: the broker's ready counts say how many went out.
            #expect(try await readyMessages(t, first) == 3)
            #expect(try await readyMessages(t, second) == 3)
            #expect(one.texts == ["1", "2"])
            #expect(two.texts == ["1", "2"])
            // An ack of one consumer's delivery lets only that consumer take one more.
            try await channel.ack(deliveryTag: one.deliveries[0].deliveryTag, multiple: false)
            await one.wait(for: 3)
            #expect(try await readyMessages(t, first) == 2)
            #expect(try await readyMessages(t, second) == 3)
            #expect(one.texts == ["1", "2", "3"])
            #expect(two.texts == ["1", "2"])
        }
    }

    /// What ending a user's inbox does on the shared channel: cancel the consumer, read its
    /// stream to the end (deliveries sent before the cancel-ok come there), nack every
    /// delivery it got with requeue. Exactly its messages are back, in order, redelivered;
    /// the other consumer on the channel keeps its own unacknowledged ones.
    @Test(arguments: BackendKind.allCases)
    func cancellingOneConsumerAndNackingWhatItGotRequeuesExactlyItsMessages(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let mine = t.queueName("mine")
            let theirs = t.queueName("theirs")
            let texts = (1...40).map(String.init)
            try await channel.declareFilled([mine, theirs], with: texts)
            let other = try await channel.collect(theirs, prefetch: 10, exclusive: true)
            let consumer = try await channel.collect(mine, prefetch: 100, exclusive: true)
            await consumer.wait(for: 1)
            await other.wait(for: 10)
            try await channel.cancel(consumerTag: consumer.tag)
            #expect(await consumer.waitFinished())
            let got = consumer.deliveries
            #expect(got.map(\.text) == Array(texts.prefix(got.count)))
            for delivery in got {
                try await channel.nack(deliveryTag: delivery.deliveryTag, multiple: false, requeue: true)
            }

            let again = try await channel.collect(mine, prefetch: 100, exclusive: true)
            #expect(await again.wait(for: 40).map(\.text) == texts)
            let redelivered = again.deliveries.map(\.redelivered)
            #expect(redelivered == Array(repeating: true, count: got.count) + Array(repeating: false, count: 40 - got.count))
            // The other consumer still holds its ten, and got nothing twice.
            let check = try await t.channel("check")
            #expect(try await check.declareQueue(theirs, options: QueueOptions(passive: true)).messageCount == 30)
            // A barrier: the other stream ends after everything delivered to it before the cancel-ok.
            try await channel.cancel(consumerTag: other.tag)
            #expect(await other.waitFinished())
            #expect(other.texts == Array(texts.prefix(10)))
        }
    }

    /// `consume(queue:options:into:)`: two consumers share one sink; each one's deliveries
    /// come in queue order with its tag, its `ended` after its last delivery, on a cancel and
    /// on a channel close alike; the sink itself goes on until its owner finishes it.
    @Test(arguments: BackendKind.allCases)
    func consumersSharingASinkGetTheirDeliveriesInOrderAndAnEndedEventAfterTheLast(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let first = t.queueName("q1")
            let second = t.queueName("q2")
            let texts = (1...20).map(String.init)
            try await channel.declareFilled([first, second], with: texts)
            let (events, sink) = DeliverySink.makeStream()
            let recorder = SinkRecorder(events)
            let one = try await channel.consume(queue: first, options: ConsumeOptions(prefetch: 50), into: sink)
            let two = try await channel.consume(queue: second, options: ConsumeOptions(prefetch: 50), into: sink)
            await recorder.wait { $0.texts(of: one).count == 20 && $0.texts(of: two).count == 20 }
            try await channel.cancel(consumerTag: one)
            await recorder.wait { $0.ended.contains(one) }
            await channel.close()
            await recorder.wait { $0.ended.contains(two) }
            let log = recorder.log
            #expect(log.texts(of: one) == texts)
            #expect(log.texts(of: two) == texts)
            #expect(log.ended == [one, two])
            #expect(log.eventsAfterEnd == 0)
            #expect(!recorder.finished)
            sink.finish()
            let deadline = ContinuousClock.now + .seconds(5)
            while !recorder.finished, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
            #expect(recorder.finished)
        }
    }
}

/// Reads a ``DeliverySink``'s events in the background.
final class SinkRecorder: Sendable {
    struct Log: Sendable {
        var deliveries: [Delivery] = []
        var ended: [String] = []
        /// Deliveries that came for a consumer after its `ended`.
        var eventsAfterEnd = 0

        func texts(of tag: String) -> [String] { deliveries.filter { $0.consumerTag == tag }.map(\.text) }
    }

    private struct State {
        var log = Log()
        var finished = false
    }

    /// Shared with the reading task.
    private final class Storage: Sendable {
        let mutex = Mutex(State())
    }

    private let storage = Storage()
    private let task: Task<Void, Never>

    init(_ events: AsyncStream<DeliverySink.Event>) {
        let storage = self.storage
        task = Task {
            for await event in events {
                storage.mutex.withLock { state in
                    switch event {
                    case .deliveries(let batch):
                        state.log.eventsAfterEnd += batch.filter { state.log.ended.contains($0.consumerTag ?? "") }.count
                        state.log.deliveries += batch
                    case .ended(let tag):
                        state.log.ended.append(tag)
                    }
                }
            }
            storage.mutex.withLock { $0.finished = true }
        }
    }

    deinit { task.cancel() }

    var log: Log { storage.mutex.withLock { $0.log } }
    var finished: Bool { storage.mutex.withLock { $0.finished } }

    func wait(timeout: Duration = .seconds(5), _ condition: (Log) -> Bool) async {
        let deadline = ContinuousClock.now + timeout
        while !condition(log), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }
}

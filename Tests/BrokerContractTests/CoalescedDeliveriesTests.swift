import Synchronization
import Testing

@testable import Broker

/// The batch view a busy reader uses: everything that arrived since it last read, at once,
/// in order; nothing held back from an idle reader; cancellation ends it.
@Suite("CoalescedDeliveries", .timeLimit(.minutes(1)))
struct CoalescedDeliveriesTests {
    private func delivery(_ tag: UInt64) -> Delivery {
        Delivery(
            deliveryTag: tag, consumerTag: "c", redelivered: false, exchange: "", routingKey: "q",
            body: Array("m\(tag)".utf8), properties: MessageProperties())
    }

    /// Waits (bounded) until the pump has put down `count` deliveries and seen the stream end.
    private func waitUntilPumped(_ iterator: CoalescedDeliveries.Iterator, count: Int) async throws {
        for _ in 0..<2000 {
            let state = iterator.mailbox.snapshot
            if state.waiting == count, state.finished { return }
            try await Task.sleep(for: .milliseconds(1))
        }
        Issue.record("The pump did not take the stream's \(count) deliveries within 2 s.")
    }

    @Test
    func batchesThatArriveWhileTheReaderIsBusyComeAsOneBatchInQueueOrder() async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: [Delivery].self)
        continuation.yield([delivery(1), delivery(2)])
        continuation.yield([delivery(3)])
        continuation.yield([delivery(4), delivery(5)])
        continuation.finish()
        var iterator = CoalescedDeliveries(stream).makeAsyncIterator()
        try await waitUntilPumped(iterator, count: 5)
        #expect(await iterator.next()?.map(\.deliveryTag) == [1, 2, 3, 4, 5])
        #expect(await iterator.next() == nil)
    }

    @Test
    func anIdleReaderGetsEachBatchAsItArrives() async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: [Delivery].self)
        var iterator = CoalescedDeliveries(stream).makeAsyncIterator()
        continuation.yield([delivery(1)])
        #expect(await iterator.next()?.map(\.deliveryTag) == [1])
        continuation.yield([delivery(2), delivery(3)])
        #expect(await iterator.next()?.map(\.deliveryTag) == [2, 3])
        continuation.yield([])
        continuation.yield([delivery(4)])
        #expect(await iterator.next()?.map(\.deliveryTag) == [4], "an empty batch is never handed over")
        continuation.finish()
        #expect(await iterator.next() == nil)
    }

    @Test
    func cancellingTheReaderEndsTheIterationAndThePump() async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: [Delivery].self)
        let pumpStopped = StoppedFlag()
        continuation.onTermination = { termination in
            if case .cancelled = termination { pumpStopped.value.store(true, ordering: .relaxed) }
        }
        let reader = Task {
            var taken: [UInt64] = []
            for await batch in CoalescedDeliveries(stream) { taken += batch.map(\.deliveryTag) }
            return taken
        }
        continuation.yield([delivery(1)])
        try await Task.sleep(for: .milliseconds(20))
        reader.cancel()
        let taken = await reader.value
        #expect(taken.allSatisfy { $0 == 1 }, "only what was yielded is handed over")
        for _ in 0..<2000 where !pumpStopped.value.load(ordering: .relaxed) {
            try await Task.sleep(for: .milliseconds(1))
        }
        let stopped = pumpStopped.value.load(ordering: .relaxed)
        #expect(stopped, "the pump stopped reading the stream")
    }
}

/// Set from the stream's termination handler, read by the test.
private final class StoppedFlag: Sendable {
    let value = Atomic<Bool>(false)
}

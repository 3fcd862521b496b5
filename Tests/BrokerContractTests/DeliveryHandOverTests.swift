import Broker
import Testing

/// The hand-over both backends use (nothing reaches a stream before the end of a unit of
/// work, then the unit's deliveries go as one batch), and the per-delivery stream that
/// walks those batches.
@Suite("DeliveryHandOver and DeliveryStream")
struct DeliveryHandOverTests {
    private func delivery(_ tag: UInt64) -> Delivery {
        Delivery(
            deliveryTag: tag, consumerTag: "c", redelivered: false, exchange: "", routingKey: "q",
            body: Array("m\(tag)".utf8), properties: MessageProperties())
    }

    @Test
    func aUnitsDeliveriesGoAsOneBatchAtTheFlushAndNoBatchIsEmpty() async {
        let (stream, continuation) = AsyncStream.makeStream(of: [Delivery].self)
        let handOver = DeliveryHandOver(continuation, expectedBatch: 2)
        #expect(handOver.emit(delivery(1)))
        #expect(!handOver.emit(delivery(2)))
        #expect(!handOver.emit(delivery(3)))
        handOver.flush()
        handOver.flush()
        #expect(handOver.emit(delivery(4)))
        handOver.flush()
        #expect(handOver.emit(delivery(5)))
        // Finishing hands over what is left before the end of the stream.
        handOver.finish()
        var batches: [[UInt64]] = []
        for await batch in stream { batches.append(batch.map(\.deliveryTag)) }
        #expect(batches == [[1, 2, 3], [4], [5]])
    }

    @Test
    func nothingReachesTheStreamBeforeTheFlush() async {
        let (stream, continuation) = AsyncStream.makeStream(of: [Delivery].self)
        let handOver = DeliveryHandOver(continuation)
        _ = handOver.emit(delivery(1))
        // Ending the stream without a flush shows what had been handed over: nothing.
        continuation.finish()
        var count = 0
        for await _ in stream { count += 1 }
        #expect(count == 0)
    }

    @Test
    func aDeliveryStreamYieldsEveryDeliveryOfEveryBatchInOrderThenEnds() async {
        let (stream, continuation) = DeliveryStream.makeStream()
        continuation.yield([delivery(1), delivery(2)])
        continuation.yield([delivery(3)])
        continuation.yield([])
        continuation.yield([delivery(4), delivery(5), delivery(6)])
        continuation.finish()
        var iterator = stream.makeAsyncIterator()
        var tags: [UInt64] = []
        while let next = await iterator.next() { tags.append(next.deliveryTag) }
        #expect(tags == [1, 2, 3, 4, 5, 6])
        #expect(await iterator.next() == nil)
    }
}

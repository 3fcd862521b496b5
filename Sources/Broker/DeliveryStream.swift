/// A consumer's deliveries, one at a time, in queue order; finishes after the last one when
/// the consumer ends (cancel, channel or connection close, queue deleted).
///
/// Underneath, the backend hands deliveries over in batches (see ``DeliveryHandOver``), and
/// the iterator walks each batch locally: only the first delivery of a batch crosses a
/// thread, the rest cost an array read. One `AsyncStream` element per delivery cost more
/// than the broker's own work per message.
///
/// Iterate it once (it is a single-consumer stream, as `AsyncStream` is).
public struct DeliveryStream: AsyncSequence, Sendable {
    public typealias Element = Delivery
    public typealias Failure = Never

    private let batches: AsyncStream<[Delivery]>

    /// The deliveries of `batches`, flattened in order.
    public init(batches: AsyncStream<[Delivery]>) {
        self.batches = batches
    }

    /// A stream and the continuation a backend yields batches to. Buffering is unbounded:
    /// see ``BrokerBatchConsumer`` for the overflow rule.
    public static func makeStream() -> (stream: DeliveryStream, continuation: AsyncStream<[Delivery]>.Continuation) {
        let (batches, continuation) = AsyncStream.makeStream(of: [Delivery].self, bufferingPolicy: .unbounded)
        return (DeliveryStream(batches: batches), continuation)
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(batches: batches.makeAsyncIterator())
    }

    public struct Iterator: AsyncIteratorProtocol {
        public typealias Element = Delivery
        public typealias Failure = Never

        private var batches: AsyncStream<[Delivery]>.Iterator
        /// The batch being walked; emptied after its last delivery is taken, so that a
        /// consumer holds no more deliveries than it has not read yet.
        private var batch: [Delivery] = []
        private var index = 0

        init(batches: AsyncStream<[Delivery]>.Iterator) {
            self.batches = batches
        }

        /// The next delivery, waiting (on the caller's actor) only when the batch is used up.
        public mutating func next(isolation actor: isolated (any Actor)? = #isolation) async -> Delivery? {
            while batch.isEmpty {
                guard let next = await batches.next(isolation: actor) else { return nil }
                batch = next
                index = 0
            }
            let delivery = batch[index]
            index += 1
            if index == batch.count {
                batch = []
            }
            return delivery
        }

        public mutating func next() async -> Delivery? {
            await next(isolation: nil)
        }
    }
}

import Broker

/// Where a consumer's deliveries go: one stream element per delivery (`consume`), or one per
/// pass of the connection thread's loop with every delivery that pass read (`consumeBatches`).
enum ConsumerOutput: Sendable {
    case single(AsyncStream<Delivery>.Continuation)
    case batches(AsyncStream<[Delivery]>.Continuation)

    /// Finishes a stream that never got a consumer (the `basic.consume` failed).
    func finish() {
        switch self {
        case .single(let continuation): continuation.finish()
        case .batches(let continuation): continuation.finish()
        }
    }
}

/// A consumer as its connection thread sees it. Only that thread touches it.
final class ConsumerSink {
    let output: ConsumerOutput
    /// Deliveries to a batched consumer read in the current loop pass, not yet handed over.
    private var pending: [Delivery] = []

    init(output: ConsumerOutput) {
        self.output = output
    }

    /// Hands over one delivery, or for a batched consumer keeps it for the batch. Returns
    /// true when the batch was empty before, i.e. the consumer now needs a flush.
    func emit(_ delivery: consuming Delivery) -> Bool {
        switch output {
        case .single(let continuation):
            continuation.yield(delivery)
            return false
        case .batches:
            pending.append(delivery)
            return pending.count == 1
        }
    }

    /// Yields the kept deliveries of a batched consumer as one batch.
    func flush() {
        guard case .batches(let continuation) = output, !pending.isEmpty else { return }
        let batch = pending
        pending = []
        continuation.yield(batch)
    }

    /// Finishes the stream, after the last batch.
    func finish() {
        flush()
        output.finish()
    }
}

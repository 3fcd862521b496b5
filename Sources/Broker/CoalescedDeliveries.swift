import Synchronization

/// A batched consumer's deliveries, handed to the reader as everything that arrived since it
/// last read: a batch view that grows with load by itself, with no timer.
///
/// A backend hands deliveries over in units of its own work (``DeliveryHandOver``); a busy
/// reader then finds several units waiting. Read through this view, it takes them all at once,
/// in queue order, so the reader's cost per batch (an actor hop, one frame per room) is paid
/// once for all of them. An idle reader gets each unit as soon as it arrives, so nothing waits
/// for company.
///
/// A pump task reads the underlying stream into a mailbox; `next()` empties the mailbox or
/// waits for it. Cancelling the reading task ends the iteration (`nil`) and the pump.
///
/// Overflow rule: the mailbox holds what the reader has not taken yet. With manual ack that is
/// bounded by the consumer's prefetch window as long as the reader acks only what it took (the
/// broker sends no more); with `noAck` the reader must keep up, as with the stream underneath.
public struct CoalescedDeliveries: AsyncSequence, Sendable {
    public typealias Element = [Delivery]
    public typealias Failure = Never

    private let batches: AsyncStream<[Delivery]>

    /// A view of `batches` (e.g. ``BrokerBatchConsumer/batches``). Iterate it once.
    public init(_ batches: AsyncStream<[Delivery]>) {
        self.batches = batches
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(batches: batches)
    }

    public struct Iterator: AsyncIteratorProtocol {
        public typealias Element = [Delivery]
        public typealias Failure = Never

        /// Where the pump puts deliveries down (internal for tests).
        let mailbox: DeliveryMailbox

        init(batches: AsyncStream<[Delivery]>) {
            let mailbox = DeliveryMailbox()
            mailbox.start(pumping: batches)
            self.mailbox = mailbox
        }

        /// Every delivery that arrived since the last call, in queue order (never empty); nil
        /// once the stream finished and everything was taken, or when the task was cancelled.
        public mutating func next(isolation actor: isolated (any Actor)? = #isolation) async -> [Delivery]? {
            await mailbox.take()
        }

        public mutating func next() async -> [Delivery]? {
            await mailbox.take()
        }
    }
}

/// What the pump put down and the reader has not taken; see ``CoalescedDeliveries``.
final class DeliveryMailbox: Sendable {
    private struct State {
        var buffer: [Delivery] = []
        var finished = false
        /// The reader, waiting for the mailbox to fill; only while `buffer` is empty.
        var waiter: CheckedContinuation<[Delivery]?, Never>?
        var pump: Task<Void, Never>?
    }

    private let state = Mutex(State())

    func start(pumping batches: AsyncStream<[Delivery]>) {
        let pump = Task { [self] in
            for await batch in batches { put(batch) }
            finish()
        }
        state.withLock { $0.pump = pump }
    }

    private func put(_ batch: [Delivery]) {
        guard !batch.isEmpty else { return }
        let waiter = state.withLock { state -> CheckedContinuation<[Delivery]?, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            if state.buffer.isEmpty { state.buffer = batch } else { state.buffer.append(contentsOf: batch) }
            return nil
        }
        waiter?.resume(returning: batch)
    }

    private func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<[Delivery]?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Ends the iteration early (the reading task was cancelled): the reader gets nil, the pump stops.
    private func cancel() {
        let (waiter, pump) = state.withLock { state in
            state.finished = true
            state.buffer = []
            defer { state.waiter = nil }
            return (state.waiter, state.pump)
        }
        pump?.cancel()
        waiter?.resume(returning: nil)
    }

    /// How many deliveries wait and whether the stream underneath finished (for tests).
    var snapshot: (waiting: Int, finished: Bool) {
        state.withLock { ($0.buffer.count, $0.finished) }
    }

    func take() async -> [Delivery]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[Delivery]?, Never>) in
                let ready = state.withLock { state -> [Delivery]?? in
                    if !state.buffer.isEmpty {
                        defer { state.buffer = [] }
                        return .some(state.buffer)
                    }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            cancel()
        }
    }
}

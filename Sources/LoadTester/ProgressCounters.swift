import Synchronization

/// Totals that every client bumps and the progress line reads, across event loops. Relaxed
/// atomics: each is a count, nothing is ordered by them; the verdict comes from the ledgers.
final class ProgressCounters: Sendable {
    enum Counter: CaseIterable {
        case connected, joined, failedToJoin, disconnected
        case rejoined, failedToRejoin
        case sent, confirmed, refused
        case expectedDeliveries, delivered, expectedReceipts, receipts
        case otherFrames
    }

    private let connected = Atomic<Int>(0)
    private let joined = Atomic<Int>(0)
    private let failedToJoin = Atomic<Int>(0)
    private let disconnected = Atomic<Int>(0)
    private let rejoined = Atomic<Int>(0)
    private let failedToRejoin = Atomic<Int>(0)
    private let sent = Atomic<Int>(0)
    private let confirmed = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)
    private let expectedDeliveries = Atomic<Int>(0)
    private let delivered = Atomic<Int>(0)
    private let expectedReceipts = Atomic<Int>(0)
    private let receipts = Atomic<Int>(0)
    private let otherFrames = Atomic<Int>(0)

    private func with<R>(_ counter: Counter, _ body: (borrowing Atomic<Int>) -> R) -> R {
        switch counter {
        case .connected: body(connected)
        case .joined: body(joined)
        case .failedToJoin: body(failedToJoin)
        case .disconnected: body(disconnected)
        case .rejoined: body(rejoined)
        case .failedToRejoin: body(failedToRejoin)
        case .sent: body(sent)
        case .confirmed: body(confirmed)
        case .refused: body(refused)
        case .expectedDeliveries: body(expectedDeliveries)
        case .delivered: body(delivered)
        case .expectedReceipts: body(expectedReceipts)
        case .receipts: body(receipts)
        case .otherFrames: body(otherFrames)
        }
    }

    func add(_ counter: Counter, _ amount: Int = 1) {
        with(counter) { _ = $0.add(amount, ordering: .relaxed) }
    }

    func load(_ counter: Counter) -> Int {
        with(counter) { $0.load(ordering: .relaxed) }
    }

    /// Everything that was sent is answered, everything confirmed has arrived everywhere, and
    /// every receipt came back.
    var isDrained: Bool {
        load(.confirmed) + load(.refused) >= load(.sent)
            && load(.delivered) >= load(.expectedDeliveries)
            && load(.receipts) >= load(.expectedReceipts)
    }
}

import Broker
import Synchronization

/// Why a connection or channel closed, and who waits for it. Each connection and channel
/// object shares one with the simulator state: the state writes the reason once, the public
/// objects read it without touching the state's lock.
final class SimCloseState: Sendable {
    private struct State {
        var reason: BrokerError?
        var waiters: [CheckedContinuation<BrokerError, Never>] = []
    }

    private let state = Mutex(State())

    var reason: BrokerError? { state.withLock { $0.reason } }

    /// Records the reason (the first one wins) and wakes every waiter. Returns whether this
    /// call closed it.
    @discardableResult
    func close(_ reason: BrokerError) -> Bool {
        let waiters: [CheckedContinuation<BrokerError, Never>]? = state.withLock { state in
            guard state.reason == nil else { return nil }
            state.reason = reason
            defer { state.waiters = [] }
            return state.waiters
        }
        guard let waiters else { return false }
        for waiter in waiters { waiter.resume(returning: reason) }
        return true
    }

    /// Suspends until closed; returns at once when already closed.
    func wait() async -> BrokerError {
        await withCheckedContinuation { continuation in
            let reason: BrokerError? = state.withLock { state in
                if let reason = state.reason { return reason }
                state.waiters.append(continuation)
                return nil
            }
            if let reason { continuation.resume(returning: reason) }
        }
    }
}

import Broker
import Synchronization

/// Resumes a continuation with the first of several results and ignores the others: the
/// publish and its deadline race for it.
final class FirstOutcome<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<Result<T, BrokerError>, Never>?>

    init(_ continuation: CheckedContinuation<Result<T, BrokerError>, Never>) {
        self.continuation = Mutex(continuation)
    }

    /// Resumes with `result` if nothing did yet; true when this call did.
    func resume(_ result: Result<T, BrokerError>) -> Bool {
        guard let continuation = continuation.withLock({ value in defer { value = nil }; return value }) else { return false }
        continuation.resume(returning: result)
        return true
    }
}

import Broker
import Synchronization

/// Connecting to a broker that stalls (a RabbitMQ still booting accepts TCP and answers the
/// login late; rabbitmq-c waits up to its RPC timeout) must not hold up a shutdown: this
/// gives up waiting when the calling task is cancelled, and closes a connection that arrives
/// after nobody waits for it any more.
func connectUnlessCancelled(_ broker: any Broker, name: String) async throws -> any BrokerConnection {
    let attempt = ConnectAttempt()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<any BrokerConnection, any Error>) in
            guard attempt.install(continuation) else {
                continuation.resume(throwing: CancellationError())
                return
            }
            Task {
                let result: Result<any BrokerConnection, any Error>
                do { result = .success(try await broker.connect(name: name)) } catch { result = .failure(error) }
                if !attempt.finish(result), case .success(let late) = result {
                    await late.close()
                }
            }
        }
    } onCancel: {
        _ = attempt.finish(.failure(CancellationError()))
    }
}

/// The one-time hand-over between a connect attempt, its waiter and cancellation: whichever of
/// `finish(_:)` comes first resumes the waiter; later ones report that nobody took the result.
final class ConnectAttempt: Sendable {
    private struct State {
        var waiter: CheckedContinuation<any BrokerConnection, any Error>?
        var done = false
    }

    private let state = Mutex(State())

    /// Installs the waiter; false when the attempt was already finished (cancelled first).
    func install(_ waiter: CheckedContinuation<any BrokerConnection, any Error>) -> Bool {
        state.withLock { state in
            guard !state.done else { return false }
            state.waiter = waiter
            return true
        }
    }

    /// Resumes the waiter with `result` if this is the first outcome; returns whether it was.
    func finish(_ result: Result<any BrokerConnection, any Error>) -> Bool {
        let waiter: CheckedContinuation<any BrokerConnection, any Error>? = state.withLock { state in
            guard !state.done else { return nil }
            state.done = true
            defer { state.waiter = nil }
            return state.waiter
        }
        guard let waiter else { return false }
        waiter.resume(with: result)
        return true
    }
}

import Broker
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One unit of work for a connection's thread. ``run(_:)`` executes it on that thread with
/// its ``ConnectionWorker``; ``fail(_:)`` answers the caller instead when the connection
/// closed before the command could run. Exactly one of the two is called.
enum ConnectionCommand: Sendable {
    /// Any work, with the answer to give when it cannot run.
    case call(run: @Sendable (ConnectionWorker) -> Void, fail: @Sendable (BrokerError) -> Void)
    /// `basic.ack`/`nack`/`reject`: AMQP answers nothing, so there is nothing to fail. A plain
    /// value, so that the most frequent command allocates no closure.
    case settle(ChannelShared, deliveryTag: UInt64, ConnectionWorker.Settle)

    func run(_ worker: ConnectionWorker) {
        switch self {
        case .call(let run, _): run(worker)
        case .settle(let channel, let deliveryTag, let how): worker.settle(channel, deliveryTag: deliveryTag, how)
        }
    }

    func fail(_ error: BrokerError) {
        if case .call(_, let fail) = self { fail(error) }
    }
}

/// What callers on any thread share with a connection's own thread: the command queue, the
/// wake pipe that interrupts the thread's `poll()`, and the close state.
///
/// The queue has no fixed bound of its own: every command is an awaited call of a caller
/// (RPC, publish or batch) or an ack for a delivery the broker already limited by prefetch,
/// so it holds at most one entry per suspended caller plus the prefetch windows.
final class ConnectionCore: Sendable {
    private struct State {
        var commands: [ConnectionCommand] = []
        /// A byte is in the pipe and the thread has not drained it yet.
        var wakePending = false
        var closeReason: BrokerError?
        var closeWaiters: [CheckedContinuation<BrokerError, Never>] = []
        /// The pipe is open (it is closed exactly once, with the connection).
        var pipeOpen = true
    }

    private let state = Mutex(State())
    /// Set by the connection thread as its last act, after it released the socket.
    private let threadExited = Atomic<Bool>(false)
    /// Read end of the wake pipe; only the connection thread reads it.
    let wakeReadFD: Int32
    private let wakeWriteFD: Int32

    init() throws(BrokerError) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw .connectionFailed("could not create a wake pipe (errno \(errno)); the process may be out of file descriptors.")
        }
        for fd in fds {
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeReadFD = fds[0]
        wakeWriteFD = fds[1]
    }

    /// Queues `command` for the connection thread and wakes it, or fails the command at once
    /// when the connection is closed.
    func submit(_ command: ConnectionCommand) {
        let closed: BrokerError? = state.withLock { state in
            if let reason = state.closeReason { return reason }
            state.commands.append(command)
            if !state.wakePending {
                state.wakePending = true
                var byte: UInt8 = 1
                // Written under the lock so that the pipe cannot be closed in between.
                _ = write(wakeWriteFD, &byte, 1)
            }
            return nil
        }
        if let closed { command.fail(closed) }
    }

    /// Takes every queued command (connection thread only) and drains the wake pipe.
    func takeCommands() -> [ConnectionCommand] {
        state.withLock { state in
            if state.wakePending {
                var buffer: (UInt64, UInt64) = (0, 0)
                while withUnsafeMutableBytes(of: &buffer, { read(wakeReadFD, $0.baseAddress, $0.count) }) > 0 {}
                state.wakePending = false
            }
            let commands = state.commands
            state.commands.removeAll(keepingCapacity: true)
            return commands
        }
    }

    var closeReason: BrokerError? {
        state.withLock { $0.closeReason }
    }

    /// The connection thread has ended and the socket and the wake pipe are closed.
    var isReleased: Bool {
        threadExited.load(ordering: .acquiring) && !state.withLock { $0.pipeOpen }
    }

    /// Called by the connection thread when it is about to end.
    func markThreadExited() {
        threadExited.store(true, ordering: .releasing)
    }

    /// Marks the connection closed (connection thread only, once), closes the wake pipe,
    /// fails the commands that never ran and resumes everyone waiting for the close.
    func markClosed(_ reason: BrokerError) {
        let (commands, waiters) = state.withLock { state in
            if state.closeReason == nil { state.closeReason = reason }
            if state.pipeOpen {
                close(wakeReadFD)
                close(wakeWriteFD)
                state.pipeOpen = false
            }
            let taken = (state.commands, state.closeWaiters)
            state.commands = []
            state.closeWaiters = []
            return taken
        }
        let final = closeReason ?? reason
        for command in commands { command.fail(final) }
        for waiter in waiters { waiter.resume(returning: final) }
    }

    /// Suspends until the connection is closed and returns why.
    func waitUntilClosed() async -> BrokerError {
        await withCheckedContinuation { (continuation: CheckedContinuation<BrokerError, Never>) in
            let closed: BrokerError? = state.withLock { state in
                if let reason = state.closeReason { return reason }
                state.closeWaiters.append(continuation)
                return nil
            }
            if let closed { continuation.resume(returning: closed) }
        }
    }

    /// Runs `body` on the connection thread and returns its result to the awaiting caller.
    func call<T: Sendable>(_ body: @escaping @Sendable (ConnectionWorker) -> Result<T, BrokerError>) async throws(BrokerError) -> T {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, BrokerError>, Never>) in
            submit(.call(
                run: { worker in continuation.resume(returning: body(worker)) },
                fail: { error in continuation.resume(returning: .failure(error)) }
            ))
        }
        return try result.get()
    }
}

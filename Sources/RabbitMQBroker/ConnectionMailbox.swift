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
final class ConnectionMailbox: Sendable {
    private struct State {
        var commands: [ConnectionCommand] = []
        /// A wake-up byte is in the pipe (or being written) and the thread has not drained
        /// it yet, so the thread's next `poll` returns at once: later submitters need not
        /// write another. While the thread is busy this stays set and submitting costs no
        /// syscall at all.
        var wakePending = false
        var closeReason: BrokerError?
        var closeWaiters: [CheckedContinuation<BrokerError, Never>] = []
        /// The pipe is open (it is closed exactly once, with the connection).
        var pipeOpen = true
    }

    private let state = Mutex(State())
    /// Set by the connection thread as its last act, after it released the socket.
    private let threadExited = Atomic<Bool>(false)
    /// Submitters writing a wake-up byte right now. The write happens outside the lock (a
    /// syscall under it made the connection thread spin for the lock it had just been
    /// woken to take); ``markClosed(_:)`` waits for them before it closes the pipe.
    private let writersInFlight = Atomic<Int>(0)
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
        enum Outcome {
            case queued, wake
            case closed(BrokerError)
        }
        let outcome: Outcome = state.withLock { state in
            if let reason = state.closeReason { return .closed(reason) }
            state.commands.append(command)
            guard !state.wakePending else { return .queued }
            state.wakePending = true
            // Counted under the lock: once the connection is marked closed, no new writer starts.
            writersInFlight.add(1, ordering: .acquiring)
            return .wake
        }
        switch outcome {
        case .queued:
            break
        case .wake:
            var byte: UInt8 = 1
            _ = write(wakeWriteFD, &byte, 1)
            writersInFlight.subtract(1, ordering: .releasing)
        case .closed(let reason):
            command.fail(reason)
        }
    }

    /// Moves every queued command into `commands`, which must be empty (connection thread
    /// only). Swapping buffers lets both arrays keep their capacity: no allocation per pass.
    func takeCommands(into commands: inout [ConnectionCommand]) {
        state.withLock { state in
            swap(&state.commands, &commands)
        }
    }

    /// Empties the wake pipe (connection thread only, when `poll` says it is readable), so
    /// that the next submitter writes a byte again; the commands are taken afterwards, so
    /// none is missed.
    ///
    /// The pipe is read under the lock that `wakePending` is set under: a byte read here
    /// was announced before the reset, and a submitter that finds the flag reset writes a
    /// byte that stays for the next `poll`. (Reading outside the lock could swallow such a
    /// byte and leave the flag set with an empty pipe: later commands would wait for the
    /// next frame or the poll timeout.) A byte still in flight at the reset lands later and
    /// wakes the loop once for nothing.
    func drainWakePipe() {
        state.withLock { state in
            var buffer: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
            while withUnsafeMutableBytes(of: &buffer, { read(wakeReadFD, $0.baseAddress, $0.count) }) == MemoryLayout.size(ofValue: buffer) {}
            state.wakePending = false
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
                // No writer starts after the close reason is set; the ones in flight are a
                // single `write` each from finishing.
                while writersInFlight.load(ordering: .acquiring) > 0 { sched_yield() }
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
            submit(
                .call(
                    run: { worker in continuation.resume(returning: body(worker)) },
                    fail: { error in continuation.resume(returning: .failure(error)) }
                ))
        }
        return try result.get()
    }
}

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension ServerProcess {
    /// The exit status once the child has ended (the signal number if a signal ended it), or
    /// nil if it still runs after `timeout`. Once it has ended, waits a little more (at most
    /// a second) until its output pipes are drained, so the last lines are in `output`.
    public func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            guard ContinuousClock.now < deadline else { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        let drained = ContinuousClock.now + .seconds(1)
        while !output.isComplete, ContinuousClock.now < drained {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return exitReason?.status
    }

    /// Stops the child by its PID: SIGTERM, then SIGKILL if it still runs after `grace`.
    /// Returns its exit status, as `waitForExit`.
    @discardableResult
    public func stop(grace: Duration = .seconds(10)) async -> Int32? {
        guard isRunning else { return await waitForExit(timeout: .zero) }
        signal(SIGTERM)
        if let status = await waitForExit(timeout: grace) { return status }
        signal(SIGKILL)
        return await waitForExit(timeout: .seconds(5))
    }

    /// `stop(grace:)` for places that cannot wait asynchronously, such as a `defer` block: the
    /// same signals, but the calling thread sleeps while it waits.
    @discardableResult
    public func stopBlocking(grace: Duration = .seconds(10)) -> Int32? {
        func waitBlocking(_ timeout: Duration) -> Bool {
            let deadline = ContinuousClock.now + timeout
            while isRunning, ContinuousClock.now < deadline { usleep(20_000) }
            return !isRunning
        }
        if isRunning {
            signal(SIGTERM)
            if !waitBlocking(grace) {
                signal(SIGKILL)
                _ = waitBlocking(.seconds(5))
            }
        }
        return exitReason?.status
    }

    /// The port in the URL of the startup banner (`http://` or `https://<address>:<port>/`), once standard
    /// output shows it; nil if the child ended first or `timeout` passed.
    public func waitForPort(timeout: Duration = .seconds(30)) async -> Int? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let match = standardOutput.firstMatch(of: /https?:\/\/[0-9.]+:(\d+)\//), let port = Int(match.1) {
                return port
            }
            if !isRunning { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// Polls `isReady` every `interval` until it holds. Throws `ServerDidNotStart` (saying how
    /// the child ended and what it wrote) if the child ends first, or if `timeout` passes.
    public func waitUntil(
        timeout: Duration,
        interval: Duration = .milliseconds(50),
        _ what: String,
        isReady: () async -> Bool
    ) async throws {
        do {
            try await eventually(what, timeout: timeout, interval: interval) {
                if await isReady() { return true }
                if let exit = exitReason {
                    _ = await waitForExit(timeout: .zero)
                    throw ServerDidNotStart("\(executable) \(exit) before \(what); it wrote: \(ServerDidNotStart.excerpt(output.combined))")
                }
                return false
            }
            return
        } catch is TimedOut {}
        throw ServerDidNotStart("\(executable) did not reach \(what) within \(timeout); it wrote: \(ServerDidNotStart.excerpt(output.combined))")
    }
}

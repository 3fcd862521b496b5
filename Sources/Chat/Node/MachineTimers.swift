/// The running timers of one state machine, by the machine's own key (a ticket, a timer kind,
/// a session): how every executor carries out a machine's `startTimer` and `cancelTimer`.
///
/// One task per pending timer sleeps until its deadline, then calls `fire` with a ``Firing``;
/// the owner hands that to ``take(_:)`` and tells the machine only when it returns true. So a
/// timer cancelled (or started again under its key) after its task woke but before the owner
/// ran never reaches the machine: a cancelled timer does not fire.
///
/// Bound: it holds exactly the timers the machine has pending (each machine bounds its own set,
/// Specs/bounds.md); starting a key that runs replaces its timer.
struct MachineTimers<Key: Hashable & Sendable>: Sendable {
    /// One timer's wake-up, handed to the owner's `fire` closure.
    struct Firing: Sendable, Hashable {
        var key: Key
        /// Which start of `key` it belongs to.
        fileprivate var serial: UInt64
    }

    private var running: [Key: (serial: UInt64, task: Task<Void, Never>)] = [:]
    private var nextSerial: UInt64 = 1

    /// Timers started and neither cancelled nor taken.
    var count: Int { running.count }

    /// The keys of the running timers.
    var keys: [Key] { Array(running.keys) }

    /// Whether a timer runs under `key`.
    func isRunning(_ key: Key) -> Bool { running[key] != nil }

    /// Starts the timer `key` (replacing the one running under it, if any): once `deadline`
    /// has passed, `fire` runs with its ``Firing`` unless the timer was cancelled first.
    /// `fire` should capture its owner weakly (a timer does not keep its node alive).
    mutating func start(
        _ key: Key, deadline: ContinuousClock.Instant, fire: @escaping @Sendable (Firing) async -> Void
    ) {
        let firing = Firing(key: key, serial: nextSerial)
        nextSerial += 1
        running[key]?.task.cancel()
        let task = Task {
            guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
            await fire(firing)
        }
        running[key] = (firing.serial, task)
    }

    /// Cancels the timer `key`, if it runs.
    mutating func cancel(_ key: Key) {
        running.removeValue(forKey: key)?.task.cancel()
    }

    /// Cancels every timer.
    mutating func cancelAll() {
        for entry in running.values { entry.task.cancel() }
        running = [:]
    }

    /// A timer woke: true (and it no longer runs) when it is still the one running under its
    /// key, false when it was cancelled or replaced meanwhile (then nothing may happen).
    mutating func take(_ firing: Firing) -> Bool {
        guard running[firing.key]?.serial == firing.serial else { return false }
        running.removeValue(forKey: firing.key)
        return true
    }
}

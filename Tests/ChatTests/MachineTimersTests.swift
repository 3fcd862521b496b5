import Testing

@testable import Chat

/// Owns a ``MachineTimers`` as an executor does: starts and cancels timers, takes each firing
/// and records the keys that fired, and lets a test wait (bounded by the suite's time limit)
/// for a key to fire.
private actor TimerOwner {
    private var timers = MachineTimers<Int>()
    private(set) var fired: [Int] = []
    private var waiting: [Int: [CheckedContinuation<Void, Never>]] = [:]

    var running: Int { timers.count }

    func start(_ key: Int, after delay: Duration) {
        timers.start(key, deadline: .now.advanced(by: delay)) { [weak self] firing in await self?.timerFired(firing) }
    }

    func cancel(_ key: Int) { timers.cancel(key) }

    func cancelAll() { timers.cancelAll() }

    /// Returns once `key` fired.
    func waitForFiring(of key: Int) async {
        if fired.contains(key) { return }
        await withCheckedContinuation { waiting[key, default: []].append($0) }
    }

    private func timerFired(_ firing: MachineTimers<Int>.Firing) {
        guard timers.take(firing) else { return }
        fired.append(firing.key)
        for continuation in waiting.removeValue(forKey: firing.key) ?? [] { continuation.resume() }
    }
}

/// ``MachineTimers``, the timer runner of every executor: real tasks and short real deadlines
/// (it is what turns a machine's deadline into a wake-up). That a timer did not fire is shown by
/// one started after it, with a later deadline, that did.
@Suite("MachineTimers", .timeLimit(.minutes(1)))
struct MachineTimersTests {
    @Test func aStartedTimerFiresAndACancelledOneDoesNot() async {
        let owner = TimerOwner()
        await owner.start(1, after: .milliseconds(20))
        await owner.start(2, after: .milliseconds(10))
        await owner.cancel(1)
        await owner.start(3, after: .milliseconds(80))
        await owner.waitForFiring(of: 3)
        #expect(await owner.fired.sorted() == [2, 3])
        #expect(await owner.running == 0)
    }

    @Test func startingARunningKeyAgainReplacesItsTimer() async {
        let owner = TimerOwner()
        await owner.start(1, after: .milliseconds(10))
        await owner.start(1, after: .milliseconds(40))
        await owner.start(2, after: .milliseconds(100))
        await owner.waitForFiring(of: 2)
        // Key 1 fired once: the first timer was replaced before its deadline.
        #expect(await owner.fired.sorted() == [1, 2])
        #expect(await owner.running == 0)
    }

    @Test func cancelAllCancelsEveryRunningTimer() async {
        let owner = TimerOwner()
        await owner.start(1, after: .milliseconds(10))
        await owner.start(2, after: .milliseconds(20))
        #expect(await owner.running == 2)
        await owner.cancelAll()
        #expect(await owner.running == 0)
        await owner.start(3, after: .milliseconds(60))
        await owner.waitForFiring(of: 3)
        #expect(await owner.fired == [3])
    }
}

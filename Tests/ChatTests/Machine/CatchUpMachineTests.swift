import Testing

@testable import Chat

/// Drives a ``CatchUpMachine`` as the node's executor does, without a broker, tasks or sleeps:
/// it keeps the timers the machine started (as values), fires the due ones when the manual
/// clock is moved, and records how each waiting join was answered.
struct CatchUpHarness {
    typealias Machine = CatchUpMachine<ManualInstant>

    static let timeout = Duration.seconds(10)
    static let window = Duration.seconds(1)
    static let fingerprint = "00112233aabbccdd"

    var machine = Machine(nodeId: "a", fingerprint: Self.fingerprint, timings: .init(catchUpTimeout: Self.timeout, secretCheckWindow: Self.window))
    var now = ManualInstant(offset: .zero)
    var timers: [Machine.TimerKind: ManualInstant] = [:]
    /// How each waiting join was answered, by waiter (true: served).
    var answered: [UInt64: Bool] = [:]
    /// Links that said `hello`; answers given; refusals; confirmations.
    var hellos: [Int] = []
    var answers: [Machine.Action] = []
    var refusals: [Machine.Mismatch] = []
    var confirmed = 0

    mutating func note(_ actions: [Machine.Action]) {
        for action in actions {
            switch action {
            case .startTimer(let timer): timers[timer.kind] = timer.deadline
            case .cancelTimer(let kind): timers.removeValue(forKey: kind)
            case .resume(let waiter, let caughtUp):
                #expect(answered[waiter] == nil, "a join is answered once")
                answered[waiter] = caughtUp
            case .sayHello(let generation): hellos.append(generation)
            case .answerHello: answers.append(action)
            case .secretConfirmed: confirmed += 1
            case .refuse(let mismatch): refusals.append(mismatch)
            }
        }
    }

    /// A link comes up (its history stream ending at `end`) and its `sync` record goes out.
    mutating func linkUp(_ generation: Int = 1, end: Int64? = 10, lastRead: Int64? = nil) {
        note(machine.linkUp(generation: generation, syncMarker: Self.marker(generation), historyEnd: end, lastHistoryOffset: lastRead))
        note(machine.startSecretCheck())
    }

    static func marker(_ generation: Int) -> String { "a/\(generation)/1" }

    /// The `hello` asked for went out.
    mutating func helloSent(_ generation: Int = 1) {
        note(machine.helloSent(generation: generation, now: now))
    }

    /// Both streams read up to what the link needs.
    mutating func readStreams(_ generation: Int = 1, to offset: Int64 = 10) {
        note(machine.syncRead(marker: Self.marker(generation)))
        note(machine.historyRead(offset: offset))
    }

    mutating func wait(_ waiter: UInt64) {
        note(machine.wait(waiter, now: now))
    }

    mutating func advance(by duration: Duration) {
        now = now.advanced(by: duration)
        while let due = timers.filter({ $0.value <= now }).min(by: { $0.value < $1.value }) {
            timers.removeValue(forKey: due.key)
            note(machine.timerFired(due.key))
        }
    }
}

/// The catch-up guarantees of Specs/chat-protocol.md and the secret check of
/// Specs/amqp-topology.md on ``CatchUpMachine`` alone: no broker, no tasks, a manual clock, no
/// sleeps.
@Suite("CatchUpMachine")
struct CatchUpMachineTests {
    @Test func joinsWaitUntilClaimsHistoryAndTheSecretCheckAreDone() {
        var harness = CatchUpHarness()
        harness.linkUp(end: 10)
        #expect(harness.hellos == [1])
        harness.wait(1)
        #expect(harness.answered.isEmpty)
        #expect(harness.timers[.waiter(1)] == ManualInstant(offset: CatchUpHarness.timeout))
        // A sync marker of another link, and history short of where it ended, are not enough.
        harness.note(harness.machine.syncRead(marker: CatchUpHarness.marker(0)))
        harness.note(harness.machine.historyRead(offset: 9))
        harness.helloSent()
        harness.advance(by: CatchUpHarness.window)
        #expect(harness.confirmed == 1)
        #expect(harness.answered.isEmpty)
        harness.note(harness.machine.syncRead(marker: CatchUpHarness.marker(1)))
        #expect(harness.answered.isEmpty)
        harness.note(harness.machine.historyRead(offset: 10))
        #expect(harness.answered == [1: true])
        #expect(harness.timers.isEmpty)
        // Caught up: the next join goes on at once.
        harness.wait(2)
        #expect(harness.answered[2] == true)
    }

    /// A node that reads `chat.state` (issue 16) serves joins only once it read its link's
    /// sync marker there too: a restarted node knows every password before a join.
    @Test func aNodeReadingTheStateStreamWaitsForItsSyncMarkerThereToo() {
        var harness = CatchUpHarness()
        harness.note(harness.machine.linkUp(generation: 1, syncMarker: CatchUpHarness.marker(1), historyEnd: nil, lastHistoryOffset: nil, readsState: true))
        harness.note(harness.machine.startSecretCheck())
        harness.helloSent()
        harness.advance(by: CatchUpHarness.window)
        harness.wait(1)
        harness.note(harness.machine.syncRead(marker: CatchUpHarness.marker(1)))
        harness.note(harness.machine.stateSyncRead(marker: CatchUpHarness.marker(0)))
        #expect(harness.answered.isEmpty, "claims read, the state stream not yet")
        harness.note(harness.machine.stateSyncRead(marker: CatchUpHarness.marker(1)))
        #expect(harness.answered == [1: true])
        // A lost link must read the state stream again up to the next marker.
        harness.note(harness.machine.linkLost())
        #expect(!harness.machine.stateCaughtUp)
    }

    @Test func joinsThatWaitTooLongAreUnavailable() {
        var harness = CatchUpHarness()
        harness.linkUp()
        harness.helloSent()
        harness.wait(1)
        harness.advance(by: .seconds(4))
        harness.wait(2)
        // The secret check is over, but the streams are still being read.
        harness.advance(by: .seconds(5))
        #expect(harness.answered.isEmpty)
        harness.advance(by: .seconds(1))
        #expect(harness.answered == [1: false])
        harness.advance(by: .seconds(4))
        #expect(harness.answered == [1: false, 2: false])
        // Catching up later answers nobody twice.
        harness.readStreams()
        #expect(harness.answered.count == 2)
        #expect(harness.machine.caughtUp)
    }

    @Test func withoutALinkJoinsAreUnavailableAndALostLinkAnswersEveryWaitingJoin() {
        var harness = CatchUpHarness()
        harness.wait(1)
        #expect(harness.answered == [1: false])
        harness.linkUp()
        harness.helloSent()
        harness.advance(by: CatchUpHarness.window)
        harness.readStreams()
        #expect(harness.machine.caughtUp)
        harness.note(harness.machine.linkLost())
        #expect(!harness.machine.caughtUp)
        // The next link must be read up to its own marker again; the secret stays checked.
        harness.linkUp(2, end: 20, lastRead: 10)
        #expect(harness.hellos == [1])
        harness.wait(2)
        harness.wait(3)
        harness.note(harness.machine.linkLost())
        #expect(harness.answered == [1: false, 2: false, 3: false])
        #expect(harness.timers.isEmpty)
    }

    @Test func historyAlreadyReadOrOfUnknownEndNeedsNoReading() {
        var harness = CatchUpHarness()
        harness.linkUp(end: 10, lastRead: 10)
        #expect(harness.machine.historyCaughtUp)
        harness.note(harness.machine.linkLost())
        harness.linkUp(2, end: nil)
        #expect(harness.machine.historyCaughtUp)
        #expect(!harness.machine.claimsCaughtUp)
    }

    @Test func aNodeWithAnotherSecretAnsweringTheHelloMakesThisNodeRefuse() {
        var harness = CatchUpHarness()
        harness.linkUp()
        harness.helloSent()
        harness.wait(1)
        harness.readStreams()
        // An answer to another node, and one with the same fingerprint, change nothing.
        harness.note(harness.machine.secretRecord(.fingerprint(node: "b", to: "c", fingerprint: "ffffffffffffffff")))
        harness.note(harness.machine.secretRecord(.fingerprint(node: "c", to: "a", fingerprint: CatchUpHarness.fingerprint)))
        harness.note(harness.machine.secretRecord(.fingerprint(node: "b", to: "a", fingerprint: "ffffffffffffffff")))
        #expect(harness.refusals.isEmpty)
        harness.advance(by: CatchUpHarness.window)
        #expect(harness.refusals == [.init(node: "b", fingerprint: "ffffffffffffffff")])
        #expect(harness.confirmed == 0)
        #expect(!harness.machine.caughtUp)
        #expect(harness.answered.isEmpty)
        // The node closes its link: the waiting join is unavailable, no hello is said again.
        harness.note(harness.machine.linkLost())
        harness.linkUp(2)
        #expect(harness.answered == [1: false])
        #expect(harness.hellos == [1])
    }

    @Test func twoNodesStartingAtOnceWithDifferentSecretsBothRefuse() {
        var harness = CatchUpHarness()
        harness.linkUp()
        harness.helloSent()
        // Its own hello, read back, is no news; the other newcomer's is.
        harness.note(harness.machine.secretRecord(.hello(node: "a", fingerprint: CatchUpHarness.fingerprint)))
        harness.note(harness.machine.secretRecord(.hello(node: "b", fingerprint: "ffffffffffffffff")))
        #expect(harness.answers.isEmpty)
        harness.advance(by: CatchUpHarness.window)
        #expect(harness.refusals == [.init(node: "b", fingerprint: "ffffffffffffffff")])
    }

    @Test func aRunningNodeAnswersEveryHelloAndGoesOn() {
        var harness = CatchUpHarness()
        harness.linkUp()
        harness.helloSent()
        harness.advance(by: CatchUpHarness.window)
        #expect(harness.confirmed == 1)
        harness.note(harness.machine.secretRecord(.hello(node: "b", fingerprint: CatchUpHarness.fingerprint)))
        harness.note(harness.machine.secretRecord(.hello(node: "c", fingerprint: "ffffffffffffffff")))
        harness.note(harness.machine.secretRecord(.fingerprint(node: "c", to: "a", fingerprint: "ffffffffffffffff")))
        #expect(harness.answers == [.answerHello(to: "b", differing: nil), .answerHello(to: "c", differing: "ffffffffffffffff")])
        #expect(harness.refusals.isEmpty)
        #expect(harness.machine.secretChecked)
    }

    @Test func theCheckEndsOnlyOnTheLinkThatSaidHello() {
        var harness = CatchUpHarness()
        harness.linkUp(1)
        harness.helloSent(1)
        harness.note(harness.machine.linkLost())
        #expect(harness.timers.isEmpty)
        // The window of the lost link ending late changes nothing; the next link says hello again.
        harness.note(harness.machine.timerFired(.secretCheck(generation: 1)))
        #expect(harness.confirmed == 0)
        harness.linkUp(2)
        #expect(harness.hellos == [1, 2])
        // A hello of the lost link that went out late starts no window.
        harness.helloSent(1)
        #expect(harness.timers.isEmpty)
        harness.helloSent(2)
        harness.advance(by: CatchUpHarness.window)
        #expect(harness.confirmed == 1)
    }
}

import Testing

@testable import Chat

/// Drives a ``PresenceMachine`` as the node's executor does, without a broker, tasks or sleeps:
/// it keeps the timers the machine started (as values), fires the due ones when the manual
/// clock is moved, keeps the local roster, and records the frames and announcements asked for.
struct PresenceHarness {
    typealias Machine = PresenceMachine<ManualInstant>

    static let batchInterval = Duration.milliseconds(250)
    static let announceInterval = Duration.seconds(5)
    static let expiry = Duration.seconds(15)
    /// The chat clock's milliseconds at the manual clock's zero.
    static let epoch: Int64 = 1_700_000_000_000

    var machine = Machine(
        nodeId: "a",
        timings: .init(
            batchInterval: Self.batchInterval, announceInterval: Self.announceInterval,
            expiryMilliseconds: Self.expiry.milliseconds))
    var now = ManualInstant(offset: .zero)
    var timers: [Machine.TimerKind: ManualInstant] = [:]
    /// This node's joined sessions' nicks.
    var localRoster: Set<String> = []
    /// Every `presence` frame sent to the sessions, in order.
    var frames: [Presence] = []
    /// Every roster announcement published, in order.
    var announced: [Set<String>] = []
    /// Snapshots asked for.
    var snapshotsTaken = 0

    var ms: Int64 { Self.epoch + now.offset.milliseconds }

    mutating func note(_ actions: [Machine.Action]) {
        for action in actions {
            switch action {
            case .startTimer(let timer): timers[timer.kind] = timer.deadline
            case .cancelTimer(let kind): timers.removeValue(forKey: kind)
            case .sendPresence(let frame): frames.append(frame)
            case .publishRoster(let nicks): announced.append(nicks)
            case .takeRosterSnapshot:
                snapshotsTaken += 1
                machine.snapshotTaken(RosterSnapshot(users: machine.table.onlineNicks.sorted().map { UserStatus(nick: $0, online: true) }))
            case .changed, .tick: break
            }
        }
    }

    /// A local session of `nick` joined, or its last one ended.
    mutating func local(_ nick: String, online: Bool) {
        if online { localRoster.insert(nick) } else { localRoster.remove(nick) }
        note(machine.localPresence(nick: nick, online: online, now: now, ms: ms))
    }

    mutating func roster(from node: String, _ nicks: Set<String>) {
        note(machine.rosterReceived(from: node, nicks: nicks, now: now, ms: ms, localRoster: localRoster))
    }

    mutating func linkUp(_ generation: Int = 1) {
        note(machine.linkUp(generation: generation, now: now, ms: ms, localRoster: localRoster))
    }

    /// The announcement in flight went out.
    mutating func announceDone(published: Bool = true) {
        note(machine.announceFinished(published: published, localRoster: localRoster))
    }

    /// Moves the manual clock, firing every timer due on the way at its deadline, oldest first
    /// (a timer started by a firing one fires too when due).
    mutating func advance(by duration: Duration) {
        let target = now.advanced(by: duration)
        while let due = timers.filter({ $0.value <= target }).min(by: { $0.value < $1.value }) {
            timers.removeValue(forKey: due.key)
            now = max(now, due.value)
            note(machine.timerFired(due.key, now: now, ms: ms, localRoster: localRoster))
        }
        now = target
    }
}

/// The presence guarantees of Specs/chat-protocol.md on ``PresenceMachine`` alone: no broker,
/// no tasks, a manual clock, no sleeps.
@Suite("PresenceMachine")
struct PresenceMachineTests {
    @Test func changesWithinOneFlushWindowReachTheSessionsAsOneBatch() {
        var harness = PresenceHarness()
        harness.local("alice", online: true)
        #expect(harness.timers[.flush] == ManualInstant(offset: PresenceHarness.batchInterval))
        harness.advance(by: .milliseconds(100))
        harness.roster(from: "b", ["bob"])
        harness.local("carol", online: true)
        harness.advance(by: .milliseconds(100))
        harness.local("carol", online: false)
        // Nothing is told before the window ends.
        #expect(harness.frames.isEmpty)
        harness.advance(by: .milliseconds(50))
        // One frame, each nick once with its newest state, stamped with the flush's time.
        #expect(harness.frames == [Presence(online: ["alice", "bob"], offline: ["carol"], ts: PresenceHarness.epoch + 250)])
        #expect(harness.timers[.flush] == nil)
        // A quiet window sends nothing; the next change starts a new one.
        harness.advance(by: .seconds(1))
        #expect(harness.frames.count == 1)
        harness.local("dave", online: true)
        harness.advance(by: PresenceHarness.batchInterval)
        #expect(harness.frames.last == Presence(online: ["dave"], offline: [], ts: PresenceHarness.epoch + 1_500))
    }

    @Test func aNickIsOnlineWhileASessionLivesAndOfflineAfter() {
        var harness = PresenceHarness()
        harness.linkUp()
        harness.announceDone()
        harness.local("alice", online: true)
        #expect(harness.machine.table.isOnline("alice"))
        harness.advance(by: PresenceHarness.batchInterval)
        #expect(harness.frames.last == Presence(online: ["alice"], offline: [], ts: PresenceHarness.epoch + 250))
        // The other nodes hear of it at the flush.
        #expect(harness.announced.last == ["alice"])
        harness.announceDone()
        harness.local("alice", online: false)
        #expect(!harness.machine.table.isOnline("alice"))
        harness.advance(by: PresenceHarness.batchInterval)
        #expect(harness.frames.last == Presence(online: [], offline: ["alice"], ts: PresenceHarness.epoch + 500))
        #expect(harness.announced.last == [])
    }

    @Test func aRemoteRosterExpiresAfterPresenceExpiryWithoutAnnouncements() {
        var harness = PresenceHarness()
        harness.linkUp()
        harness.announceDone()
        harness.roster(from: "b", ["bob"])
        harness.announceDone()
        harness.roster(from: "c", ["carol"])
        harness.announceDone()
        harness.advance(by: PresenceHarness.batchInterval)
        #expect(harness.frames.last?.online == ["bob", "carol"])
        // Node c keeps announcing every interval, node b falls silent.
        for _ in 0..<3 {
            harness.advance(by: PresenceHarness.announceInterval - PresenceHarness.batchInterval)
            harness.announceDone()
            harness.roster(from: "c", ["carol"])
            harness.advance(by: PresenceHarness.batchInterval)
        }
        // 15 s after b's roster: not yet past the expiry.
        #expect(harness.machine.table.isOnline("bob"))
        harness.advance(by: PresenceHarness.announceInterval)
        #expect(!harness.machine.table.isOnline("bob"))
        #expect(harness.machine.table.isOnline("carol"))
        harness.advance(by: PresenceHarness.batchInterval)
        #expect(harness.frames.last?.offline == ["bob"])
        #expect(harness.frames.last?.online == [])
    }

    @Test func aNewNodeCausesAnAnnouncementAtOnce() {
        var harness = PresenceHarness()
        harness.local("alice", online: true)
        harness.linkUp()
        #expect(harness.announced == [["alice"]])
        harness.announceDone()
        harness.roster(from: "b", ["bob"])
        #expect(harness.announced == [["alice"], ["alice"]])
        harness.announceDone()
        // A node already known does not; one that left and came back does.
        harness.roster(from: "b", ["bob", "bert"])
        #expect(harness.announced.count == 2)
        harness.roster(from: "b", [])
        harness.roster(from: "b", ["bob"])
        #expect(harness.announced.count == 3)
        // Its own roster, read back from the node queue, is no news.
        harness.announceDone()
        harness.roster(from: "a", ["alice"])
        #expect(harness.announced.count == 3)
        #expect(harness.machine.knownNodes == ["b"])
    }

    @Test func announcementsNeverOverlapAndAChangeDuringOneFollowsIt() {
        var harness = PresenceHarness()
        harness.linkUp()
        #expect(harness.announced == [[]])
        // The first is still being published when the roster changes and a new node appears.
        harness.local("alice", online: true)
        harness.advance(by: PresenceHarness.batchInterval)
        harness.roster(from: "b", ["bob"])
        #expect(harness.announced == [[]])
        harness.announceDone()
        #expect(harness.announced == [[], ["alice"]])
        harness.announceDone()
        #expect(harness.announced.count == 2)
        #expect(!harness.machine.announcing)
        // A failed announcement stops the loop; the next turn starts it again.
        harness.local("amy", online: true)
        harness.advance(by: PresenceHarness.batchInterval)
        harness.announceDone(published: false)
        #expect(!harness.machine.announcing)
        harness.advance(by: PresenceHarness.announceInterval)
        #expect(harness.announced.last == ["alice", "amy"])
    }

    @Test func theAnnounceLoopRunsEveryIntervalOnlyWhileTheLinkStands() {
        var harness = PresenceHarness()
        harness.linkUp(1)
        harness.announceDone()
        harness.advance(by: PresenceHarness.announceInterval)
        harness.announceDone()
        #expect(harness.announced.count == 2)
        harness.note(harness.machine.linkLost())
        #expect(harness.timers.isEmpty)
        harness.advance(by: PresenceHarness.announceInterval * 3)
        #expect(harness.announced.count == 2)
        // A turn of an earlier link that fired anyway changes nothing.
        harness.note(harness.machine.timerFired(.announce(generation: 1), now: harness.now, ms: harness.ms, localRoster: []))
        #expect(harness.announced.count == 2)
        harness.linkUp(2)
        #expect(harness.announced.count == 3)
        #expect(harness.timers[.announce(generation: 2)] == harness.now.advanced(by: PresenceHarness.announceInterval))
    }

    @Test func theWelcomeRosterIsTheLastFlushesWhileChangesWait() {
        var harness = PresenceHarness()
        // Nothing taken yet: the node takes one at once.
        #expect(harness.machine.welcomeRoster() == nil)
        harness.machine.snapshotTaken(RosterSnapshot(users: []))
        #expect(harness.machine.welcomeRoster()?.users == [])
        harness.local("alice", online: true)
        // alice waits in the batch: the welcome is still the last flush's roster.
        #expect(harness.machine.welcomeRoster()?.users == [])
        harness.advance(by: PresenceHarness.batchInterval)
        #expect(harness.snapshotsTaken == 1)
        #expect(harness.machine.welcomeRoster()?.users == [UserStatus(nick: "alice", online: true)])
        // A claim alone (no frame will tell it) makes the welcome take a fresh one.
        harness.machine.claimsChanged()
        #expect(harness.machine.welcomeRoster() == nil)
        harness.machine.snapshotTaken(RosterSnapshot(users: [UserStatus(nick: "alice", online: true), UserStatus(nick: "bob", online: false)]))
        #expect(harness.machine.welcomeRoster()?.users.count == 2)
    }
}

extension PresenceMachineTests {
    @Test func afterAGracefulStopNothingIsAnnouncedAnyMore() {
        var harness = PresenceHarness()
        harness.local("alice", online: true)
        harness.linkUp()
        harness.announceDone()
        #expect(harness.announced == [["alice"]])
        // The node announces its empty roster itself; neither the loop, a change nor a new
        // node may announce alice after it.
        harness.note(harness.machine.stop())
        #expect(harness.timers[.announce(generation: 1)] == nil)
        harness.local("amy", online: true)
        harness.roster(from: "b", ["bob"])
        harness.advance(by: PresenceHarness.announceInterval * 2)
        harness.linkUp(2)
        #expect(harness.announced == [["alice"]])
        // The sessions still hear of every change, in one frame.
        #expect(harness.frames == [Presence(online: ["alice", "amy", "bob"], offline: [], ts: PresenceHarness.epoch + 250)])
    }
}

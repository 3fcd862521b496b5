import Testing

@testable import Chat

/// An instant of a clock that moves only when a test says so.
struct ManualInstant: InstantProtocol {
    var offset: Duration

    func advanced(by duration: Duration) -> ManualInstant { ManualInstant(offset: offset + duration) }
    func duration(to other: ManualInstant) -> Duration { other.offset - offset }
    static func < (lhs: ManualInstant, rhs: ManualInstant) -> Bool { lhs.offset < rhs.offset }
}

/// Drives a ``PublishMachine`` as the node's executor does, without a broker, tasks or sleeps:
/// it keeps the timers the machine started (as values), fires the due ones when the manual
/// clock is moved, and records what each step returned.
struct PublishHarness {
    typealias Machine = PublishMachine<ManualInstant, String, String>

    var machine: Machine
    var now = ManualInstant(offset: .zero)
    /// Timers started and not cancelled or fired, by ticket.
    var timers: [Machine.Ticket: ManualInstant] = [:]
    /// Every publish asked for, by ticket.
    var published: [Machine.Ticket: String] = [:]
    /// Tokens resumed (sessions whose frame was answered).
    var resumed: [UInt64] = []
    private var nextToken: UInt64 = 1
    private var nextAdmission: UInt64 = 1

    static let timeout = Duration.seconds(10)

    init(heldPublicPerSession: Int = 1024, dedupCapacity: Int = 10_000) {
        machine = Machine(
            limits: .init(
                publishTimeout: Self.timeout, dedupCapacity: dedupCapacity,
                dedupWindowMilliseconds: 600_000, heldPublicPerSession: heldPublicPerSession))
    }

    /// Applies what an executor would do with `actions` to the harness's own bookkeeping.
    mutating func note(_ actions: [Machine.Action]) -> [Machine.Action] {
        for action in actions {
            switch action {
            case .startTimer(let timer): timers[timer.ticket] = timer.deadline
            case .cancelTimer(let ticket): timers.removeValue(forKey: ticket)
            case .publish(let ticket, let request): published[ticket] = request
            case .resume(let token): resumed.append(token)
            default: break
            }
        }
        return actions
    }

    /// A session runs a `say` (or `tell`) with client id `id`; the ts is the clock's milliseconds.
    mutating func submit(
        _ id: String, session: UInt64 = 1, nick: String = "alice", kind: Machine.Kind = .say,
        ts: Int64 = 1_000
    ) -> (token: UInt64, actions: [Machine.Action]) {
        let token = nextToken
        nextToken += 1
        let admission = nextAdmission
        nextAdmission += 1
        let submission = Machine.Submission(
            session: session, admission: admission, token: token, nick: nick, clientId: id,
            msgId: Self.msgId(nick, id), ts: ts, kind: kind, request: "\(nick):\(id)")
        return (token, note(machine.submit(submission, now: now)))
    }

    static func msgId(_ nick: String, _ id: String) -> String { "msg-\(nick)-\(id)" }

    /// The ticket of the newest publish of `request`.
    func ticket(of request: String) -> Machine.Ticket? {
        published.filter { $0.value == request }.keys.max()
    }

    mutating func confirm(_ ticket: Machine.Ticket) -> [Machine.Action] {
        note(machine.confirmed(ticket, now: now))
    }

    mutating func fail(_ ticket: Machine.Ticket, _ failure: Machine.Failure) -> [Machine.Action] {
        note(machine.failed(ticket, failure, now: now))
    }

    mutating func readBack(_ msgId: String) -> [Machine.Action] {
        note(machine.readBack(msgId, now: now))
    }

    /// Moves the manual clock and fires every timer now due, oldest deadline first.
    mutating func advance(by duration: Duration) -> [Machine.Action] {
        now = now.advanced(by: duration)
        var actions: [Machine.Action] = []
        for (ticket, deadline) in timers.sorted(by: { $0.value < $1.value }) where deadline <= now {
            timers.removeValue(forKey: ticket)
            actions += note(machine.timerFired(ticket, now: now))
        }
        return actions
    }
}

/// What the sessions are told, in order, as short strings: `sent:<id>@<session>`,
/// `<code>:<id>@<session>`, `held:<frames>@<session>`.
func said(_ actions: [PublishHarness.Machine.Action]) -> [String] {
    actions.compactMap { action in
        switch action {
        case .send(.sent(let sent), let session): return "sent:\(sent.id)@\(session)"
        case .send(.error(let error), let session): return "\(error.code.rawValue):\(error.id ?? "")@\(session)"
        case .send(_, let session): return "other@\(session)"
        case .sendHeld(let frames, let session): return "held:\(frames.joined(separator: ","))@\(session)"
        default: return nil
        }
    }
}

/// The publish guarantees of Specs/chat-protocol.md on ``PublishMachine`` alone: no broker, no
/// tasks, a manual clock, no sleeps.
@Suite("PublishMachine")
struct PublishMachineTests {
    typealias Machine = PublishHarness.Machine

    @Test func aTellIsSentOnlyAfterTheBrokerConfirmed() throws {
        var harness = PublishHarness()
        let (token, submitted) = harness.submit("t1", kind: .tell)
        #expect(said(submitted).isEmpty)
        let ticket = try #require(harness.ticket(of: "alice:t1"))
        #expect(harness.timers[ticket] == ManualInstant(offset: PublishHarness.timeout))
        // Time passes short of the deadline: nothing is said, the session still waits.
        #expect(said(harness.advance(by: .seconds(9))).isEmpty)
        #expect(harness.resumed.isEmpty)
        let confirmed = harness.confirm(ticket)
        #expect(said(confirmed) == ["sent:t1@1"])
        #expect(confirmed.contains(.confirmed(after: .seconds(9))))
        #expect(harness.resumed == [token])
        #expect(harness.timers.isEmpty)
        #expect(harness.machine.inFlight == 0)
    }

    @Test func aSayIsSentAfterItsConfirmAndItsReadBackInEitherOrder() throws {
        var harness = PublishHarness()
        _ = harness.submit("s1")
        let first = try #require(harness.ticket(of: "alice:s1"))
        #expect(said(harness.confirm(first)).isEmpty)
        #expect(said(harness.readBack(PublishHarness.msgId("alice", "s1"))) == ["sent:s1@1"])

        _ = harness.submit("s2")
        let second = try #require(harness.ticket(of: "alice:s2"))
        #expect(said(harness.readBack(PublishHarness.msgId("alice", "s2"))).isEmpty)
        #expect(said(harness.confirm(second)) == ["sent:s2@1"])
        #expect(harness.timers.isEmpty)
    }

    @Test func anUnconfirmedPublishIsUnavailableAtItsDeadlineAndItsChannelIsReplaced() throws {
        var harness = PublishHarness()
        let (token, _) = harness.submit("s1")
        let ticket = try #require(harness.ticket(of: "alice:s1"))
        let fired = harness.advance(by: PublishHarness.timeout)
        #expect(fired.contains(.timedOut(.confirm, msgId: PublishHarness.msgId("alice", "s1"))))
        #expect(fired.contains(.replaceChannel(ticket)))
        #expect(fired.contains(.refusedWhenRun(session: 1, id: "s1", admission: 1)))
        #expect(said(fired) == ["unavailable:s1@1"])
        #expect(harness.resumed == [token])
        // The confirm that comes late changes nothing.
        #expect(harness.confirm(ticket).isEmpty)
        // A retry with the same id is published again.
        _ = harness.submit("s1")
        #expect(harness.published.count == 2)
    }

    @Test func aConfirmedSayThatDoesNotComeBackThroughTheStreamIsUnavailableAtItsDeadline() throws {
        var harness = PublishHarness()
        _ = harness.submit("s1")
        let ticket = try #require(harness.ticket(of: "alice:s1"))
        #expect(said(harness.advance(by: .seconds(1))).isEmpty)
        #expect(said(harness.confirm(ticket)).isEmpty)
        let fired = harness.advance(by: .seconds(9))
        #expect(fired.contains(.timedOut(.readBack, msgId: PublishHarness.msgId("alice", "s1"))))
        #expect(said(fired) == ["unavailable:s1@1"])
        #expect(harness.readBack(PublishHarness.msgId("alice", "s1")).isEmpty)
    }

    @Test func aRetriedIdIsNotPublishedAgainAndGetsTheSameAnswer() throws {
        var harness = PublishHarness()
        _ = harness.submit("t1", session: 1, kind: .tell, ts: 1_000)
        let ticket = try #require(harness.ticket(of: "alice:t1"))
        // A retry on another session of the nick while the first attempt is in flight waits for it.
        let (waiting, retried) = harness.submit("t1", session: 2, kind: .tell, ts: 2_000)
        #expect(retried.isEmpty)
        #expect(harness.published.count == 1)
        #expect(said(harness.confirm(ticket)) == ["sent:t1@1", "sent:t1@2"])
        #expect(harness.resumed.contains(waiting))
        // A retry after the confirm is answered from the dedup window with the first ts.
        let (_, answered) = harness.submit("t1", session: 3, kind: .tell, ts: 3_000)
        #expect(answered.contains(.send(.sent(Sent(id: "t1", msgId: PublishHarness.msgId("alice", "t1"), ts: 1_000)), session: 3)))
        #expect(harness.published.count == 1)
    }

    @Test func aNackedPublishIsUnavailableHoldsBackNewerFramesAndARetryGoesThrough() throws {
        var harness = PublishHarness()
        _ = harness.submit("s1")
        let ticket = try #require(harness.ticket(of: "alice:s1"))
        let failed = harness.fail(ticket, .unavailable)
        #expect(said(failed) == ["unavailable:s1@1"])
        #expect(failed.contains(.refusedWhenRun(session: 1, id: "s1", admission: 1)))
        #expect(failed.contains(.cancelTimer(ticket)))
        _ = harness.submit("s1")
        let retry = try #require(harness.ticket(of: "alice:s1"))
        #expect(retry != ticket)
        _ = harness.readBack(PublishHarness.msgId("alice", "s1"))
        #expect(said(harness.confirm(retry)) == ["sent:s1@1"])
    }

    @Test func anUnknownAddresseeAndAFullInboxAreFinalAndHoldNothingBack() throws {
        var harness = PublishHarness()
        _ = harness.submit("t1", kind: .tell)
        let unknown = harness.fail(try #require(harness.ticket(of: "alice:t1")), .unroutable(to: "nobody"))
        #expect(said(unknown) == ["unknown_user:t1@1"])
        _ = harness.submit("t2", kind: .tell)
        let full = harness.fail(try #require(harness.ticket(of: "alice:t2")), .inboxFull(nick: "bob"))
        #expect(said(full) == ["inbox_full:t2@1"])
        #expect(full.contains(.inboxFull))
        let refusals = (unknown + full).filter { if case .refusedWhenRun = $0 { true } else { false } }
        #expect(refusals.isEmpty)
    }

    @Test func aGracefulStopSaysSentOnTheConfirmAlone() throws {
        var harness = PublishHarness()
        _ = harness.submit("s1", session: 1)
        _ = harness.submit("s2", session: 2, nick: "bob")
        let confirmedFirst = try #require(harness.ticket(of: "alice:s1"))
        let second = try #require(harness.ticket(of: "bob:s2"))
        #expect(said(harness.confirm(confirmedFirst)).isEmpty)
        // The stop answers the confirmed one at once; the other when its confirm comes, and
        // then the stop may go on.
        let stopped = harness.note(harness.machine.stop(now: harness.now))
        #expect(said(stopped) == ["sent:s1@1"])
        #expect(!stopped.contains(.drained))
        #expect(harness.machine.inFlight == 1)
        let last = harness.confirm(second)
        #expect(said(last) == ["sent:s2@2"])
        #expect(last.last == .drained)
        #expect(harness.machine.inFlight == 0)
    }

    @Test func aGracefulStopWaitsForPublishesInFlightOnlyForItsGrace() throws {
        var harness = PublishHarness()
        _ = harness.submit("t1", kind: .tell)
        let ticket = try #require(harness.ticket(of: "alice:t1"))
        // Not confirmed yet: the stop waits, for 2 s at most.
        let stopped = harness.note(harness.machine.stop(now: harness.now))
        #expect(stopped == [.startStopTimer(deadline: harness.now.advanced(by: .seconds(2)))])
        #expect(harness.machine.stopGraceEnded() == [.drained])
        // A confirm after the grace answers its sender, and says drained again (harmless).
        #expect(harness.confirm(ticket).suffix(2) == [.cancelStopTimer, .drained])
        #expect(harness.machine.stopGraceEnded().isEmpty)
    }

    @Test func aStopWithNothingInFlightIsDrainedAtOnce() throws {
        var harness = PublishHarness()
        #expect(harness.machine.stop(now: harness.now) == [.drained])
        // A publish answered later (submitted before the stop was seen) says it again.
        _ = harness.submit("t1", kind: .tell)
        let ticket = try #require(harness.ticket(of: "alice:t1"))
        #expect(harness.confirm(ticket).last == .drained)
    }

    @Test func aReceiptThatOvertookTheConfirmComesAfterTheSent() throws {
        var harness = PublishHarness()
        _ = harness.submit("t1", kind: .tell)
        let ticket = try #require(harness.ticket(of: "alice:t1"))
        let held = harness.machine.holdReceipt("receipt-1", msgId: PublishHarness.msgId("alice", "t1"))
        let notInFlight = harness.machine.holdReceipt("receipt-x", msgId: "not-in-flight")
        #expect(held)
        #expect(!notInFlight)
        let confirmed = harness.confirm(ticket)
        let sentIndex = try #require(confirmed.firstIndex { if case .send(.sent, _) = $0 { true } else { false } })
        let receiptIndex = try #require(confirmed.firstIndex(of: .deliverReceipts(["receipt-1"])))
        #expect(sentIndex < receiptIndex)
        // Once answered, receipts for that message are no longer held.
        let heldLate = harness.machine.holdReceipt("receipt-2", msgId: PublishHarness.msgId("alice", "t1"))
        #expect(!heldLate)
    }

    // MARK: `sent` before the sender's own copy

    @Test func theSendersOwnCopyComesAfterItsSent() throws {
        var harness = PublishHarness()
        _ = harness.submit("s1", session: 1)
        let ticket = try #require(harness.ticket(of: "alice:s1"))
        #expect(harness.machine.isHolding(1))
        #expect(!harness.machine.isHolding(2))
        // The record comes back through the stream before the confirm: the fan-out holds
        // the sender's copy (the executor asks only for sessions that are held).
        #expect(said(harness.readBack(PublishHarness.msgId("alice", "s1"))).isEmpty)
        #expect(harness.note(harness.machine.holdPublic(["own"], for: 1)).isEmpty)
        #expect(said(harness.confirm(ticket)) == ["sent:s1@1", "held:own@1"])
        #expect(!harness.machine.isHoldingAny)
    }

    @Test func aHistoryBatchGoesNowToEveryMemberWithoutAHoldAndAfterItsSentToTheSender() throws {
        var harness = PublishHarness()
        let members: [(key: UInt64, value: String)] = [(1, "out1"), (2, "out2"), (3, "out3")]
        #expect(harness.machine.fanOut(["m"], to: members) == nil, "nobody holds: every member gets the frames now")
        _ = harness.submit("a", session: 2)
        let fanOut = harness.machine.fanOut(["m1", "m2"], to: members)
        let fan = try #require(fanOut)
        #expect(fan.open == ["out1", "out3"] && fan.actions.isEmpty)
        let ticket = try #require(harness.ticket(of: "alice:a"))
        _ = harness.confirm(ticket)
        #expect(said(harness.readBack(PublishHarness.msgId("alice", "a"))) == ["sent:a@2", "held:m1,m2@2"])
    }

    @Test func messagesOfOthersWaitBehindTheHeldCopyInStreamOrder() throws {
        var harness = PublishHarness()
        _ = harness.submit("s1", session: 1)
        let ticket = try #require(harness.ticket(of: "alice:s1"))
        _ = harness.machine.holdPublic(["before"], for: 1)
        _ = harness.readBack(PublishHarness.msgId("alice", "s1"))
        _ = harness.machine.holdPublic(["own", "after"], for: 1)
        #expect(said(harness.confirm(ticket)) == ["sent:s1@1", "held:before,own,after@1"])
    }

    @Test func aFailedSayReleasesWhatWasHeldAfterItsError() throws {
        var harness = PublishHarness()
        _ = harness.submit("s1", session: 1)
        _ = harness.machine.holdPublic(["other"], for: 1)
        let fired = harness.advance(by: PublishHarness.timeout)
        #expect(said(fired) == ["unavailable:s1@1", "held:other@1"])
        #expect(!harness.machine.isHoldingAny)
    }

    @Test func theHoldIsBoundedAndOverflowsByReleasingEverything() throws {
        var harness = PublishHarness(heldPublicPerSession: 3)
        _ = harness.submit("s1", session: 1)
        let ticket = try #require(harness.ticket(of: "alice:s1"))
        #expect(harness.machine.holdPublic(["a", "b"], for: 1).isEmpty)
        #expect(said(harness.machine.holdPublic(["c", "d"], for: 1)) == ["held:a,b,c,d@1"])
        #expect(!harness.machine.isHolding(1))
        _ = harness.readBack(PublishHarness.msgId("alice", "s1"))
        // The `sent` still comes; nothing is released twice.
        #expect(said(harness.confirm(ticket)) == ["sent:s1@1"])
    }

    @Test func aTellHoldsNothingAndARetryingSessionIsHeldUntilTheReadBack() throws {
        var harness = PublishHarness()
        _ = harness.submit("t1", session: 1, kind: .tell)
        #expect(!harness.machine.isHoldingAny)
        _ = harness.submit("s1", session: 1)
        let ticket = try #require(harness.ticket(of: "alice:s1"))
        _ = harness.submit("s1", session: 2)
        #expect(harness.machine.isHolding(2))
        _ = harness.machine.holdPublic(["own"], for: 2)
        _ = harness.readBack(PublishHarness.msgId("alice", "s1"))
        // A retry after the read-back: its copy went out already, nothing to hold.
        _ = harness.submit("s1", session: 3)
        #expect(!harness.machine.isHolding(3))
        #expect(said(harness.confirm(ticket)) == ["sent:s1@1", "sent:s1@2", "sent:s1@3", "held:own@2"])
    }

    @Test func anEndedSessionsHeldMessagesAreDropped() throws {
        var harness = PublishHarness()
        _ = harness.submit("s1", session: 1)
        let ticket = try #require(harness.ticket(of: "alice:s1"))
        _ = harness.machine.holdPublic(["other"], for: 1)
        harness.machine.sessionEnded(1)
        _ = harness.readBack(PublishHarness.msgId("alice", "s1"))
        #expect(said(harness.confirm(ticket)) == ["sent:s1@1"])
    }

    @Test func idleSendersDedupWindowsAreForgotten() {
        var harness = PublishHarness()
        _ = harness.submit("t1", nick: "alice", kind: .tell, ts: 1_000)
        _ = harness.submit("t1", nick: "bob", kind: .tell, ts: 500_000)
        #expect(harness.machine.dedupSenders == 2)
        harness.machine.forgetIdleSenders(now: 601_001 + 1)
        #expect(harness.machine.dedupSenders == 1)
    }
}

import Testing

@testable import Chat

/// Drives an ``InboxMachine`` as the node's executor does, without a broker, tasks or sleeps:
/// it keeps the timers the machine started (as values), fires the due ones when the manual
/// clock is moved, and records the receipts it was asked to publish and the acks resumed.
struct InboxHarness {
    typealias Machine = InboxMachine<ManualInstant>

    var machine: Machine
    var now = ManualInstant(offset: .zero)
    /// Timers started and not cancelled or fired, by ticket.
    var timers: [Machine.Ticket: ManualInstant] = [:]
    /// Receipts asked to be published, by ticket.
    var published: [Machine.Ticket: [Machine.Receipt]] = [:]
    /// Ack tokens resumed.
    var resumed: [UInt64] = []
    /// `msgId`s of the publishes in flight (the publish machine's answer to `isInFlight`).
    var inFlight: Set<String> = []
    private var nextToken: UInt64 = 1

    static let timeout = Duration.seconds(10)
    static let prefetch = 3
    static let takeoverTimeout = Duration.seconds(5)
    static let takeoverRetry = Duration.milliseconds(25)
    static let reattachRetry = Duration.seconds(1)

    init() {
        machine = Machine(
            limits: .init(
                receiptTimeout: Self.timeout, heldPerInbox: Self.prefetch,
                takeoverTimeout: Self.takeoverTimeout, takeoverRetry: Self.takeoverRetry,
                reattachRetry: Self.reattachRetry))
    }

    static func inbox(_ serial: Int, channel: Int = 1, generation: Int = 1) -> Machine.Inbox {
        Machine.Inbox(serial: serial, channel: channel, consumerTag: "ctag-\(serial)", generation: generation)
    }

    static func tell(_ tag: UInt64, on inbox: Machine.Inbox, msgId: String, from: String = "alice") -> Machine.Item {
        Machine.Item(tag: tag, consumerTag: inbox.consumerTag, content: .tell(msgId: msgId, from: from, to: nil, text: "hi", ts: 1))
    }

    static func receipt(_ tag: UInt64, on inbox: Machine.Inbox, msgId: String) -> Machine.Item {
        Machine.Item(tag: tag, consumerTag: inbox.consumerTag, content: .delivered(msgId: msgId, to: "bob", ts: 2))
    }

    mutating func note(_ actions: [Machine.Action]) -> [Machine.Action] {
        for action in actions {
            switch action {
            case .startTimer(let timer): timers[timer.ticket] = timer.deadline
            case .cancelTimer(let ticket): timers.removeValue(forKey: ticket)
            case .publishReceipts(let ticket, let receipts): published[ticket] = receipts
            case .resume(let token): resumed.append(token)
            default: break
            }
        }
        return actions
    }

    /// `consume` returned `inbox` for `session`, then the session was welcomed.
    mutating func join(_ session: UInt64, _ inbox: Machine.Inbox, nick: String = "bob") -> [Machine.Action] {
        _ = note(machine.consumed(inbox, session: session, currentGeneration: inbox.generation))
        return started(session, inbox, nick: nick)
    }

    mutating func started(_ session: UInt64, _ inbox: Machine.Inbox, nick: String = "bob") -> [Machine.Action] {
        let inFlight = inFlight
        return note(machine.started(inbox, session: session, nick: nick) { inFlight.contains($0) })
    }

    mutating func deliver(_ items: [Machine.Item], channel: Int = 1) -> [Machine.Action] {
        let inFlight = inFlight
        return note(machine.deliveries(items, channel: channel) { inFlight.contains($0) })
    }

    mutating func ack(_ msgIds: [String], session: UInt64) -> (token: UInt64, actions: [Machine.Action]) {
        let token = nextToken
        nextToken += 1
        return (token, note(machine.acknowledge(msgIds, session: session, ts: 5, token: token, now: now)))
    }

    mutating func answer(_ ticket: Machine.Ticket, _ outcomes: [Machine.ReceiptOutcome]) -> [Machine.Action] {
        note(machine.receiptsAnswered(ticket, outcomes))
    }

    /// Tries of take-overs asked for, in order.
    var tries: [Machine.Ticket] = []
    /// Take-overs ended, with their inbox's serial (nil: failed).
    var tookOver: [Machine.Ticket: Int?] = [:]

    mutating func noteTakeover(_ actions: [Machine.Action]) {
        for action in note(actions) {
            switch action {
            case .tryTakeOver(let ticket, _, _): tries.append(ticket)
            case .tookOver(let ticket, let inbox): tookOver.updateValue(inbox?.serial, forKey: ticket)
            default: break
            }
        }
    }

    /// Moves the manual clock and fires every timer now due, oldest deadline first.
    mutating func advance(by duration: Duration) -> [Machine.Action] {
        now = now.advanced(by: duration)
        var actions: [Machine.Action] = []
        for (ticket, deadline) in timers.sorted(by: { $0.value < $1.value }) where deadline <= now {
            timers.removeValue(forKey: ticket)
            let fired = machine.timerFired(ticket, now: now)
            noteTakeover(fired)
            actions += fired
        }
        return actions
    }
}

/// What the inbox machine does, in order, as short strings: `message:<msgId>@<session>`,
/// `delivered:<msgId>@<session>`, `<code>@<session>`, `ack:<tags>`, `requeue:<tags>`,
/// `reject:<tag>`, `cancel:<serial>`, `wake:<waiter>`, `timedOut:<waiter>`, `reattach:<session>`,
/// `hold:<msgId>`, `publish:<msgIds>`, `redeliver:<session>`, `resume:<token>`.
func did(_ actions: [InboxHarness.Machine.Action]) -> [String] {
    actions.compactMap { action in
        switch action {
        case .send(.message(let message), let session): return "message:\(message.msgId)@\(session)"
        case .send(.delivered(let receipt), let session): return "delivered:\(receipt.msgId)@\(session)"
        case .send(.error(let error), let session): return "\(error.code.rawValue)@\(session)"
        case .send(_, let session): return "other@\(session)"
        case .ack(let tags, _): return "ack:\(tags.map(String.init).joined(separator: ","))"
        case .requeue(let tags, _): return "requeue:\(tags.map(String.init).joined(separator: ","))"
        case .reject(let tag, _): return "reject:\(tag)"
        case .cancelConsumer(let inbox): return "cancel:\(inbox.serial)"
        case .wake(let waiter, let timedOut): return timedOut ? "timedOut:\(waiter)" : "wake:\(waiter)"
        case .reattach(let session): return "reattach:\(session)"
        case .holdReceipt(_, let msgId): return "hold:\(msgId)"
        case .publishReceipts(_, let receipts): return "publish:\(receipts.map(\.msgId).joined(separator: ","))"
        case .redeliver(let session, _): return "redeliver:\(session)"
        case .resume(let token): return "resume:\(token)"
        case .tryTakeOver(let ticket, _, let nick): return "try:\(ticket):\(nick)"
        case .tookOver(let ticket, let inbox): return "tookOver:\(ticket):\(inbox.map { String($0.serial) } ?? "nil")"
        case .retryReattach(let session, let generation): return "retryReattach:\(session)@\(generation)"
        case .reattachWaits(let session): return "waits:\(session)"
        case .consumerEnded, .privateDelivery, .startTimer, .cancelTimer, .replacePublishChannel, .receiptsTimedOut, .receiptsDeferred:
            return nil
        }
    }
}

/// The inbox guarantees of Specs/chat-protocol.md on ``InboxMachine`` alone: no broker, no
/// tasks, a manual clock, no sleeps.
@Suite("InboxMachine")
struct InboxMachineTests {
    typealias Machine = InboxHarness.Machine

    @Test func deliveriesBeforeTheWelcomeAreHeldBoundedAndFollowItInOrder() {
        var harness = InboxHarness()
        let inbox = InboxHarness.inbox(1)
        let consumed = harness.machine.consumed(inbox, session: 7, currentGeneration: 1)
        #expect(consumed.isEmpty)
        // Before the welcome nothing reaches the session; past the bound (the prefetch) a
        // delivery goes back to the queue rather than pile up.
        let early = (1...4).map { InboxHarness.tell(UInt64($0), on: inbox, msgId: "m\($0)") }
        let beforeWelcome = harness.deliver(early)
        #expect(did(beforeWelcome) == ["requeue:4"])
        // The welcome went out: the held ones follow, in queue order, then live ones.
        let welcomed = harness.started(7, inbox)
        #expect(did(welcomed) == ["message:m1@7", "message:m2@7", "message:m3@7"])
        let live = harness.deliver([InboxHarness.tell(5, on: inbox, msgId: "m5")])
        #expect(did(live) == ["message:m5@7"])
        #expect(harness.machine.unackedPerInbox == [4])
    }

    @Test func eventsArrivingBeforeConsumeReturnedAreTakenOver() {
        var harness = InboxHarness()
        let inbox = InboxHarness.inbox(1)
        // The sink's reader ran before `consume` returned: the deliveries wait for their route.
        let beforeConsume = harness.deliver([InboxHarness.tell(1, on: inbox, msgId: "m1"), InboxHarness.tell(2, on: inbox, msgId: "m2")])
        #expect(beforeConsume.isEmpty)
        let consumed = harness.machine.consumed(inbox, session: 7, currentGeneration: 1)
        #expect(consumed.isEmpty)
        #expect(harness.machine.hasRoute(inbox.key))
        let welcomed = harness.started(7, inbox)
        #expect(did(welcomed) == ["message:m1@7", "message:m2@7"])

        // A consumer that ended before its `consume` returned: taken over, it ends at once and
        // what it brought goes back; the caller sees no route and tries again.
        let second = InboxHarness.inbox(2)
        let early = harness.deliver([InboxHarness.tell(1, on: second, msgId: "x1")])
        #expect(early.isEmpty)
        let endedEarly = harness.machine.consumerEnded(second.key, currentGeneration: 1)
        #expect(endedEarly.isEmpty)
        let takenOver = harness.machine.consumed(second, session: 8, currentGeneration: 1)
        #expect(did(takenOver) == ["requeue:1"])
        #expect(!harness.machine.hasRoute(second.key))
    }

    @Test func anAckSendsTheDeliveredReceiptAndSettlesItsTagsOnlyAfterTheConfirm() throws {
        var harness = InboxHarness()
        let inbox = InboxHarness.inbox(1)
        _ = harness.join(7, inbox)
        _ = harness.deliver([
            InboxHarness.tell(1, on: inbox, msgId: "m1", from: "alice"),
            InboxHarness.receipt(2, on: inbox, msgId: "r1"),
            InboxHarness.tell(3, on: inbox, msgId: "m3", from: "carol"),
        ])
        let (token, acked) = harness.ack(["m1", "r1", "unknown"], session: 7)
        // The receipt goes to alice (a receipt needs none); nothing is acked at the broker and
        // the session's frame waits until the receipt's confirm.
        #expect(did(acked) == ["publish:m1"])
        let ticket = try #require(harness.published.keys.first)
        #expect(harness.published[ticket] == [Machine.Receipt(msgId: "m1", sender: "alice", addressee: "bob", ts: 5)])
        #expect(harness.timers[ticket] == ManualInstant(offset: InboxHarness.timeout))
        #expect(harness.resumed.isEmpty)
        #expect(harness.machine.acksInFlight == 1)
        // The confirm: both acked tags are acked, one at a time, and the frame is answered.
        let confirmed = harness.answer(ticket, [.confirmed])
        #expect(did(confirmed) == ["ack:1,2", "resume:\(token)"])
        #expect(harness.timers.isEmpty)
        #expect(harness.machine.acksInFlight == 0)
        #expect(harness.machine.unackedPerInbox == [1])
        // An ack of nothing pending answers at once; one of receipts only needs no publish.
        let nothingPending = harness.ack(["m1"], session: 7)
        #expect(did(nothingPending.actions) == ["resume:2"])
        _ = harness.deliver([InboxHarness.receipt(5, on: inbox, msgId: "r5")])
        let receiptOnly = harness.ack(["r5"], session: 7)
        #expect(did(receiptOnly.actions) == ["ack:5", "resume:3"])
    }

    @Test func aDeliveredReceiptReachesTheSenderOnlyAfterItsConfirm() {
        var harness = InboxHarness()
        let inbox = InboxHarness.inbox(1)
        _ = harness.join(7, inbox, nick: "alice")
        // Alice's tell m1 awaits its confirm when bob's receipt for it comes: held.
        harness.inFlight = ["m1"]
        let receipt = InboxHarness.receipt(4, on: inbox, msgId: "m1")
        let held = harness.deliver([receipt])
        #expect(did(held) == ["hold:m1"])
        #expect(harness.machine.unackedPerInbox == [0])
        // The confirm came (the publish machine said `sent`): the receipt goes through now.
        harness.inFlight = []
        let released = harness.machine.receiptReleased(Machine.HeldReceipt(item: receipt, session: 7, inbox: inbox)) { _ in false }
        #expect(did(released) == ["delivered:m1@7"])
        #expect(harness.machine.unackedPerInbox == [1])
    }

    @Test func anAckWhoseReceiptIsNotConfirmedInTimeBringsTheMessageAgain() throws {
        var harness = InboxHarness()
        let inbox = InboxHarness.inbox(1)
        _ = harness.join(7, inbox)
        _ = harness.deliver([InboxHarness.tell(1, on: inbox, msgId: "m1"), InboxHarness.tell(2, on: inbox, msgId: "m2")])
        let (token, _) = harness.ack(["m2"], session: 7)
        let ticket = try #require(harness.published.keys.first)
        let beforeDeadline = harness.advance(by: .seconds(9))
        #expect(beforeDeadline.isEmpty)
        let fired = harness.advance(by: .seconds(1))
        #expect(fired.contains(.receiptsTimedOut))
        #expect(fired.contains(.replacePublishChannel(ticket)))
        // `unavailable`, then the inbox is released with the unacked m1 and the acked m2 (its
        // receipt not confirmed) and taken again: both come again.
        #expect(did(fired) == ["unavailable@7", "cancel:1", "redeliver:7", "resume:\(token)"])
        #expect(harness.machine.inbox(of: 7) == nil)
        let ended = harness.machine.consumerEnded(inbox.key, currentGeneration: 1)
        #expect(did(ended) == ["requeue:1,2"])
        // The confirm that comes late changes nothing.
        let late = harness.answer(ticket, [.confirmed])
        #expect(late.isEmpty)
    }

    @Test func aSessionEndRequeuesExactlyItsOwnUnackedTagsNeverOneWhoseAckWasAnswered() throws {
        var harness = InboxHarness()
        let mine = InboxHarness.inbox(1)
        let theirs = InboxHarness.inbox(2)
        _ = harness.join(7, mine)
        _ = harness.join(8, theirs, nick: "carol")
        // One channel, interleaved tags of two users.
        _ = harness.deliver([
            InboxHarness.tell(1, on: mine, msgId: "m1"), InboxHarness.tell(2, on: theirs, msgId: "t2"),
            InboxHarness.tell(3, on: mine, msgId: "m3"), InboxHarness.tell(4, on: mine, msgId: "m4"),
        ])
        // m3's ack is under way (its receipt awaits the confirm) when the session ends.
        let (token, _) = harness.ack(["m3"], session: 7)
        let ticket = try #require(harness.published.keys.first)
        let sessionEnded = harness.machine.sessionEnded(7)
        #expect(did(sessionEnded) == ["cancel:1"])
        // A delivery between the cancel and its cancel-ok is kept for the release.
        let afterCancel = harness.deliver([InboxHarness.tell(5, on: mine, msgId: "m5")])
        #expect(afterCancel.isEmpty)
        let ended = harness.machine.consumerEnded(mine.key, currentGeneration: 1)
        #expect(did(ended) == ["requeue:1,4,5"])
        // The confirm then acks m3; carol's delivery was never touched.
        let confirmed = harness.answer(ticket, [.confirmed])
        #expect(did(confirmed) == ["ack:3", "resume:\(token)"])
        #expect(harness.machine.unackedPerInbox == [1])
    }

    @Test func aReceiptRefusedByTheSendersFullInboxKeepsItsMessagePending() throws {
        var harness = InboxHarness()
        let inbox = InboxHarness.inbox(1)
        _ = harness.join(7, inbox)
        _ = harness.deliver([
            InboxHarness.tell(1, on: inbox, msgId: "m1", from: "alice"),
            InboxHarness.tell(2, on: inbox, msgId: "m2", from: "carol"),
        ])
        let (token, _) = harness.ack(["m1", "m2"], session: 7)
        let ticket = try #require(harness.published.keys.first)
        let answered = harness.answer(ticket, [.senderInboxFull, .confirmed])
        #expect(answered.contains(.receiptsDeferred(count: 1)))
        #expect(did(answered) == ["ack:2", "resume:\(token)"])
        // m1 stays unacked: the session's end puts it back.
        let sessionEnded = harness.machine.sessionEnded(7)
        #expect(did(sessionEnded) == ["cancel:1"])
        let ended = harness.machine.consumerEnded(inbox.key, currentGeneration: 1)
        #expect(did(ended) == ["requeue:1"])
    }

    @Test func aFailedReceiptBringsTheAckedMessagesAgainAndABadRecordIsRejected() throws {
        var harness = InboxHarness()
        let inbox = InboxHarness.inbox(1)
        _ = harness.join(7, inbox)
        let bad = Machine.Item(tag: 9, consumerTag: inbox.consumerTag, content: .invalid)
        let delivered = harness.deliver([InboxHarness.tell(1, on: inbox, msgId: "m1"), bad])
        #expect(did(delivered) == ["message:m1@7", "reject:9"])
        let (token, _) = harness.ack(["m1"], session: 7)
        let ticket = try #require(harness.published.keys.first)
        let failed = harness.answer(ticket, [.failed])
        #expect(did(failed) == ["unavailable@7", "cancel:1", "redeliver:7", "resume:\(token)"])
        let ended = harness.machine.consumerEnded(inbox.key, currentGeneration: 1)
        #expect(did(ended) == ["requeue:1"])
    }

    @Test func anAckRefusedOnArrivalBringsTheSessionsUnackedMessagesAgainOnce() throws {
        var harness = InboxHarness()
        let inbox = InboxHarness.inbox(1)
        _ = harness.join(7, inbox)
        _ = harness.deliver([
            InboxHarness.tell(1, on: inbox, msgId: "m1"), InboxHarness.tell(2, on: inbox, msgId: "m2"),
            InboxHarness.receipt(3, on: inbox, msgId: "r3"),
        ])
        // m1's ack ran and is under way; the ack of m2 and r3 was refused for rate, never ran.
        let (token, _) = harness.ack(["m1"], session: 7)
        let ticket = try #require(harness.published.keys.first)
        let refused = harness.machine.ackRefused(7, now: harness.now)
        #expect(did(refused) == ["cancel:1", "redeliver:7"])
        // More refused acks while that release is under way change nothing.
        #expect(harness.machine.ackRefused(7, now: harness.now).isEmpty)
        let ended = harness.machine.consumerEnded(inbox.key, currentGeneration: 1)
        #expect(did(ended) == ["requeue:2,3"])
        // m1's receipt is confirmed: m1 is acked on its channel, as any answered ack.
        #expect(did(harness.answer(ticket, [.confirmed])) == ["ack:1", "resume:\(token)"])
        // Taken again, the session gets m2 and r3 again; a refused ack with nothing pending
        // changes nothing.
        let again = InboxHarness.inbox(2)
        _ = harness.join(7, again)
        #expect(harness.machine.ackRefused(7, now: harness.now).isEmpty)
        let redelivered = harness.deliver([InboxHarness.tell(4, on: again, msgId: "m2"), InboxHarness.receipt(5, on: again, msgId: "r3")])
        #expect(did(redelivered) == ["message:m2@7", "delivered:r3@7"])
        // A session without a holder (never joined) changes nothing either.
        #expect(harness.machine.ackRefused(99, now: harness.now).isEmpty)
    }

    /// A client that answers each redelivery with another refused ack: one release per
    /// `refusedAckInterval` (1 s) at most, whatever the number of refusals; one that comes
    /// sooner waits for the interval's end (one timer per session), and a session that ends
    /// meanwhile cancels it.
    @Test func aFloodOfRefusedAcksReleasesTheInboxAtMostOncePerInterval() {
        var harness = InboxHarness()
        var serial = 1
        var inbox = InboxHarness.inbox(serial)
        _ = harness.join(7, inbox)
        _ = harness.deliver([InboxHarness.tell(1, on: inbox, msgId: "m1"), InboxHarness.tell(2, on: inbox, msgId: "m2")])
        var releases = 0
        var tag: UInt64 = 2
        /// The release under way ends and the session takes its inbox again, with both back.
        func redeliver(_ harness: inout InboxHarness) {
            _ = harness.machine.consumerEnded(inbox.key, currentGeneration: 1)
            serial += 1
            inbox = InboxHarness.inbox(serial)
            _ = harness.join(7, inbox)
            _ = harness.deliver([InboxHarness.tell(tag + 1, on: inbox, msgId: "m1"), InboxHarness.tell(tag + 2, on: inbox, msgId: "m2")])
            tag += 2
        }
        #expect(did(harness.note(harness.machine.ackRefused(7, now: harness.now))) == ["cancel:1", "redeliver:7"])
        releases += 1
        redeliver(&harness)
        // 10 ms later the client refuses again, 100 times: one timer for the interval's end.
        _ = harness.advance(by: .milliseconds(10))
        var early: [InboxHarness.Machine.Action] = []
        for _ in 0..<100 { early += harness.note(harness.machine.ackRefused(7, now: harness.now)) }
        #expect(did(early).isEmpty)
        #expect(harness.timers.count == 1)
        #expect(harness.machine.refusedLater.count == 1)
        // The interval passes: the one release goes, and brings both messages again.
        let due = harness.advance(by: .milliseconds(990))
        #expect(did(due) == ["cancel:2", "redeliver:7"])
        releases += 1
        redeliver(&harness)
        // A whole interval later a refusal releases at once again.
        _ = harness.advance(by: .seconds(1))
        #expect(did(harness.note(harness.machine.ackRefused(7, now: harness.now))) == ["cancel:3", "redeliver:7"])
        releases += 1
        #expect(releases == 3)
        redeliver(&harness)
        // A refusal waiting for its interval is dropped with its session; nothing stays behind.
        _ = harness.note(harness.machine.ackRefused(7, now: harness.now))
        #expect(harness.timers.count == 1)
        let ended = harness.note(harness.machine.sessionEnded(7))
        #expect(did(ended) == ["cancel:4"])
        #expect(harness.timers.isEmpty)
        #expect(harness.machine.refusedLater.isEmpty)
        #expect(harness.machine.refusedReleases.isEmpty)
        #expect(did(harness.advance(by: .seconds(5))).isEmpty)
    }

    @Test func anInboxEndedByTheBrokerIsTakenAgainWhileItsLinkLasts() {
        var harness = InboxHarness()
        let inbox = InboxHarness.inbox(1, generation: 1)
        _ = harness.join(7, inbox)
        _ = harness.deliver([InboxHarness.tell(1, on: inbox, msgId: "m1")])
        // The consumer ended without a release (a channel error): its unacked tag goes back
        // (a no-op on a closed channel) and the session takes its inbox again.
        let endedByBroker = harness.machine.consumerEnded(inbox.key, currentGeneration: 1)
        #expect(did(endedByBroker) == ["requeue:1", "reattach:7"])
        #expect(harness.machine.inbox(of: 7) == nil)
        // On a link that is gone it waits for the next one (which takes every inbox again).
        let next = InboxHarness.inbox(2, generation: 1)
        _ = harness.join(7, next)
        let endedOnOldLink = harness.machine.consumerEnded(next.key, currentGeneration: 2)
        #expect(did(endedOnOldLink).isEmpty)
        // A delivery on an inbox its session no longer holds goes back at once.
        let third = InboxHarness.inbox(3)
        _ = harness.join(8, third)
        _ = harness.join(8, InboxHarness.inbox(4))
        let stale = harness.deliver([InboxHarness.tell(6, on: third, msgId: "z")])
        #expect(did(stale) == ["requeue:6"])
    }

    @Test func anInboxNoSessionTookGivesBackWhatItHeld() {
        var harness = InboxHarness()
        let inbox = InboxHarness.inbox(1)
        _ = harness.machine.consumed(inbox, session: 7, currentGeneration: 1)
        _ = harness.deliver([InboxHarness.tell(1, on: inbox, msgId: "m1"), InboxHarness.tell(2, on: inbox, msgId: "m2")])
        let released = harness.machine.release(inbox, ofSession: nil)
        #expect(did(released) == ["cancel:1"])
        #expect(harness.machine.isClosing(1))
        let ended = harness.machine.consumerEnded(inbox.key, currentGeneration: 1)
        #expect(did(ended) == ["requeue:1,2"])
        #expect(!harness.machine.isClosing(1))
    }

    @Test func oneCallerOpensTheInboxChannelAndTheOthersWaitForIt() {
        var harness = InboxHarness()
        let first = harness.machine.channelNeeded()
        #expect(first)
        let second = harness.machine.channelNeeded()
        #expect(!second)
        let waits = harness.note(harness.machine.waitForChannel(11, now: harness.now))
        let third = harness.machine.channelNeeded()
        #expect(!third)
        _ = harness.note(harness.machine.waitForChannel(12, now: harness.now))
        #expect(harness.timers.count == 2)
        let ended = harness.note(harness.machine.channelOpeningEnded())
        #expect(did(ended) == ["wake:11", "wake:12"])
        // Woken in time: their deadlines are cancelled.
        #expect(harness.timers.isEmpty)
        guard case .startTimer(let timer) = waits.first else {
            Issue.record("a wait starts its deadline")
            return
        }
        #expect(timer.deadline == harness.now.advanced(by: InboxHarness.takeoverTimeout))
        // The next unusable channel is opened again by one caller; with no opening under way a
        // wait ends at once.
        let next = harness.machine.channelNeeded()
        #expect(next)
        #expect(did(harness.machine.channelOpeningEnded()).isEmpty)
        #expect(did(harness.machine.waitForChannel(13, now: harness.now)) == ["wake:13"])
    }

    @Test func aWaitForTheInboxChannelOrAReleaseTimesOutAtTheTakeoverTimeout() {
        var harness = InboxHarness()
        let inbox = InboxHarness.inbox(1)
        _ = harness.join(7, inbox)
        _ = harness.note(harness.machine.sessionEnded(7))
        #expect(harness.machine.isClosing(1))
        let opens = harness.machine.channelNeeded()
        #expect(opens)
        _ = harness.note(harness.machine.waitForChannel(21, now: harness.now))
        _ = harness.note(harness.machine.waitForRelease(of: 1, waiter: 22, now: harness.now))
        // An inbox not being released is waited for not at all.
        #expect(did(harness.machine.waitForRelease(of: 2, waiter: 23, now: harness.now)) == ["wake:23"])
        #expect(harness.timers.count == 2)
        // Neither came in time: not before the takeover timeout, then both go on, timed out
        // (the harness fires timers of one deadline in no set order).
        #expect(did(harness.advance(by: InboxHarness.takeoverTimeout - .milliseconds(1))).isEmpty)
        #expect(did(harness.advance(by: .milliseconds(1))).sorted() == ["timedOut:21", "timedOut:22"])
        #expect(harness.timers.isEmpty)
        // What comes after a timeout wakes no one again.
        #expect(did(harness.machine.channelOpeningEnded()).isEmpty)
        #expect(did(harness.note(harness.machine.consumerEnded(inbox.key, currentGeneration: 1))).isEmpty)
    }

    @Test func theEndOfAReleaseWakesItsWaitersInOrderAndOnlyThem() {
        var harness = InboxHarness()
        let first = InboxHarness.inbox(1)
        let second = InboxHarness.inbox(2)
        _ = harness.join(7, first)
        _ = harness.join(8, second, nick: "carol")
        _ = harness.note(harness.machine.sessionEnded(7))
        _ = harness.note(harness.machine.sessionEnded(8))
        _ = harness.note(harness.machine.waitForRelease(of: 1, waiter: 31, now: harness.now))
        _ = harness.note(harness.machine.waitForRelease(of: 2, waiter: 32, now: harness.now))
        _ = harness.note(harness.machine.waitForRelease(of: 1, waiter: 33, now: harness.now))
        #expect(did(harness.note(harness.machine.consumerEnded(first.key, currentGeneration: 1))) == ["wake:31", "wake:33"])
        #expect(harness.timers.count == 1)
        #expect(did(harness.note(harness.machine.consumerEnded(second.key, currentGeneration: 1))) == ["wake:32"])
        #expect(harness.timers.isEmpty)
    }

    @Test func aTakeOverTriesAgainWhileTheQueueIsHeldUntilItsDeadline() {
        var harness = InboxHarness()
        let (ticket, first) = harness.machine.takeOver(session: 7, nick: "bob", now: harness.now)
        harness.noteTakeover(first)
        #expect(harness.tries == [ticket])
        // Another consumer still holds the queue: the next try comes after the pause, not before.
        harness.noteTakeover(harness.machine.tried(ticket, .held, now: harness.now))
        #expect(harness.timers[ticket] == ManualInstant(offset: InboxHarness.takeoverRetry))
        let early = harness.advance(by: .milliseconds(24))
        #expect(early.isEmpty)
        let again = harness.advance(by: .milliseconds(1))
        #expect(did(again) == ["try:\(ticket):bob"])
        // Held until the deadline: the take-over gives up (the join is answered unavailable).
        var rounds = 0
        while harness.tookOver[ticket] == nil, rounds < 1_000 {
            harness.noteTakeover(harness.machine.tried(ticket, .held, now: harness.now))
            _ = harness.advance(by: InboxHarness.takeoverRetry)
            rounds += 1
        }
        #expect(harness.tookOver[ticket] == .some(nil))
        #expect(harness.now.offset >= InboxHarness.takeoverTimeout)
        #expect(harness.now.offset < InboxHarness.takeoverTimeout + InboxHarness.takeoverRetry)
        #expect(harness.tries.count == rounds + 1)
        #expect(harness.machine.takeovers.isEmpty)
    }

    @Test func aTakeOverEndsWithItsInboxOrAtOnceOnAFailure() {
        var harness = InboxHarness()
        let inbox = InboxHarness.inbox(1)
        let (won, _) = harness.machine.takeOver(session: 7, nick: "bob", now: harness.now)
        harness.noteTakeover(harness.machine.tried(won, .held, now: harness.now))
        _ = harness.advance(by: InboxHarness.takeoverRetry)
        harness.noteTakeover(harness.machine.tried(won, .took(inbox), now: harness.now))
        #expect(harness.tookOver[won] == .some(1))
        // A late answer of an ended take-over changes nothing.
        let late = harness.machine.tried(won, .held, now: harness.now)
        #expect(late.isEmpty)
        // The link went away or the nick was taken by a newer session: no more tries.
        let (lost, _) = harness.machine.takeOver(session: 8, nick: "carol", now: harness.now)
        harness.noteTakeover(harness.machine.tried(lost, .failed, now: harness.now))
        #expect(harness.tookOver[lost] == .some(nil))
        #expect(harness.timers.isEmpty)
    }

    @Test func aSessionThatCouldNotTakeItsInboxAgainTriesEverySecondAndSaysSoOnce() {
        var harness = InboxHarness()
        let inbox = InboxHarness.inbox(1)
        _ = harness.join(7, inbox)
        let endedByBroker = harness.machine.consumerEnded(inbox.key, currentGeneration: 1)
        #expect(did(endedByBroker) == ["reattach:7"])
        // The take-over failed: one warning, and a try again a second later, not before.
        let failed = harness.note(harness.machine.reattachFailed(session: 7, generation: 1, now: harness.now))
        #expect(did(failed) == ["waits:7"])
        let early = harness.advance(by: .milliseconds(999))
        #expect(early.isEmpty)
        let retry = harness.advance(by: .milliseconds(1))
        #expect(did(retry) == ["retryReattach:7@1"])
        // Failed again: no second warning.
        let again = harness.note(harness.machine.reattachFailed(session: 7, generation: 1, now: harness.now))
        #expect(did(again).isEmpty)
        #expect(harness.timers.count == 1)
        // Once it has its inbox, a later loss is told again.
        _ = harness.advance(by: InboxHarness.reattachRetry)
        _ = harness.join(7, InboxHarness.inbox(2))
        let later = harness.machine.reattachFailed(session: 7, generation: 1, now: harness.now)
        #expect(did(later) == ["waits:7"])
    }
}

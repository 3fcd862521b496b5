import Testing

@testable import Chat

/// The pure rule that keeps a sender's messages in order around a refusal.
@Suite("SendOrderHold")
struct SendOrderHoldTests {
    @Test func withoutARefusalEveryFrameProceeds() {
        var hold = SendOrderHold()
        for admission in UInt64(1)...5 {
            #expect(hold.check(id: "m\(admission)", admission: admission) == .proceed)
        }
    }

    @Test func aFrameRefusedWhenRunHoldsBackNewerFramesUntilItComesAgain() {
        var hold = SendOrderHold()
        #expect(hold.check(id: "m1", admission: 1) == .proceed)
        hold.refusedWhenRun(id: "m1", admission: 1)
        #expect(hold.check(id: "m2", admission: 2) == .refuse(waitingFor: "m1"))
        #expect(hold.check(id: "m3", admission: 3) == .refuse(waitingFor: "m1"))
        // m2 and m3 were refused too: they come again in order, then anything newer runs.
        #expect(hold.check(id: "m1", admission: 4) == .proceed)
        #expect(hold.check(id: "m3", admission: 5) == .refuse(waitingFor: "m2"))
        #expect(hold.check(id: "m2", admission: 6) == .proceed)
        #expect(hold.check(id: "m4", admission: 7) == .refuse(waitingFor: "m3"))
        #expect(hold.check(id: "m3", admission: 8) == .proceed)
        #expect(hold.check(id: "m4", admission: 9) == .proceed)
        #expect(hold.held.isEmpty)
    }

    @Test func framesThatCameBeforeARefusalOnArrivalStillRun() {
        var hold = SendOrderHold()
        // m1 and m2 are queued (admissions 1 and 2) when m3 is refused on arrival.
        hold.refusedOnArrival(id: "m3", lastAdmitted: 2)
        #expect(hold.check(id: "m1", admission: 1) == .proceed)
        #expect(hold.check(id: "m2", admission: 2) == .proceed)
        #expect(hold.check(id: "m4", admission: 3) == .refuse(waitingFor: "m3"))
        #expect(hold.check(id: "m3", admission: 4) == .proceed)
    }

    @Test func theOldestRefusalIsTheOneWaitedFor() {
        var hold = SendOrderHold()
        // m3 is refused on arrival while m2 is queued; then m2 itself fails when it runs.
        hold.refusedOnArrival(id: "m3", lastAdmitted: 2)
        hold.refusedWhenRun(id: "m2", admission: 2)
        #expect(hold.held.map(\.id) == ["m2", "m3"])
        #expect(hold.check(id: "m3", admission: 3) == .refuse(waitingFor: "m2"))
        #expect(hold.check(id: "m2", admission: 4) == .proceed)
        #expect(hold.check(id: "m3", admission: 5) == .proceed)
        // Later refusals queue behind older ones.
        hold.refusedWhenRun(id: "m6", admission: 6)
        hold.refusedOnArrival(id: "m8", lastAdmitted: 7)
        #expect(hold.held.map(\.id) == ["m6", "m8"])
    }

    @Test func theRememberedRefusalsAreBounded() {
        var hold = SendOrderHold()
        hold.refusedWhenRun(id: "first", admission: 1)
        for admission in UInt64(2)...UInt64(SendOrderHold.capacity + 10) {
            _ = hold.check(id: "m\(admission)", admission: admission)
        }
        #expect(hold.held.count == SendOrderHold.capacity)
        #expect(hold.held.first?.id == "first")
    }

    @Test func aResendRefusedAgainStaysTheOneWaitedForAheadOfTheOthers() {
        var hold = SendOrderHold()
        hold.refusedWhenRun(id: "m1", admission: 1)
        #expect(hold.check(id: "m2", admission: 2) == .refuse(waitingFor: "m1"))
        // m1 comes again and fails again (the broker is still away): still first, m2 after it.
        #expect(hold.check(id: "m1", admission: 3) == .proceed)
        hold.refusedWhenRun(id: "m1", admission: 3)
        #expect(hold.held.map(\.id) == ["m1", "m2"])
        #expect(hold.check(id: "m2", admission: 4) == .refuse(waitingFor: "m1"))
        #expect(hold.check(id: "m1", admission: 5) == .proceed)
        #expect(hold.check(id: "m2", admission: 6) == .proceed)
        #expect(hold.held.isEmpty)
    }

    @Test func aResendThatFailsAgainHoldsAgain() {
        var hold = SendOrderHold()
        hold.refusedWhenRun(id: "m1", admission: 1)
        #expect(hold.check(id: "m1", admission: 2) == .proceed)
        hold.refusedWhenRun(id: "m1", admission: 2)
        #expect(hold.check(id: "m2", admission: 3) == .refuse(waitingFor: "m1"))
    }
}

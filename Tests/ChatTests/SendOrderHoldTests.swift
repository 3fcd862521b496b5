@testable import Chat
import Testing

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
        #expect(hold.check(id: "m1", admission: 4) == .proceed)
        #expect(hold.check(id: "m2", admission: 5) == .proceed)
        #expect(hold.held == nil)
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
        #expect(hold.held?.id == "m2")
        #expect(hold.check(id: "m3", admission: 3) == .refuse(waitingFor: "m2"))
        #expect(hold.check(id: "m2", admission: 4) == .proceed)
        #expect(hold.check(id: "m3", admission: 5) == .proceed)
        // A later refusal does not replace an older one.
        hold.refusedWhenRun(id: "m6", admission: 6)
        hold.refusedOnArrival(id: "m8", lastAdmitted: 7)
        #expect(hold.held?.id == "m6")
    }

    @Test func aResendThatFailsAgainHoldsAgain() {
        var hold = SendOrderHold()
        hold.refusedWhenRun(id: "m1", admission: 1)
        #expect(hold.check(id: "m1", admission: 2) == .proceed)
        hold.refusedWhenRun(id: "m1", admission: 2)
        #expect(hold.check(id: "m2", admission: 3) == .refuse(waitingFor: "m1"))
    }
}

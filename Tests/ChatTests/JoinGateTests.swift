import Chat
import Testing

@Suite("Join gate")
struct JoinGateTests {
    /// Arrivals in order: which went on at once.
    private func arrive(_ gate: inout JoinGate, _ ids: UInt64...) -> [Bool] {
        ids.map { gate.arrive($0) }
    }

    /// Leaves, in order: whom each let in.
    private func leave(_ gate: inout JoinGate, times: Int) -> [UInt64?] {
        (0..<times).map { _ in gate.leave() }
    }

    @Test func joinsUpToTheCapacityGoOnAtOnceAndTheRestWait() {
        var gate = JoinGate(capacity: 2)
        #expect(arrive(&gate, 1, 2, 3, 4) == [true, true, false, false])
        #expect(gate.inside == 2)
        #expect(gate.waitingCount == 2)
    }

    @Test func aJoinThatLeavesLetsTheOldestWaitingOneIn() {
        var gate = JoinGate(capacity: 1)
        #expect(arrive(&gate, 1, 2, 3) == [true, false, false])
        #expect(leave(&gate, times: 1) == [2])
        #expect(gate.inside == 1)
        #expect(leave(&gate, times: 2) == [3, nil])
        #expect(gate.inside == 0)
        #expect(gate.waitingCount == 0)
    }

    @Test func aNewJoinNeverOvertakesOneThatWaits() {
        var gate = JoinGate(capacity: 2)
        #expect(arrive(&gate, 1, 2, 3) == [true, true, false])
        // Join 1 leaves and hands its place to 3, so a join arriving now still waits.
        #expect(leave(&gate, times: 1) == [3])
        #expect(arrive(&gate, 4) == [false])
        #expect(leave(&gate, times: 2) == [4, nil])
        #expect(arrive(&gate, 5) == [true])
        #expect(gate.inside == 2)
    }

    @Test func aCapacityBelowOneIsOne() {
        var gate = JoinGate(capacity: 0)
        #expect(gate.capacity == 1)
        #expect(arrive(&gate, 1, 2) == [true, false])
    }
}

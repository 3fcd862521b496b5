import Testing

@testable import Chat

/// ``StateRetentionMachine`` as values: the bytes every node counts alike, each user's base,
/// when a checkpoint is due, which node publishes it (the one whose record made it due) and
/// which users it holds, and the next step when that node published nothing. No broker, no
/// tasks, no clock.
@Suite struct StateRetentionMachineTests {
    /// Each record costs its body plus the overhead: 100 bytes of body make 500.
    static let body = 100
    static var cost: Int64 { Int64(body) + StateRetentionMachine.overheadBytes }

    /// A machine whose refresh distance is `records` records of ``body`` bytes.
    static func machine(node: String, records: Int64) -> StateRetentionMachine {
        StateRetentionMachine(nodeId: node, retainedBytes: 2 * records * cost)
    }

    @Test func everyNodeDecidesTheSameStepAndOnlyTheRecordsNodeChecksPoints() {
        var a = Self.machine(node: "a", records: 8)
        var b = Self.machine(node: "b", records: 8)
        var decided: [(String, [StateRetentionMachine.Action])] = []
        func read(_ nick: String?, origin: String) {
            let fromA = a.read(nick: nick, bytes: Self.body, isCheckpoint: false, origin: origin)
            let fromB = b.read(nick: nick, bytes: Self.body, isCheckpoint: false, origin: origin)
            if !fromA.isEmpty { decided.append(("a", fromA)) }
            if !fromB.isEmpty { decided.append(("b", fromB)) }
        }
        read("alice", origin: "a")
        read("bob", origin: "b")
        for _ in 0..<5 { read(nil, origin: "b") }
        #expect(decided.isEmpty)
        read("carol", origin: "b")  // 8 records: alice's base is 8 records behind the end
        #expect(decided.count == 1)
        #expect(decided.first?.0 == "b")
        // Older than half the distance (4 records): alice and bob, not carol.
        #expect(decided.first?.1 == [.checkpoint(nicks: ["alice", "bob"])])
        #expect(a.base == b.base)
    }

    @Test func aCheckpointReadMovesTheUsersBaseAndTheDueConditionEnds() {
        var machine = Self.machine(node: "a", records: 4)
        _ = machine.read(nick: "alice", bytes: Self.body, isCheckpoint: false, origin: "a")
        for _ in 0..<2 { _ = machine.read(nick: nil, bytes: Self.body, isCheckpoint: false, origin: "x") }
        #expect(machine.read(nick: nil, bytes: Self.body, isCheckpoint: false, origin: "a") == [.checkpoint(nicks: ["alice"])])
        #expect(machine.read(nick: "alice", bytes: Self.body, isCheckpoint: true, origin: "a").isEmpty)
        #expect(machine.oldestBase == 4 * Self.cost)
        // A plain record of alice does not move her base; it is already younger.
        _ = machine.read(nick: "alice", bytes: Self.body, isCheckpoint: false, origin: "a")
        #expect(machine.base["alice"] == 4 * Self.cost)
    }

    @Test func whenTheOwnerPublishesNothingTheNextQuarterStepMakesAnotherNodeTheOwner() {
        var b = Self.machine(node: "b", records: 8)
        _ = b.read(nick: "alice", bytes: Self.body, isCheckpoint: false, origin: "a")
        for _ in 0..<6 { #expect(b.read(nick: nil, bytes: Self.body, isCheckpoint: false, origin: "b").isEmpty) }
        // The record that makes it due is dead node a's (its last one, say): b does nothing.
        #expect(b.read(nick: nil, bytes: Self.body, isCheckpoint: false, origin: "a").isEmpty)
        // Within the step nothing happens again; the next quarter (2 records) names b.
        #expect(b.read(nick: nil, bytes: Self.body, isCheckpoint: false, origin: "b").isEmpty)
        #expect(b.read(nick: nil, bytes: Self.body, isCheckpoint: false, origin: "b") == [.checkpoint(nicks: ["alice"])])
    }

    @Test func aRecordWithoutANodeNamesNoOwner() {
        var machine = Self.machine(node: "a", records: 2)
        _ = machine.read(nick: "alice", bytes: Self.body, isCheckpoint: false, origin: nil)
        #expect(machine.read(nick: nil, bytes: Self.body, isCheckpoint: false, origin: nil).isEmpty)
        #expect(machine.read(nick: nil, bytes: Self.body, isCheckpoint: false, origin: "operator").isEmpty)
    }

    @Test func aForgottenUserIsNoLongerCheckpointed() {
        var machine = Self.machine(node: "a", records: 2)
        _ = machine.read(nick: "alice", bytes: Self.body, isCheckpoint: false, origin: "a")
        #expect(machine.read(nick: nil, bytes: Self.body, isCheckpoint: false, origin: "a") == [.checkpoint(nicks: ["alice"])])
        machine.forget("alice")
        #expect(machine.oldestBase == nil)
        for _ in 0..<10 { #expect(machine.read(nick: nil, bytes: Self.body, isCheckpoint: false, origin: "a").isEmpty) }
    }

    @Test func theDistanceCountsBodiesAndTheOverheadSoLargeRecordsMakeItDueSooner() {
        var machine = Self.machine(node: "a", records: 4)
        _ = machine.read(nick: "alice", bytes: 0, isCheckpoint: false, origin: "a")
        #expect(machine.read(nick: nil, bytes: Int(4 * Self.cost), isCheckpoint: false, origin: "a") == [.checkpoint(nicks: ["alice"])])
        #expect(machine.end == StateRetentionMachine.overheadBytes + 4 * Self.cost + StateRetentionMachine.overheadBytes)
    }
}

extension StateRetentionMachineTests {
    @Test func aUserWhoseCheckpointIsOnItsWayIsNotNamedAgainUntilReadBackOrFailed() {
        var machine = Self.machine(node: "a", records: 4)
        _ = machine.read(nick: "alice", bytes: Self.body, isCheckpoint: false, origin: "a")
        _ = machine.read(nick: "bob", bytes: Self.body, isCheckpoint: false, origin: "a")
        for _ in 0..<2 { _ = machine.read(nick: nil, bytes: Self.body, isCheckpoint: false, origin: "x") }
        #expect(machine.read(nick: nil, bytes: Self.body, isCheckpoint: false, origin: "a") == [.checkpoint(nicks: ["alice", "bob"])])
        #expect(machine.inFlight == ["alice", "bob"])
        // The next step comes before the checkpoints: nobody to name.
        #expect(machine.read(nick: nil, bytes: Self.body, isCheckpoint: false, origin: "a").isEmpty)
        // Alice's came back; bob's failed: he is named at the next step.
        #expect(machine.read(nick: "alice", bytes: Self.body, isCheckpoint: true, origin: "a").isEmpty)
        machine.checkpointFailed("bob")
        #expect(machine.inFlight.isEmpty)
        #expect(machine.read(nick: nil, bytes: Self.body, isCheckpoint: false, origin: "a") == [.checkpoint(nicks: ["bob"])])
        machine.linkLost()
        #expect(machine.inFlight.isEmpty)
    }
}

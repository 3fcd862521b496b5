import Testing

@testable import Chat

/// A joined session as the machine sees it; the outlet is a name.
struct TestSession: JoinedSession, Equatable {
    typealias Instant = ManualInstant

    var nick: String
    var rooms: SessionRooms
    var outlet: String
}

/// The actions as short strings, in order: `letIn:<waiter>`, `close:<session>`,
/// `ended:<session>`, `offline:<nick>`, `release:<session>`.
func did(_ actions: [SessionsMachine<TestSession>.Action]) -> [String] {
    actions.map { action in
        switch action {
        case .letIn(let waiter): "letIn:\(waiter)"
        case .close(let session, _): "close:\(session)"
        case .ended(let session): "ended:\(session)"
        case .offline(let nick): "offline:\(nick)"
        case .releaseInbox(let session): "release:\(session)"
        }
    }
}

/// The sessions and rooms guarantees of Specs/chat-protocol.md on ``SessionsMachine`` alone:
/// no broker, no tasks, a manual clock, no sleeps.
@Suite("SessionsMachine")
struct SessionsMachineTests {
    typealias Machine = SessionsMachine<TestSession>

    static let joinTimeout = Duration.seconds(10)
    static let start = ManualInstant(offset: .zero)

    /// Runs a whole join of `nick` by `session` as the node does once the nick is won: start,
    /// the gate, the take-over, the welcome. Returns the take-over's actions.
    static func join(_ machine: inout Machine, _ session: UInt64, nick: String, rooms: [String] = ["lobby"]) -> [Machine.Action] {
        #expect(machine.startJoin(session) == .go)
        #expect(did(machine.enterGate(1000 + session)) == ["letIn:\(1000 + session)"])
        let takeOver = machine.takeOver(nick, by: session)
        machine.own(nick, by: session)
        machine.joined(session, TestSession(nick: nick, rooms: SessionRooms(rooms), outlet: "out\(session)"))
        #expect(machine.leaveGate().isEmpty)
        machine.joinFinished(session)
        return takeOver
    }

    @Test func oneJoinPerSessionAndNoneAfterItsWelcome() {
        var machine = Machine(joinsInFlight: 4, roomsPerSession: 10, joinTimeout: Self.joinTimeout)
        #expect(machine.startJoin(1) == .go)
        #expect(machine.hasJoinedOrIsJoining(1))
        #expect(machine.startJoin(1) == .underWay)
        machine.joinFinished(1)
        // A refused join leaves nothing: the session may join again.
        #expect(!machine.hasJoinedOrIsJoining(1))
        #expect(machine.startJoin(1) == .go)
        machine.own("alice", by: 1)
        machine.joined(1, TestSession(nick: "alice", rooms: ["lobby"], outlet: "out1"))
        machine.joinFinished(1)
        #expect(machine.hasJoinedOrIsJoining(1))
        #expect(machine.startJoin(1) == .alreadyJoined(nick: "alice"))
    }

    @Test func theJoinGateLetsInAtMostItsCapacityInArrivalOrder() {
        var machine = Machine(joinsInFlight: 2, roomsPerSession: 10, joinTimeout: Self.joinTimeout)
        #expect(did(machine.enterGate(1)) == ["letIn:1"])
        #expect(did(machine.enterGate(2)) == ["letIn:2"])
        // Full: the next ones wait, in the order they came.
        #expect(machine.enterGate(3).isEmpty)
        #expect(machine.enterGate(4).isEmpty)
        #expect(machine.gate.inside == 2)
        #expect(machine.gate.waitingCount == 2)
        #expect(did(machine.leaveGate()) == ["letIn:3"])
        // A newcomer does not overtake the one still waiting, even with a place about to free.
        #expect(machine.enterGate(5).isEmpty)
        #expect(did(machine.leaveGate()) == ["letIn:4"])
        #expect(did(machine.leaveGate()) == ["letIn:5"])
        #expect(machine.leaveGate().isEmpty)
        #expect(machine.leaveGate().isEmpty)
        #expect(machine.gate.inside == 0)
        #expect(did(machine.enterGate(6)) == ["letIn:6"])
    }

    @Test func aNewerJoinOfTheSameNickReplacesTheLiveSessionAndKeepsTheNickOnline() {
        var machine = Machine(joinsInFlight: 4, roomsPerSession: 10, joinTimeout: Self.joinTimeout)
        #expect(Self.join(&machine, 1, nick: "alice", rooms: ["lobby", "rust"]).isEmpty)
        #expect(Self.join(&machine, 2, nick: "bob", rooms: ["lobby"]).isEmpty)
        // alice again, on a new connection, with other rooms: the older session is closed
        // (`replaced`, 4001: "Opened elsewhere" in the web client) and ends without the nick
        // going offline; its inbox is released for the new session to take.
        let takeOver = Self.join(&machine, 3, nick: "alice", rooms: ["lobby", "swift"])
        #expect(did(takeOver) == ["close:1", "ended:1", "release:1"])
        guard case .close(_, let closed) = takeOver.first else {
            Issue.record("the older session is not closed")
            return
        }
        #expect(closed == TestSession(nick: "alice", rooms: ["lobby", "rust"], outlet: "out1"))
        #expect(machine.owns("alice", 3))
        #expect(machine.sessions[1] == nil)
        #expect(machine.sessions[3]?.rooms == ["lobby", "swift"])
        // The rooms keep their other members; the new session is in its own rooms.
        #expect(machine.outlets(inRoom: "lobby") == ["out2", "out3"])
        #expect(machine.outlets(inRoom: "swift") == ["out3"])
        #expect(machine.outlets(inRoom: "rust").isEmpty)
        #expect(machine.roomMembers["rust"] == nil)
    }

    @Test func aTakeoverFromAnotherNodeClosesTheSessionAndTheNickGoesOffline() {
        var machine = Machine(joinsInFlight: 4, roomsPerSession: 10, joinTimeout: Self.joinTimeout)
        _ = Self.join(&machine, 1, nick: "alice", rooms: ["lobby"])
        #expect(did(machine.replace(1)) == ["close:1", "ended:1", "offline:alice", "release:1"])
        #expect(machine.nickOwner.isEmpty)
        #expect(machine.outlets(inRoom: "lobby").isEmpty)
        // Replacing it again finds nothing.
        #expect(machine.replace(1).isEmpty)
    }

    @Test func aSessionNotYetWelcomedOnlyLosesTheNickWhenReplaced() {
        var machine = Machine(joinsInFlight: 4, roomsPerSession: 10, joinTimeout: Self.joinTimeout)
        #expect(machine.startJoin(1) == .go)
        machine.own("alice", by: 1)
        #expect(machine.replace(1).isEmpty)
        #expect(!machine.owns("alice", 1))
        // Its join sees that and does not welcome it; the one that failed to take the inbox
        // lets go of the nick, but never of another session's.
        machine.own("alice", by: 2)
        machine.disown("alice", by: 1)
        #expect(machine.owns("alice", 2))
        machine.disown("alice", by: 2)
        #expect(machine.nickOwner.isEmpty)
    }

    @Test func aSessionEndLeavesItsRoomsAndFreesTheNick() {
        var machine = Machine(joinsInFlight: 4, roomsPerSession: 10, joinTimeout: Self.joinTimeout)
        _ = Self.join(&machine, 1, nick: "alice", rooms: ["lobby", "rust"])
        _ = Self.join(&machine, 2, nick: "bob", rooms: ["rust"])
        #expect(did(machine.end(1)) == ["ended:1", "offline:alice", "release:1"])
        #expect(machine.sessions[1] == nil)
        #expect(machine.nickOwner == ["bob": 2])
        #expect(machine.roomMembers["lobby"] == nil)
        #expect(machine.outlets(inRoom: "rust") == ["out2"])
        #expect(!machine.hasJoinedOrIsJoining(1))
        // Ended once: a second end (the client's close after a replace) does nothing.
        #expect(machine.end(1).isEmpty)
        // A free nick is taken by the next join without replacing anyone.
        #expect(Self.join(&machine, 3, nick: "alice").isEmpty)
    }

    @Test func aSessionEndingAfterItsNickMovedOnDoesNotTakeTheNickOffline() {
        var machine = Machine(joinsInFlight: 4, roomsPerSession: 10, joinTimeout: Self.joinTimeout)
        _ = Self.join(&machine, 1, nick: "alice")
        // A second join of alice holds the nick but is not welcomed yet.
        #expect(machine.startJoin(2) == .go)
        machine.own("alice", by: 2)
        #expect(did(machine.end(1)) == ["ended:1", "release:1"])
        #expect(machine.owns("alice", 2))
        #expect(did(machine.end(1, announce: false)).isEmpty)
    }

    @Test func enterIsCappedAndLeaveLeavesOnlyItsRoom() {
        var machine = Machine(joinsInFlight: 4, roomsPerSession: 2, joinTimeout: Self.joinTimeout)
        #expect(machine.enter("lobby", session: 1) == .notJoined)
        _ = Self.join(&machine, 1, nick: "alice", rooms: ["lobby"])
        _ = Self.join(&machine, 2, nick: "bob", rooms: ["lobby"])
        #expect(machine.outlets(inRoom: "lobby") == ["out1", "out2"])
        #expect(machine.enter("rust", session: 1) == .entered)
        #expect(machine.enter("swift", session: 1) == .tooManyRooms(count: 2))
        // A room it is in already counts as entered.
        #expect(machine.enter("rust", session: 1) == .entered)
        #expect(machine.sessions[1]?.rooms == ["lobby", "rust"])
        #expect(machine.outlets(inRoom: "rust") == ["out1"])
        machine.leave("lobby", session: 1)
        machine.leave("lobby", session: 1)
        machine.leave("nowhere", session: 1)
        // The cached outlets follow the members.
        #expect(machine.outlets(inRoom: "lobby") == ["out2"])
        #expect(machine.enter("swift", session: 1) == .entered)
        #expect(machine.sessions[1]?.rooms == ["rust", "swift"])
        #expect(machine.roomMembers.keys.sorted() == ["lobby", "rust", "swift"])
    }

    @Test func aConnectionThatHasNotJoinedByItsDeadlineIsClosedAndOneJoinedOrJoiningIsNot() {
        var machine = Machine(joinsInFlight: 4, roomsPerSession: 10, joinTimeout: Self.joinTimeout)
        let deadline = Self.start.advanced(by: Self.joinTimeout)
        for session: UInt64 in 1...4 {
            #expect(machine.attached(session, now: Self.start) == [.startTimer(.init(session: session, deadline: deadline))])
        }
        // 1 never joins; 2 joined; 3 is joining when its deadline passes; 4 went away.
        _ = Self.join(&machine, 2, nick: "bob")
        #expect(machine.startJoin(3) == .go)
        #expect(machine.detached(4) == [.cancelTimer(session: 4)])
        #expect(machine.joinTimerFired(1) == [.closeForJoinTimeout(session: 1)])
        #expect(machine.joinTimerFired(2).isEmpty)
        #expect(machine.joinTimerFired(3).isEmpty)
        // A deadline is decided once: a late or repeated fire, or a cancelled one, does nothing.
        #expect(machine.joinTimerFired(1).isEmpty)
        #expect(machine.joinTimerFired(4).isEmpty)
        #expect(machine.detached(1).isEmpty)
        #expect(machine.joinDeadlines.isEmpty)
    }

    @Test func typingGoesToTheRoomsOtherLocalMembersOrTheAddresseeAndATakeoverElsewhereReplacesTheLocalHolder() {
        var machine = Machine(joinsInFlight: 4, roomsPerSession: 10, joinTimeout: Self.joinTimeout)
        _ = Self.join(&machine, 1, nick: "alice", rooms: ["lobby", "dev"])
        _ = Self.join(&machine, 2, nick: "bob", rooms: ["lobby"])
        _ = Self.join(&machine, 3, nick: "carol", rooms: ["dev"])
        #expect(machine.typingRecipients(from: "alice", room: "lobby", to: nil) == ["out2"])
        #expect(machine.typingRecipients(from: "bob", room: "dev", to: nil) == ["out1", "out3"])
        #expect(machine.typingRecipients(from: "zed", room: "empty", to: nil).isEmpty)
        #expect(machine.typingRecipients(from: "zed", room: nil, to: "carol") == ["out3"])
        #expect(machine.typingRecipients(from: "zed", room: nil, to: "nobody").isEmpty)
        // A `takeover` record from another node names the local holder; this node's own does not.
        #expect(machine.sessionReplacedByTakeover(of: "bob", node: "n2", localNode: "n1") == 2)
        #expect(machine.sessionReplacedByTakeover(of: "bob", node: "n1", localNode: "n1") == nil)
        #expect(machine.sessionReplacedByTakeover(of: "nobody", node: "n2", localNode: "n1") == nil)
    }
}

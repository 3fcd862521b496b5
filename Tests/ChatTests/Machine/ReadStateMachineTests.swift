import Testing

@testable import Chat

/// ``ReadStateMachine`` as values: read positions folded from `chat.state` (a maximum per user
/// and conversation, bounded per user), settings (newest `ts`), the `read` frame's cap and
/// throttle, and the welcome's `read` and `unread`. No broker, no tasks, a clock given as values
/// (milliseconds).
@Suite struct ReadStateMachineTests {
    typealias Machine = ReadStateMachine<Int>

    static func read(_ nick: String, _ room: String, _ upTo: Int64, origin: String? = nil) -> Machine.Record {
        .read(nick: nick, conversation: .room(room), upTo: upTo, origin: origin)
    }

    @Test func aReadPositionIsTheMaximumOfItsRecordsWhateverTheirOrder() {
        var machine = Machine()
        machine.read(Self.read("alice", "lobby", 10))
        machine.read(Self.read("alice", "lobby", 30))
        machine.read(Self.read("alice", "lobby", 20))
        machine.read(Self.read("alice", "lobby", 30))
        #expect(machine.position(of: "alice", in: .room("lobby")) == 30)
        #expect(machine.position(of: "bob", in: .room("lobby")) == nil)
        #expect(machine.position(of: "alice", in: .room("rust")) == nil)
    }

    @Test func aPositionThatMovesIsToldToTheUsersOtherSessionsOnlyOnce() {
        var machine = Machine()
        let moved = machine.read(Self.read("alice", "lobby", 12, origin: "a/7"))
        #expect(moved == [.tell(nick: "alice", frame: .read(ReadPosition(room: "lobby", upTo: 12)), exceptOrigin: "a/7")])
        #expect(machine.read(Self.read("alice", "lobby", 12, origin: "b/3")).isEmpty)
        #expect(machine.read(Self.read("alice", "lobby", 5)).isEmpty)
    }

    @Test func aUserKeepsAtMostItsCapOfPositionsTheLeastRecentlyMovedIsForgotten() {
        var machine = Machine(maxConversations: 3)
        machine.read(Self.read("alice", "a", 1))
        machine.read(Self.read("alice", "b", 1))
        machine.read(Self.read("alice", "c", 1))
        machine.read(Self.read("alice", "a", 2))  // a moved last now: b is the stalest
        let actions = machine.read(Self.read("alice", "d", 1))
        #expect(actions.count == 1)
        #expect(machine.position(of: "alice", in: .room("b")) == nil)
        #expect(machine.position(of: "alice", in: .room("a")) == 2)
        #expect(machine.positions["alice"]?.count == 3)
        #expect(Machine.maxConversations == 500)
    }

    @Test func theNewestSettingsRecordWinsAndAChangeIsTold() {
        var machine = Machine()
        #expect(machine.privateReceipts(of: "alice"))
        let changed = machine.read(.settings(nick: "alice", privateReceipts: false, ts: 20, origin: "a/1"))
        #expect(changed == [.tell(nick: "alice", frame: .settings(Settings(privateReceipts: false)), exceptOrigin: "a/1")])
        #expect(machine.read(.settings(nick: "alice", privateReceipts: true, ts: 10, origin: nil)).isEmpty)
        #expect(!machine.privateReceipts(of: "alice"))
        #expect(machine.read(.settings(nick: "alice", privateReceipts: false, ts: 30, origin: nil)).isEmpty)
    }

    @Test func aReadIsCappedAtTheLastHistoryRecordTheNodeReadAndIgnoredBeforeAny() {
        var machine = Machine()
        #expect(machine.requestRead(session: 1, origin: "a/1", nick: "alice", conversation: .room("lobby"), upTo: 50, lastOffset: nil, now: 0) == .ignore)
        #expect(
            machine.requestRead(session: 1, origin: "a/1", nick: "alice", conversation: .room("lobby"), upTo: 50, lastOffset: 40, now: 0)
                == .publish(Self.read("alice", "lobby", 40, origin: "a/1")))
    }

    @Test func aReadAtOrBeforeThePositionPublishesNothing() {
        var machine = Machine()
        machine.read(Self.read("alice", "lobby", 40))
        #expect(machine.requestRead(session: 1, origin: "a/1", nick: "alice", conversation: .room("lobby"), upTo: 40, lastOffset: 90, now: 0) == .ignore)
        #expect(machine.requestRead(session: 1, origin: "a/1", nick: "alice", conversation: .room("lobby"), upTo: 12, lastOffset: 90, now: 0) == .ignore)
    }

    @Test func aSecondReadWithinASecondIsDeferredAndItsNewestPositionPublishedWhenTheSecondIsOver() {
        var machine = Machine()
        let lobby = Machine.Conversation.room("lobby")
        #expect(machine.requestRead(session: 1, origin: "a/1", nick: "alice", conversation: lobby, upTo: 10, lastOffset: 90, now: 1_000) != .ignore)
        #expect(
            machine.requestRead(session: 1, origin: "a/1", nick: "alice", conversation: lobby, upTo: 12, lastOffset: 90, now: 1_200)
                == .deferUntil(deadline: 2_000))
        #expect(machine.requestRead(session: 1, origin: "a/1", nick: "alice", conversation: lobby, upTo: 15, lastOffset: 90, now: 1_400) == .deferred)
        #expect(machine.requestRead(session: 1, origin: "a/1", nick: "alice", conversation: lobby, upTo: 13, lastOffset: 90, now: 1_500) == .deferred)
        // Another conversation, or another session, has a throttle of its own.
        #expect(
            machine.requestRead(session: 1, origin: "a/1", nick: "alice", conversation: .room("rust"), upTo: 3, lastOffset: 90, now: 1_500)
                == .publish(Self.read("alice", "rust", 3, origin: "a/1")))
        #expect(
            machine.requestRead(session: 2, origin: "a/2", nick: "alice", conversation: lobby, upTo: 14, lastOffset: 90, now: 1_500)
                == .publish(Self.read("alice", "lobby", 14, origin: "a/2")))
        #expect(machine.throttleFired(session: 1, conversation: lobby, now: 2_000) == Self.read("alice", "lobby", 15, origin: "a/1"))
        #expect(machine.deferredCount(of: 1) == 0)
        // The next one within a second of that publish is deferred again.
        #expect(
            machine.requestRead(session: 1, origin: "a/1", nick: "alice", conversation: lobby, upTo: 20, lastOffset: 90, now: 2_500)
                == .deferUntil(deadline: 3_000))
    }

    @Test func aDeferredReadThatTheStreamOvertookPublishesNothing() {
        var machine = Machine()
        let lobby = Machine.Conversation.room("lobby")
        _ = machine.requestRead(session: 1, origin: "a/1", nick: "alice", conversation: lobby, upTo: 10, lastOffset: 90, now: 0)
        _ = machine.requestRead(session: 1, origin: "a/1", nick: "alice", conversation: lobby, upTo: 12, lastOffset: 90, now: 100)
        machine.read(Self.read("alice", "lobby", 30))
        #expect(machine.throttleFired(session: 1, conversation: lobby, now: 1_000) == nil)
    }

    @Test func aSessionWithTooManyDeferredConversationsIsRefused() {
        var machine = Machine()
        for index in 0...Machine.maxDeferred {
            let room = Machine.Conversation.room("r\(index)")
            #expect(machine.requestRead(session: 1, origin: "a/1", nick: "alice", conversation: room, upTo: 1, lastOffset: 90, now: 0) != .ignore)
            let second = machine.requestRead(session: 1, origin: "a/1", nick: "alice", conversation: room, upTo: 2, lastOffset: 90, now: 10)
            if index < Machine.maxDeferred {
                #expect(second == .deferUntil(deadline: 1_000))
            } else {
                guard case .refused(let error) = second else {
                    Issue.record("expected a refusal, got \(second)")
                    return
                }
                #expect(error.code == .rateLimited)
            }
        }
        #expect(machine.deferredCount(of: 1) == Machine.maxDeferred)
    }

    @Test func anEndedSessionsDeferredReadsArePublishedAtOnceAndItsThrottleForgotten() {
        var machine = Machine()
        let lobby = Machine.Conversation.room("lobby")
        _ = machine.requestRead(session: 1, origin: "a/1", nick: "alice", conversation: lobby, upTo: 10, lastOffset: 90, now: 0)
        _ = machine.requestRead(session: 1, origin: "a/1", nick: "alice", conversation: lobby, upTo: 12, lastOffset: 90, now: 100)
        #expect(machine.sessionEnded(1) == [Self.read("alice", "lobby", 12, origin: "a/1")])
        #expect(machine.sessionEnded(1).isEmpty)
        #expect(machine.deferredCount(of: 1) == 0)
        #expect(machine.throttleFired(session: 1, conversation: lobby, now: 1_000) == nil)
    }

    @Test func theWelcomeCountsOthersMessagesAfterEachReadPositionThatTheNodeHolds() {
        var machine = Machine()
        var history = RoomHistory(capacity: 5)
        for seq in Int64(1)...8 {
            history.append(ChatMessage(msgId: "m\(seq)", from: "bob", room: "lobby", text: "hi", ts: seq, seq: seq), room: "lobby")
        }
        history.append(ChatMessage(msgId: "own", from: "alice", room: "lobby", text: "mine", ts: 9, seq: 9), room: "lobby")
        machine.read(Self.read("alice", "lobby", 6))
        machine.read(Self.read("alice", "quiet", 3))
        machine.read(Self.read("bob", "lobby", 1))
        let alice = machine.welcome(of: "alice", history: history)
        #expect(alice.read == ConversationCounts(rooms: ["lobby": 6, "quiet": 3]))
        #expect(alice.unread == ConversationCounts(rooms: ["lobby": 2, "quiet": 0]))
        // Alice's own message (9) does not count. Bob read up to 1; the node holds the newest 5
        // (5...9): what it no longer holds is not counted, and his own messages (5...8) neither.
        #expect(machine.welcome(of: "bob", history: history).unread == ConversationCounts(rooms: ["lobby": 1]))
        #expect(machine.welcome(of: "carol", history: history).read == ConversationCounts())
    }

    @Test func theUnreadCountIsCappedAtAThousand() {
        var machine = Machine()
        var history = RoomHistory(capacity: 1500)
        for seq in Int64(1)...1200 {
            history.append(ChatMessage(msgId: "m\(seq)", from: "bob", room: "lobby", text: "hi", ts: seq, seq: seq), room: "lobby")
        }
        machine.read(Self.read("alice", "lobby", 0))
        #expect(machine.welcome(of: "alice", history: history).unread.rooms["lobby"] == Int64(Machine.unreadCap))
        #expect(Machine.unreadCap == 1000)
    }

    @Test func aUsersRecordsForACheckpointFoldIntoTheSameStateOnAFreshMachine() {
        var machine = Machine()
        machine.read(Self.read("alice", "lobby", 6))
        machine.read(Self.read("alice", "rust", 9))
        machine.read(.settings(nick: "alice", privateReceipts: false, ts: 5, origin: nil))
        var fresh = Machine()
        for record in machine.records(of: "alice") { fresh.read(record) }
        #expect(fresh.positions["alice"]?.mapValues(\.upTo) == machine.positions["alice"]?.mapValues(\.upTo))
        #expect(!fresh.privateReceipts(of: "alice"))
        #expect(machine.records(of: "bob").isEmpty)
    }
}

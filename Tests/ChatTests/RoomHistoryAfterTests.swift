import Testing

@testable import Chat

/// `RoomHistory` answering `after` and a join's `resume` (values only: Specs/chat-protocol.md,
/// "Resume without gaps").
@Suite("Room history after a seq")
struct RoomHistoryAfterTests {
    func message(_ seq: Int64, room: String = "r", text: String? = nil) -> ChatMessage {
        ChatMessage(msgId: "m\(seq)", from: "a", room: room, text: text ?? "t\(seq)", ts: seq, seq: seq)
    }

    @Test func afterGivesTheOldestMessagesAfterASeqAndSaysWhenNewerOnesFollow() {
        var history = RoomHistory(capacity: 100)
        history.noteRead(offset: 0)
        for seq in [2, 4, 6, 8, 10] { history.append(message(Int64(seq)), room: "r") }
        let first = history.page(in: "r", after: 3, limit: 2)
        #expect(first.messages.map(\.seq) == [4, 6])
        #expect(first.more)
        #expect(first.gapNext == nil)
        let rest = history.page(in: "r", after: 6, limit: 10)
        #expect(rest.messages.map(\.seq) == [8, 10])
        #expect(!rest.more)
        // Exclusive, and past the newest: nothing, no gap.
        #expect(history.page(in: "r", after: 10, limit: 10).messages.isEmpty)
        #expect(history.page(in: "r", after: 1_000, limit: 10).gapNext == nil)
        // The frames: a `history` with `after`, no `gap`.
        #expect(
            history.answer(HistoryRequest(room: "r", after: 6), maxBytes: .max)
                == [.history(History(room: "r", messages: [message(8), message(10)], more: false, after: 6))])
        // Without `after`: unchanged, the newest.
        let newest = history.answer(HistoryRequest(room: "r", limit: 2), maxBytes: .max)
        #expect(newest == [.history(History(room: "r", messages: [message(8), message(10)], more: true))])
    }

    @Test func aPositionOlderThanWhatTheRoomKeepsIsAGapUpToItsFirstKeptSeq() {
        var history = RoomHistory(capacity: 3)
        history.noteRead(offset: 0)
        for seq in 1...6 { history.append(message(Int64(seq)), room: "r") }
        // 1...3 were dropped: the room is complete from 4 on.
        #expect(history.completeFrom(in: "r") == 4)
        let page = history.page(in: "r", after: 1, limit: 10)
        #expect(page.gapNext == 4)
        #expect(page.messages.map(\.seq) == [4, 5, 6])
        #expect(
            history.frames(in: "r", after: 1, limit: 10, maxBytes: .max)
                == [.gap(Gap(room: "r", after: 1, next: 4)), .history(History(room: "r", messages: [message(4), message(5), message(6)], after: 1))])
        // Right before the first kept one: no gap.
        #expect(history.page(in: "r", after: 3, limit: 10).gapNext == nil)
        // A welcome resuming `r` leaves it out of its history and follows with the frames.
        let welcome = history.welcome(rooms: ["r", "s"], resume: ["r": 1], limit: 10, maxBytes: .max)
        #expect(welcome.history == ["s": []])
        #expect(welcome.moreHistory.isEmpty)
        #expect(welcome.followUp == history.frames(in: "r", after: 1, limit: 10, maxBytes: .max))
        // Without resume, the welcome is what it was.
        let plain = history.welcome(rooms: ["r"], resume: [:], limit: 2, maxBytes: .max)
        #expect(plain.history == ["r": [message(5), message(6)]])
        #expect(plain.moreHistory == ["r"])
        #expect(plain.followUp.isEmpty)
    }

    @Test func aRoomForgottenWholeOrNeverReadIsAGapOnlyBeforeWhatTheNodeRead() {
        var history = RoomHistory(capacity: 100, maxRooms: 1)
        // The node began reading at offset 50: before it, nothing is known.
        history.noteRead(offset: 50)
        #expect(history.page(in: "quiet", after: 49, limit: 10).gapNext == nil)
        #expect(history.page(in: "quiet", after: 10, limit: 10).gapNext == 50)
        history.append(message(60, room: "a"), room: "a")
        history.append(message(61, room: "a"), room: "a")
        #expect(history.page(in: "a", after: 49, limit: 10).messages.map(\.seq) == [60, 61])
        #expect(history.page(in: "a", after: 49, limit: 10).gapNext == nil)
        // Room `b` pushes `a` out whole (one room at most): `a` is served again from past its
        // newest forgotten message, and so is any room that appears after the forget.
        history.append(message(70, room: "b"), room: "b")
        #expect(history.page(in: "a", after: 59, limit: 10).gapNext == 62)
        #expect(history.page(in: "a", after: 61, limit: 10).gapNext == nil)
        // `c` appears while `a` is the only room forgotten: complete past `a`'s newest; its own
        // message pushes `b` out, so `b` and any room not kept now begin past `b`'s newest.
        history.append(message(80, room: "c"), room: "c")
        #expect(history.completeFrom(in: "c") == 62)
        #expect(history.completeFrom(in: "b") == 71)
        #expect(history.completeFrom(in: "d") == 71)
    }

    @Test func aByteBudgetCutsAnAfterPageAtTheOldestEnd() {
        var history = RoomHistory(capacity: 100)
        history.noteRead(offset: 1)
        let big = String(repeating: "x", count: 16_000)
        for seq in 1...10 { history.append(message(Int64(seq), text: big), room: "r") }
        let one = RoomHistory.cost(of: message(1, text: big))
        let page = history.page(in: "r", after: 0, limit: 100, maxBytes: one * 3 + 10)
        #expect(page.messages.map(\.seq) == [1, 2, 3])
        #expect(page.more)
        // Never nothing when something follows: one message even over the budget.
        let tiny = history.page(in: "r", after: 3, limit: 100, maxBytes: 10)
        #expect(tiny.messages.map(\.seq) == [4])
        #expect(tiny.more)
    }
}

import Chat
import Testing

@Suite("Room history index")
struct RoomHistoryTests {
    func message(_ seq: Int64) -> ChatMessage {
        ChatMessage(msgId: "m\(seq)", from: "a", room: "r", text: "t\(seq)", ts: seq, seq: seq)
    }

    @Test func keepsTheNewestUpToCapacityOldestFirst() {
        var history = RoomHistory(capacity: 3)
        for seq in 1...5 { history.append(message(Int64(seq)), room: "r") }
        #expect(history.messages(in: "r", limit: 10).map(\.seq) == [3, 4, 5])
        #expect(history.messages(in: "r", limit: 2).map(\.seq) == [4, 5])
        #expect(history.messages(in: "other", limit: 2).isEmpty)
    }

    @Test func beforeIsExclusiveAndGivesTheNewestOlderOnes() {
        var history = RoomHistory(capacity: 100)
        for seq in [2, 4, 6, 8, 10] { history.append(message(Int64(seq)), room: "r") }
        #expect(history.messages(in: "r", before: 8, limit: 2).map(\.seq) == [4, 6])
        #expect(history.messages(in: "r", before: 7, limit: 10).map(\.seq) == [2, 4, 6])
        #expect(history.messages(in: "r", before: 2, limit: 10).isEmpty)
    }

    @Test func roomNamesAreSorted() {
        var history = RoomHistory(capacity: 1)
        history.append(message(1), room: "zeta")
        history.append(message(2), room: "alpha")
        #expect(history.roomNames == ["alpha", "zeta"])
    }
}

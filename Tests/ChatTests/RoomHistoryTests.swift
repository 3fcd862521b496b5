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

    @Test func aByteBudgetGivesFewerNewestMessagesAndNeverCutsOne() {
        var history = RoomHistory(capacity: 100)
        let big = String(repeating: "x", count: 16_000)
        for seq in 1...10 { history.append(ChatMessage(msgId: "m\(seq + 10)", from: "a", room: "r", text: big, ts: Int64(seq), seq: Int64(seq)), room: "r") }
        let one = RoomHistory.cost(of: history.messages(in: "r", limit: 1)[0])
        #expect(history.messages(in: "r", limit: 100, maxBytes: 3 * one).map(\.seq) == [8, 9, 10])
        #expect(history.messages(in: "r", limit: 100, maxBytes: 3 * one - 1).map(\.seq) == [9, 10])
        #expect(history.messages(in: "r", before: 9, limit: 100, maxBytes: 2 * one).map(\.seq) == [7, 8])
        #expect(history.messages(in: "r", limit: 100, maxBytes: one - 1).isEmpty)
        #expect(history.messages(in: "r", limit: 2, maxBytes: .max).map(\.seq) == [9, 10])
        // `more`: older messages are kept than the oldest given, whether `limit` or bytes cut.
        #expect(history.page(in: "r", limit: 100, maxBytes: 3 * one).more)
        #expect(history.page(in: "r", limit: 2).more)
        #expect(!history.page(in: "r", limit: 10).more)
        #expect(!history.page(in: "r", before: 3, limit: 2).more)
        #expect(history.page(in: "r", before: 3, limit: 1).more)
        #expect(history.page(in: "nowhere", limit: 10) == ([], false))
    }

    @Test func roomNamesAreSorted() {
        var history = RoomHistory(capacity: 1)
        history.append(message(1), room: "zeta")
        history.append(message(2), room: "alpha")
        #expect(history.roomNames == ["alpha", "zeta"])
    }
}

/// Room history bounded in bytes and rooms, not only in messages per room (issue 13).
@Suite("Room history byte and room caps")
struct RoomHistoryCapTests {
    static func message(_ seq: Int64, room: String, bytes: Int) -> ChatMessage {
        ChatMessage(msgId: "m\(seq + 100)", from: "a", room: room, text: String(repeating: "x", count: bytes), ts: seq, seq: seq)
    }

    @Test func aRoomIsBoundedInBytes() {
        let one = RoomHistory.cost(of: Self.message(1, room: "r", bytes: 1000))
        var history = RoomHistory(capacity: 1000, maxRoomBytes: one * 3)
        for seq in 1...10 { history.append(Self.message(Int64(seq), room: "r", bytes: 1000), room: "r") }
        #expect(history.messages(in: "r", limit: 100).map(\.seq) == [8, 9, 10])
        #expect(history.totalBytes == one * 3)
        // A single message larger than the cap is kept alone (the newest always stays).
        history.append(Self.message(11, room: "r", bytes: 10_000), room: "r")
        #expect(history.messages(in: "r", limit: 100).map(\.seq) == [11])
    }

    @Test func theLeastRecentlyActiveRoomPaysForTheTotal() {
        let one = RoomHistory.cost(of: Self.message(1, room: "a", bytes: 500))
        var history = RoomHistory(capacity: 1000, maxTotalBytes: one * 4)
        history.append(Self.message(1, room: "a", bytes: 500), room: "a")
        history.append(Self.message(2, room: "a", bytes: 500), room: "a")
        history.append(Self.message(3, room: "b", bytes: 500), room: "b")
        history.append(Self.message(4, room: "b", bytes: 500), room: "b")
        history.append(Self.message(5, room: "b", bytes: 500), room: "b")
        #expect(history.messages(in: "a", limit: 100).map(\.seq) == [2])
        history.append(Self.message(6, room: "b", bytes: 500), room: "b")
        #expect(history.messages(in: "a", limit: 100).isEmpty)
        #expect(history.roomNames == ["b"])
        #expect(history.totalBytes <= one * 4)
    }

    @Test func roomsBeyondTheCapAreForgottenOldestFirst() {
        var history = RoomHistory(capacity: 10, maxRooms: 3)
        for (seq, room) in ["a", "b", "c", "a", "d"].enumerated() {
            history.append(Self.message(Int64(seq), room: room, bytes: 10), room: room)
        }
        // "b" was the least recently active when "d" came.
        #expect(history.roomNames == ["a", "c", "d"])
        #expect(history.recentRoomNames(limit: 2) == ["a", "d"])
    }
}

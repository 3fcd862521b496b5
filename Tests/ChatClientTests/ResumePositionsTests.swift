import ChatProtocol
import Testing

@testable import ChatClient

/// The client's record of what it has per room (Specs/chat-protocol.md, "Resume without gaps").
@Suite struct ResumePositionsTests {
    func message(_ seq: Int64, room: String = "lobby") -> ChatMessage {
        ChatMessage(msgId: "m\(seq)", from: "a", room: room, text: "t\(seq)", ts: seq, seq: seq)
    }

    /// The `seq`s of the messages `frame` gives as new.
    func new(_ positions: inout ResumePositions, _ frame: ServerFrame) -> [Int64] {
        positions.observe(frame).compactMap(\.seq)
    }

    @Test func livePagedAndRepeatedMessagesAreNewOnceAndThePositionFollows() {
        var positions = ResumePositions()
        let welcome = Welcome(nick: "bob", token: "t", users: [], rooms: ["lobby"], entered: ["lobby"], history: ["lobby": [message(1), message(2)]])
        let fromWelcome = new(&positions, .welcome(welcome))
        #expect(fromWelcome == [1, 2])
        #expect(positions.resume(for: ["lobby", "dev"]) == ["lobby": 2])
        let repeated = new(&positions, .message(message(2)))
        #expect(repeated.isEmpty)
        let live = new(&positions, .message(message(5)))
        #expect(live == [5])

        // A resume that pages: live messages come before the older pages, and a page listing
        // one of them again does not give it twice.
        var resumed = ResumePositions(rooms: ["lobby": 5])
        let firstPage = new(&resumed, .history(History(room: "lobby", messages: [message(6), message(7)], more: true, after: 5)))
        #expect(firstPage == [6, 7])
        #expect(resumed.pagingAfter(in: "lobby") == 7)
        let liveMeanwhile = new(&resumed, .message(message(20)))
        #expect(liveMeanwhile == [20])
        let liveAgain = new(&resumed, .message(message(20)))
        #expect(liveAgain.isEmpty)
        #expect(resumed.rooms["lobby"] == 7)
        let lastPage = new(&resumed, .history(History(room: "lobby", messages: [message(8), message(20)], more: false, after: 7)))
        #expect(lastPage == [8])
        #expect(resumed.pagingAfter(in: "lobby") == nil)
        #expect(resumed.rooms["lobby"] == 20)

        // A gap moves the position to where the server's history begins; older pages (`before`)
        // move nothing.
        var gapped = ResumePositions(rooms: ["lobby": 3])
        let fromGap = new(&gapped, .gap(Gap(room: "lobby", after: 3, next: 40)))
        #expect(fromGap.isEmpty)
        #expect(gapped.rooms["lobby"] == 39)
        let older = new(&gapped, .history(History(room: "lobby", messages: [message(1)], more: true)))
        #expect(older == [1])
        #expect(gapped.rooms["lobby"] == 39)
    }
}

import ChatProtocol
import Testing

@testable import LoadTester

/// `RoomResume` fed frames by hand: what a `--resume-drops` client records, holds, repeats and asks.
@Suite struct RoomResumeTests {
    let room = "r"

    func message(_ seq: Int64, room: String = "r") -> ChatMessage {
        ChatMessage(msgId: "m\(seq)", from: "a", room: room, text: "t\(seq)", ts: 0, seq: seq)
    }

    func welcome(history: [String: [ChatMessage]] = [:]) -> Welcome {
        Welcome(nick: "a", token: "t", users: [], rooms: ["r"], entered: ["r"], history: history)
    }

    func page(after: Int64, _ seqs: [Int64], more: Bool) -> ServerFrame {
        .history(History(room: room, messages: seqs.map { message($0) }, more: more, after: after))
    }

    @Test func aResumeHoldsPagesAndLiveMessagesAndHandsThemOverInSeqOrder() {
        var resume = RoomResume(room: room)
        #expect(resume.received(.message(message(5))).deliveries == [.init(message: message(5), recovered: false)])
        #expect(resume.resumeRequest == ["r": 5])

        let welcomed = resume.rejoined(welcome(), resumed: true)
        #expect(welcomed == RoomResume.Outcome())
        #expect(resume.isResuming)

        let first = resume.received(page(after: 5, [7, 9], more: true))
        #expect(first.deliveries == [])
        #expect(first.pageAfter == 9)
        #expect(!first.finished)

        // A live message while paging is held; the next page lists it again (allowed, once).
        #expect(resume.received(.message(message(12))).deliveries == [])
        let last = resume.received(page(after: 9, [11, 12], more: false))
        #expect(last.repeats.map(\.message.seq) == [12])
        #expect(last.repeats.map(\.allowed) == [true])
        #expect(last.finished)
        #expect(last.deliveries.map(\.message.seq) == [7, 9, 11, 12])
        #expect(last.deliveries.map(\.recovered) == [true, true, true, false])
        #expect(!resume.isResuming)
        #expect(resume.resumeRequest == ["r": 12])
    }

    @Test func aPagedMessageThatThenComesLiveIsAllowedOnceAndAThirdCopyIsNot() {
        var resume = RoomResume(room: room)
        _ = resume.received(.message(message(5)))
        _ = resume.rejoined(welcome(), resumed: true)
        let done = resume.received(page(after: 5, [6, 14], more: false))
        #expect(done.finished)
        #expect(done.deliveries.map(\.message.seq) == [6, 14])
        let live = resume.received(.message(message(14)))
        #expect(live.deliveries == [])
        #expect(live.repeats.map(\.allowed) == [true])
        #expect(resume.received(.message(message(14))).repeats.map(\.allowed) == [false])
    }

    @Test func aPageListingWhatTheClientHadIsARepeatNotAllowed() {
        var resume = RoomResume(room: room)
        _ = resume.received(.message(message(5)))
        _ = resume.rejoined(welcome(), resumed: true)
        // The server ignored `after` and listed seq 5 again.
        let outcome = resume.received(page(after: 5, [5, 6], more: false))
        #expect(outcome.repeats.map(\.message.seq) == [5])
        #expect(outcome.repeats.map(\.allowed) == [false])
        #expect(outcome.deliveries.map(\.message.seq) == [6])
    }

    @Test func aLiveMessageTheClientHadIsARepeatNotAllowed() {
        var resume = RoomResume(room: room)
        _ = resume.received(.message(message(5)))
        _ = resume.received(.message(message(8)))
        let outcome = resume.received(.message(message(5)))
        #expect(outcome.deliveries == [])
        #expect(outcome.repeats.map(\.allowed) == [false])
    }

    @Test func aGapIsReportedAndTheResumeStillEndsWithItsHistory() {
        var resume = RoomResume(room: room)
        _ = resume.received(.message(message(5)))
        _ = resume.rejoined(welcome(), resumed: true)
        let gap = resume.received(.gap(Gap(room: room, after: 5, next: 40)))
        #expect(gap.gap == Gap(room: room, after: 5, next: 40))
        #expect(!gap.finished)
        let done = resume.received(page(after: 5, [40], more: false))
        #expect(done.finished)
        #expect(done.deliveries.map(\.message.seq) == [40])
    }

    @Test func aRejoinWithoutAPositionTakesTheWelcomesHistoryAndEndsAtOnce() {
        var resume = RoomResume(room: room)
        #expect(resume.resumeRequest == [:])
        let outcome = resume.rejoined(welcome(history: ["r": [message(3), message(4)]]), resumed: false)
        #expect(outcome.finished)
        #expect(outcome.deliveries.map(\.message.seq) == [3, 4])
        #expect(outcome.deliveries.map(\.recovered) == [true, true])
    }

    @Test func framesOfOtherRoomsChangeNothing() {
        var resume = RoomResume(room: room)
        #expect(resume.received(.message(message(5, room: "other"))) == RoomResume.Outcome())
        #expect(resume.received(.gap(Gap(room: "other", after: 1, next: 2))) == RoomResume.Outcome())
        #expect(resume.resumeRequest == [:])
    }
}

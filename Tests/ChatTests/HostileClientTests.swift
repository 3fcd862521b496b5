import ServerTestSupport
import SockJSWire
import Testing

@testable import Chat

/// The surfaces of issue 16 and the refused-ack rule, attacked as a hostile client would
/// (Specs/bounds.md, "refused acks" and "`history`'s `after` and a join's `resume`"): every
/// attack gets a clear error or a correct empty answer, is bounded, and costs no one else.
@Suite("A hostile client against resume, history and refused acks", .serialized, .timeLimit(.minutes(3)))
struct HostileClientTests {
    /// A client that answers each redelivery of its unacked private messages with another ack
    /// refused for rate (and a few more refused ones on top) makes the node release its inbox
    /// and deliver the whole window again at most once per `refusedAckInterval` (1 s), not once
    /// per refused ack; meanwhile another user's private messages go on, and once the client
    /// acks, every sender gets its receipt.
    @Test(arguments: BackendKind.allCases)
    func aFloodOfRefusedAcksRedeliversTheUnackedWindowAtMostOncePerInterval(_ kind: BackendKind) async throws {
        // A rate that only the injected clock refills: after its burst every frame of a session
        // is refused, and 4003 comes only after 50 refusals in a row.
        var limits = ChatLimits()
        limits.ratePerSecond = 1
        limits.burst = 12
        try await withCluster(kind, limits: limits) { cluster in
            cluster.uses("alice", "bob", "carol")
            let clock = ManualChatClock()
            try await cluster.start("a", clock: clock)
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            let bob = cluster.client(on: "a")
            try await bob.join("bob")
            let carol = cluster.client(on: "a")
            try await carol.join("carol")

            let count = 10
            for n in 0..<count { alice.send(.tell(TellRequest(id: "t\(n)", to: "bob", text: "private \(n)"))) }
            var sent: [String] = []
            for n in 0..<count { sent.append(try await alice.sent("t\(n)").msgId) }
            let ids = Set(sent)
            let copies = { bob.messages.filter { ids.contains($0.msgId) }.count }
            try await eventually("bob to get the \(count) messages") { copies() >= count }
            // Bob spends the rest of his burst (1 went on the join) on acks of nothing.
            for _ in 0..<(Int(limits.burst) - 1) { bob.send(.ack(AckRequest(msgIds: ["not-one-of-mine"]))) }

            let rounds = 5
            let perRound = 5
            let start = ContinuousClock.now
            for round in 1...rounds {
                // Refused for rate, each of them (the clock does not move).
                for _ in 0..<perRound { bob.send(.ack(AckRequest(msgIds: sent))) }
                try await eventually("redelivery \(round)", timeout: .seconds(30)) { copies() >= count * (round + 1) }
                if round == 2 {
                    // Another user's private message is not held up by the flood.
                    carol.send(.tell(TellRequest(id: "c1", to: "alice", text: "from carol during the flood")))
                    try await alice.message("from carol during the flood")
                }
            }
            let elapsed = ContinuousClock.now - start
            let refused = bob.errors.filter { $0.code == .rateLimited }.count
            #expect(refused == rounds * perRound)
            #expect(bob.closeCode == nil)
            let redelivered = copies() - count
            let releases = 1 + Int(elapsed / .seconds(1))
            #expect(
                redelivered <= count * releases,
                "\(rounds * perRound) refused acks in \(elapsed) redelivered \(redelivered) messages; at most \(count) per second may come again")

            // Nothing is lost: once bob may send again, his ack of the copies sends every receipt.
            clock.advance(by: .seconds(60))
            bob.send(.ack(AckRequest(msgIds: sent)))
            try await eventually("alice to get every receipt") {
                Set(alice.received.compactMap { frame -> String? in if case .delivered(let d) = frame { d.msgId } else { nil } }) == ids
            }
        }
    }

    /// Resume positions and `history` bounds a client may not send are refused with a clear
    /// error and the session goes on; the extreme ones it may send get a correct, empty answer.
    @Test(arguments: BackendKind.allCases)
    func hostileResumePositionsAreRefusedOrAnsweredEmpty(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob")
            try await cluster.start("a")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            alice.send(.say(SayRequest(id: "s1", text: "the one message")))
            let said = try await alice.message("the one message")
            let seq = try #require(said.seq)

            let bob = cluster.client(on: "a")
            // 10,000 resumed rooms do not fit in a frame: measured, never decoded. 6,000 do: decoded
            // (bounded by the 64 KiB frame) and refused by count.
            for (rooms, code) in [(10_000, ChatErrorCode.tooLarge), (6_000, .badRequest)] {
                let many = (0..<rooms).map { #""\#($0)":1"# }.joined(separator: ",")
                bob.sendRaw(#"{"type":"join","nick":"bob","resume":{"rooms":{"# + many + "}}}")
                let error = try await bob.anyError()
                #expect(error.code == code, "\(rooms) rooms: \(error.code) \(error.message)")
            }
            let refusedJoins: [(String, ChatErrorCode)] = [
                (#"{"type":"join","nick":"bob","resume":{"rooms":{"lobby":-1}}}"#, .badRequest),
                (#"{"type":"join","nick":"bob","resume":{"rooms":{"lobby":1.5}}}"#, .badRequest),
                (#"{"type":"join","nick":"bob","resume":{"rooms":{"lobby":"12"}}}"#, .badRequest),
                (#"{"type":"join","nick":"bob","resume":{"rooms":{"lobby":null}}}"#, .badRequest),
                (#"{"type":"join","nick":"bob","resume":{"rooms":{"lobby":1e30}}}"#, .badRequest),
                (#"{"type":"join","nick":"bob","resume":{"rooms":{"lobby":9223372036854775808}}}"#, .badRequest),
                (#"{"type":"join","nick":"bob","resume":{"rooms":{"lobby":18446744073709551615}}}"#, .badRequest),
                (#"{"type":"join","nick":"bob","resume":{"rooms":{"lobby":-9223372036854775808}}}"#, .badRequest),
                (#"{"type":"join","nick":"bob","resume":{"rooms":["lobby"]}}"#, .badRequest),
                (#"{"type":"join","nick":"bob","resume":{"rooms":{"dev":1}}}"#, .badRequest),
                (#"{"type":"join","nick":"bob","rooms":["lobby"],"resume":{"rooms":{"no room!":1}}}"#, .invalidRoom),
                (#"{"type":"join","nick":"bob","rooms":["lobby"],"resume":{"rooms":{"":1}}}"#, .invalidRoom),
            ]
            for (frame, code) in refusedJoins {
                bob.sendRaw(frame)
                let error = try await bob.anyError()
                #expect(error.code == code, "\(frame): \(error.code) \(error.message)")
                #expect(!error.message.isEmpty)
            }
            // Int64.max is a position a client may send: past everything, an empty answer, no gap.
            bob.sendRaw(#"{"type":"join","nick":"bob","resume":{"rooms":{"lobby":9223372036854775807}}}"#)
            let welcome = try await bob.welcome()
            #expect(welcome.history["lobby"] == nil)
            let resumed = try await ResumeTests.history(bob, after: .max)
            #expect(resumed.messages.isEmpty)
            #expect(!resumed.more)

            let refusedHistory = [
                #"{"type":"history","room":"lobby","after":-1}"#, #"{"type":"history","room":"lobby","after":-9223372036854775808}"#,
                #"{"type":"history","room":"lobby","after":9223372036854775808}"#, #"{"type":"history","room":"lobby","after":1e19}"#,
                #"{"type":"history","room":"lobby","after":0.5}"#, #"{"type":"history","room":"lobby","after":"0"}"#,
                #"{"type":"history","room":"lobby","after":0,"before":5}"#, #"{"type":"history","room":"lobby","limit":0}"#,
                #"{"type":"history","room":"lobby","limit":101}"#, #"{"type":"history","room":"lobby","limit":9223372036854775807}"#,
                #"{"type":"history","room":"lobby","after":0,"limit":-1}"#, #"{"type":"history","room":"lobby","limit":1e400}"#,
            ]
            for frame in refusedHistory {
                bob.sendRaw(frame)
                let error = try await bob.anyError()
                #expect(error.code == .badRequest, "\(frame): \(error.code) \(error.message)")
            }
            // The extremes a client may send: empty answers, or exactly the one message.
            let extremes: [(Int64, Int)] = [(.max, 0), (seq, 0), (seq + 1_000_000, 0), (max(0, seq - 1), seq > 0 ? 1 : 0), (0, seq > 0 ? 1 : 0)]
            for (after, expected) in extremes {
                bob.send(.history(HistoryRequest(room: "lobby", after: after, limit: 100)))
                let page = try await ResumeTests.history(bob, after: after)
                #expect(page.messages.count == expected, "after \(after)")
                #expect(!page.more)
            }
            bob.send(.history(HistoryRequest(room: "lobby", before: .min, limit: 100)))
            let none = try await bob.next("history before Int64.min") { frame -> History? in
                if case .history(let history) = frame, history.after == nil { history } else { nil }
            }
            #expect(none.messages.isEmpty)
            #expect(!none.more)
            // Nothing the node read lies before where it began reading: no gap, even from 0.
            #expect(!bob.received.contains { if case .gap = $0 { true } else { false } })
            // The session goes on: bob still talks to alice.
            bob.send(.say(SayRequest(id: "b1", text: "still here")))
            try await alice.message("still here")
            #expect(bob.closeCode == nil)
        }
    }

    /// The SockJS session's outbound cap (`SockJSOptions.maxQueuedBytes`): one frame over it
    /// closes the session with 4002, and so do several queued for a client that does not read.
    static let outboundCap = 1 << 20

    /// A frame's bytes in a SockJS frame, as the script transports escape it (the most of any
    /// transport: `<`, `>` and `&` as `\u003c`...).
    static func wireBytes(_ frame: String) -> Int {
        Array(frame.utf8).withUnsafeBufferPointer { SockJSJSON.quotedCount(utf8: $0, forScript: true) }
    }

    /// A user who fills a room with messages of the characters that escaping grows most (`"` is
    /// 4 bytes in a SockJS frame, `<` 6, U+2028 7) used to make every welcome, resume and
    /// `history` of that room over 1 MiB on the wire while its byte budget (384 KiB, 256 KiB)
    /// counted each character as 1 to 3: every client joining the room was closed with 4002
    /// "too slow", again on every reconnect. The budgets now count each message as its worst
    /// case on the wire (``RoomHistory/wireCost(of:)``), so each answer, and a resume's frames
    /// together, stay under the cap.
    @Test(arguments: BackendKind.allCases)
    func escapeHeavyMessagesKeepEveryAnswerOfTheirRoomUnderTheOutboundCap(_ kind: BackendKind) async throws {
        try await withCluster(kind, limits: ResumeTests.limits()) { cluster in
            cluster.uses("alice", "bob", "carol")
            try await cluster.start("a")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            let first = try await ResumeTests.say(alice, 1, prefix: "start")
            let start = try #require(first.last?.seq)
            let kinds = [String(repeating: "\"", count: 4000), String(repeating: "<", count: 4000), String(repeating: "\u{2028}", count: 4000)]
            for n in 0..<99 { alice.send(.say(SayRequest(id: "e\(n)", text: kinds[n % kinds.count]))) }
            try await alice.sent("e98")

            let bob = cluster.client(on: "a")
            try await bob.join("bob")
            let welcome = try #require(bob.outlet.frames.first { $0.contains(#""type":"welcome""#) })
            #expect(Self.wireBytes(welcome) < Self.outboundCap, "welcome: \(Self.wireBytes(welcome)) bytes")
            bob.send(.history(HistoryRequest(room: "lobby", limit: 100)))
            _ = try await bob.next("history") { frame -> History? in if case .history(let h) = frame, h.after == nil { h } else { nil } }
            bob.send(.history(HistoryRequest(room: "lobby", after: start, limit: 100)))
            _ = try await ResumeTests.history(bob, after: start)
            bob.send(.leave(RoomRequest(room: "lobby")))
            bob.send(.enter(RoomRequest(room: "lobby")))
            _ = try await bob.next("entered") { frame -> Entered? in if case .entered(let e) = frame { e } else { nil } }
            for frame in bob.outlet.frames where frame.contains(#""type":"history""#) || frame.contains(#""type":"entered""#) {
                #expect(Self.wireBytes(frame) < Self.outboundCap, "\(frame.prefix(40)): \(Self.wireBytes(frame)) bytes")
            }

            // A resume from the room's first message: its frames together stay under the cap.
            let carol = cluster.client(on: "a")
            carol.send(.join(JoinRequest(nick: "carol", resume: JoinResume(rooms: ["lobby": start]))))
            _ = try await carol.welcome()
            _ = try await ResumeTests.history(carol, after: start)
            let total = carol.outlet.frames.map(Self.wireBytes).reduce(0, +)
            #expect(total < Self.outboundCap, "a welcome and its resume: \(total) bytes")
        }
    }

    /// A resume of 50 rooms with one message of 4000 × U+2028 (28 KB on the wire) after the
    /// position in each: every room's page holds at least one message when one follows, so the
    /// resume used to send all of them at once, about 1.4 MB (computed; measured with 100 rooms:
    /// 2,423,201 bytes): over the outbound cap.
    /// The pages of one join now hold the welcome's budget together; the rooms past it get a
    /// page with no message and `more`, and a `history` with the same `after` brings each of
    /// their messages: every one once, none lost.
    @Test(arguments: BackendKind.allCases)
    func aResumeOfManyRoomsOfLargeMessagesStaysUnderTheOutboundCapAndLosesNothing(_ kind: BackendKind) async throws {
        try await withCluster(kind, limits: ResumeTests.limits()) { cluster in
            cluster.uses("alice", "carol")
            try await cluster.start("a")
            let rooms = (0..<50).map { "r\($0)" }
            let alice = cluster.client(on: "a")
            try await alice.join("alice", rooms: rooms)
            alice.send(.say(SayRequest(id: "start", room: "r0", text: "start")))
            let start = try #require(try await alice.message("start").seq)
            let text = String(repeating: "\u{2028}", count: 4000)
            for (n, room) in rooms.enumerated() { alice.send(.say(SayRequest(id: "e\(n)", room: room, text: text))) }
            try await alice.sent("e\(rooms.count - 1)")

            let carol = cluster.client(on: "a")
            let positions = Dictionary(uniqueKeysWithValues: rooms.map { ($0, start) })
            carol.send(.join(JoinRequest(nick: "carol", rooms: rooms, resume: JoinResume(rooms: positions))))
            _ = try await carol.welcome()
            let pages = { carol.received.compactMap { frame -> History? in if case .history(let h) = frame { h } else { nil } } }
            try await eventually("a resume page per room") { pages().count >= rooms.count }
            let total = carol.outlet.frames.map(Self.wireBytes).reduce(0, +)
            #expect(total < Self.outboundCap, "the welcome and its resume pages: \(total) bytes")
            let resumed = pages()
            #expect(Set(resumed.map(\.room)) == Set(rooms))
            let empty = resumed.filter { $0.messages.isEmpty }
            #expect(!empty.isEmpty)
            #expect(empty.allSatisfy { $0.more && $0.after == start })
            // Each room left empty pages on with the same `after` and gets its message.
            for page in empty { carol.send(.history(HistoryRequest(room: page.room, after: start, limit: 100))) }
            try await eventually("every room's message") { pages().count >= rooms.count + empty.count }
            let got = pages().flatMap(\.messages).filter { $0.text == text }
            #expect(got.count == rooms.count)
            #expect(Set(got.compactMap(\.room)) == Set(rooms))
            #expect(carol.closeCode == nil)
        }
    }

    /// A key named twice in a JSON object of a frame (`resume.rooms`, or the frame's own keys)
    /// never traps the decoder: the first one counts (`JSONDecoder`'s choice, measured), and the
    /// checks apply to it (a bad second value is not looked at, a bad first one is refused).
    @Test func aKeyNamedTwiceCountsOnceTheFirstTime() throws {
        let decoded = [
            #"{"type":"join","nick":"bob","resume":{"rooms":{"lobby":5,"lobby":7}}}"#,
            #"{"type":"join","nick":"bob","resume":{"rooms":{"lobby":5,"lobby":-7}}}"#,
            #"{"type":"join","nick":"bob","resume":{"rooms":{"lobby":5},"rooms":{"lobby":7}}}"#,
            #"{"type":"join","type":"ack","nick":"bob","nick":"no nick!","resume":{"rooms":{"lobby":5}}}"#,
        ]
        for text in decoded {
            let frame = try ChatFrameCodec.decodeClientFrame(text, limits: ClientFrameLimits())
            #expect(frame == .join(JoinRequest(nick: "bob", resume: JoinResume(rooms: ["lobby": 5]))), "\(text)")
        }
        #expect(throws: ChatProtocolError.self) {
            try ChatFrameCodec.decodeClientFrame(#"{"type":"join","nick":"bob","resume":{"rooms":{"lobby":-5,"lobby":7}}}"#, limits: ClientFrameLimits())
        }
    }
}

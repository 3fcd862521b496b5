import Broker
import Foundation
import ServerTestSupport
import Testing

@testable import Chat

/// Issue 13, point 4: no one client exhausts what everyone shares (Specs/bounds.md).
@Suite("Bounds on what clients share", .timeLimit(.minutes(3)))
struct BoundsTests {
    static func delivered(_ client: TestClient) async throws -> Delivered {
        try await client.next("delivered") { frame -> Delivered? in if case .delivered(let d) = frame { d } else { nil } }
    }

    static func acked(_ client: TestClient, _ texts: [String]) async throws {
        var ids: [String] = []
        for text in texts { ids.append(try await client.message(text).msgId) }
        client.send(.ack(AckRequest(msgIds: ids)))
    }

    /// Over the cap a `tell` is `inbox_full` and not stored; what was accepted all arrives; once
    /// the addressee read their queue the same `id` goes through. A receipt to a full inbox
    /// waits: its message comes again on the addressee's next join, and the receipt then.
    @Test(arguments: BackendKind.allCases)
    func aTellOverTheInboxCapIsInboxFullAndNothingIsLost(_ kind: BackendKind) async throws {
        var limits = ChatLimits()
        limits.inboxMaxMessages = 3
        try await withCluster(kind, limits: limits) { cluster in
            cluster.uses("alice", "bob", "carol")
            try await cluster.start("a")
            let bob = cluster.client(on: "a")
            let bobWelcome = try await bob.join("bob")
            let alice = cluster.client(on: "a")
            let aliceWelcome = try await alice.join("alice")
            let carol = cluster.client(on: "a")
            try await carol.join("carol")

            // Bob goes away; alice fills his queue.
            bob.session.disconnected()
            for index in 1...3 {
                alice.send(.tell(TellRequest(id: "t\(index)", to: "bob", text: "note \(index)")))
                try await alice.sent("t\(index)")
            }
            alice.send(.tell(TellRequest(id: "t4", to: "bob", text: "note 4")))
            let full = try await alice.error(.inboxFull)
            #expect(full.id == "t4")
            #expect(full.message.contains("bob"))
            // inbox_full holds nothing back: a tell to someone else goes through at once.
            alice.send(.tell(TellRequest(id: "c1", to: "carol", text: "for carol")))
            try await alice.sent("c1")

            // Alice's own queue fills while she is away: bob's receipts to her must wait.
            alice.session.disconnected()
            for index in 1...3 {
                carol.send(.tell(TellRequest(id: "a\(index)", to: "alice", text: "to alice \(index)")))
                try await carol.sent("a\(index)")
            }
            let bobAgain = cluster.client(on: "a")
            try await bobAgain.join("bob", token: bobWelcome.token)
            try await Self.acked(bobAgain, ["note 1", "note 2", "note 3"])
            // The acks' receipts could not be stored: no error for bob, the messages stay his.
            // (A barrier: a session's frames run in order, so the answer to `history` comes
            // once the ack was handled.)
            bobAgain.send(.history(HistoryRequest(room: "lobby")))
            try await bobAgain.next("history") { frame -> Bool? in if case .history = frame { true } else { nil } }
            #expect(!bobAgain.received.contains { if case .error = $0 { true } else { false } })

            // The retry of t4 now fits (bob's three are delivered, unacked: not counted).
            alice.session.disconnected()
            let aliceBack = cluster.client(on: "a")
            try await aliceBack.join("alice", token: aliceWelcome.token)
            try await Self.acked(aliceBack, ["to alice 1", "to alice 2", "to alice 3"])
            aliceBack.send(.tell(TellRequest(id: "t4", to: "bob", text: "note 4")))
            try await aliceBack.sent("t4")
            try await bobAgain.message("note 4")

            // Bob's next join brings the three again; their acks now publish the receipts.
            bobAgain.session.disconnected()
            let bobThird = cluster.client(on: "a")
            try await bobThird.join("bob", token: bobWelcome.token)
            try await Self.acked(bobThird, ["note 1", "note 2", "note 3", "note 4"])
            var receipts: Set<String> = []
            while receipts.count < 4 { receipts.insert(try await Self.delivered(aliceBack).msgId) }
        }
    }

    /// A user queue declared before the caps (no arguments) still works: the node declares it
    /// passively instead of failing the join, and private messages flow.
    @Test(arguments: BackendKind.allCases)
    func aLegacyInboxDeclaredWithoutCapsStillWorks(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("legacy", "alice")
            let channel = try await cluster.testBroker.channel("old-node")
            try await channel.declareQueue(cluster.topology.userQueue("legacy"), options: cluster.topology.userQueueOptions)
            try await cluster.start("a")
            let legacy = cluster.client(on: "a")
            let welcome = try await legacy.join("legacy")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            alice.send(.tell(TellRequest(id: "l1", to: "legacy", text: "still works")))
            try await alice.sent("l1")
            try await legacy.message("still works")
            // A second join declares it passively at once.
            legacy.session.disconnected()
            let again = cluster.client(on: "a")
            try await again.join("legacy", token: welcome.token)
            try await again.message("still works")
        }
    }

    /// 100,000 claimed nicks: a newcomer's welcome lists the online ones and the most recently
    /// seen, at most `welcomeRoster`, and stays under 64 KiB.
    @Test func aNewcomersWelcomeStaysSmallWithAHundredThousandClaimedNicks() async throws {
        let cluster = try ChatCluster(.inMemory, simulatorStreamBytes: 256 << 20)
        do {
            let channel = try await cluster.testBroker.channel("filler")
            try await channel.declareQueue(
                cluster.topology.claimsStream,
                options: QueueOptions(durable: true, arguments: ChatTopology.claimsStreamArguments))
            let count = 100_000
            var made = 0
            while made < count {
                let batch = (made..<min(count, made + 1000)).map { index in
                    let record = BrokerRecord(kind: .claim, nick: "user\(index)", marker: "old/\(index)")
                    return PublishRequest(
                        message: OutgoingMessage(body: record.body, properties: MessageProperties(persistent: true, type: "claim")),
                        exchange: "", routingKey: cluster.topology.claimsStream)
                }
                _ = try await channel.publishBatch(batch)
                made += batch.count
            }
            try await cluster.start("a")
            // The node reads 100,000 claim records before its first welcome, and answers joins
            // `unavailable` meanwhile (after its catch-up wait): retry as a client does.
            let early = cluster.client(on: "a")
            try await early.joinRetryingWhileUnavailable("early", timeout: .seconds(120))
            let newcomer = cluster.client(on: "a")
            let welcome = try await newcomer.join("newcomer")
            let text = try #require(newcomer.outlet.frames.first)
            print("BoundsTests: welcome with \(count) claimed nicks: \(text.utf8.count) bytes")
            #expect(text.utf8.count < 64 * 1024)
            #expect(welcome.users.count <= ChatLimits().welcomeRoster + 1)
            #expect(welcome.users.contains { $0.nick == "early" })
            #expect(welcome.users.contains { $0.nick == "newcomer" && $0.online })
            // The most recently claimed come first among the offline ones.
            #expect(welcome.users.contains { $0.nick == "user99999" })
            #expect(!welcome.users.contains { $0.nick == "user0" })
            newcomer.send(.users(UsersRequest(prefix: "user0")))
            let found = try await newcomer.next("users") { frame -> UsersList? in if case .users(let u) = frame { u } else { nil } }
            #expect(found.users.map(\.nick) == ["user0"])
            #expect(!found.more)
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    /// A room full of the largest messages never makes a welcome, `entered` or `history`
    /// answer larger than the session's outbound cap: each is cut to its byte budget (newest
    /// first), the session stays open, and `before` pages through the rest.
    @Test func historyAnswersOfLargeMessagesStayWithinTheirByteBudget() async throws {
        try await withCluster(.inMemory) { cluster in
            try await cluster.start("a")
            let alice = cluster.client(on: "a")
            _ = try await alice.join("alice")
            let big = String(repeating: "\u{1F407}", count: 4000)  // 4000 scalars, 16,000 bytes
            for n in 1...40 {  // within the rate limiter's burst of 50
                alice.send(.say(SayRequest(id: "b\(n)", text: big)))
                _ = try await alice.sent("b\(n)")
            }
            let limits = ChatLimits()
            let bob = cluster.client(on: "a")
            let welcome = try await bob.join("bob")
            let kept = try #require(welcome.history["lobby"])
            #expect(!kept.isEmpty && kept.count < 40)
            #expect(kept.map { RoomHistory.cost(of: $0) }.reduce(0, +) <= limits.welcomeHistoryBytes)
            #expect(try #require(bob.outlet.frames.first).utf8.count < 1024 * 1024)
            bob.send(.history(HistoryRequest(room: "lobby", before: kept.first?.seq, limit: 100)))
            let older = try await bob.next("history") { frame -> History? in if case .history(let h) = frame { h } else { nil } }
            #expect(!older.messages.isEmpty)
            #expect(older.messages.map { RoomHistory.cost(of: $0) }.reduce(0, +) <= limits.historyBytesPerReply)
            #expect(older.messages.last.flatMap(\.seq).map { $0 < (kept.first?.seq ?? 0) } == true)
            // Paging on while `more` holds reaches every one of the 40 messages, the last answer
            // saying there are no more.
            var seen = kept + older.messages
            var last = older
            var pages = 0
            while last.more, pages < 10 {
                pages += 1
                bob.send(.history(HistoryRequest(room: "lobby", before: seen.compactMap(\.seq).min(), limit: 100)))
                last = try await bob.next("history") { frame -> History? in if case .history(let h) = frame { h } else { nil } }
                seen.append(contentsOf: last.messages)
            }
            #expect(!last.more)
            #expect(Set(seen.map(\.msgId)).count == 40)
            #expect(bob.outlet.closeCode == nil)
        }
    }

    /// An answer cut by its byte budget says `more` (a welcome by `moreHistory`, `entered` and
    /// `history` by `more`), so a client does not take a short answer for the room's beginning;
    /// paging on while it holds reaches the oldest kept message, and then `more` is false.
    @Test func anAnswerCutByBytesSaysThereIsMoreUntilTheBeginning() async throws {
        let text = String(repeating: "x", count: 1000)
        let one = RoomHistory.cost(
            of: ChatMessage(msgId: String(repeating: "0", count: 32), from: "alice", room: "lobby", text: text, ts: 1_700_000_000_000, seq: 1_000_000))
        var limits = ChatLimits()
        limits.welcomeHistoryBytes = 2 * one
        limits.historyBytesPerReply = 3 * one
        try await withCluster(.inMemory, limits: limits) { cluster in
            try await cluster.start("a")
            let alice = cluster.client(on: "a")
            _ = try await alice.join("alice")
            for n in 1...10 {
                alice.send(.say(SayRequest(id: "t\(n)", text: text)))
                _ = try await alice.sent("t\(n)")
            }
            let bob = cluster.client(on: "a")
            let welcome = try await bob.join("bob")
            let first = try #require(welcome.history["lobby"])
            #expect(first.count == 2)
            #expect(welcome.moreHistory == ["lobby"])
            // A room with nothing older: no `moreHistory`; entering the lobby then: `more`.
            let carol = cluster.client(on: "a")
            let quiet = try await carol.join("carol", rooms: ["quiet"])
            #expect(quiet.moreHistory.isEmpty)
            carol.send(.enter(RoomRequest(room: "lobby")))
            let entered = try await carol.next("entered") { frame -> Entered? in if case .entered(let e) = frame { e } else { nil } }
            #expect(entered.history.count == 3 && entered.more)
            var seen = first
            var answers: [History] = []
            while answers.last?.more ?? true, answers.count < 10 {
                bob.send(.history(HistoryRequest(room: "lobby", before: seen.compactMap(\.seq).min(), limit: 100)))
                let answer = try await bob.next("history") { frame -> History? in if case .history(let h) = frame { h } else { nil } }
                answers.append(answer)
                seen.append(contentsOf: answer.messages)
            }
            #expect(answers.map(\.messages.count) == [3, 3, 2])
            #expect(answers.map(\.more) == [true, true, false])
            #expect(Set(seen.map(\.msgId)).count == 10)
        }
    }

    /// `users` finds nicks the bounded welcome does not list, by prefix, sorted, with `more`.
    @Test func usersFindsNicksTheWelcomeDoesNotList() async throws {
        var limits = ChatLimits()
        limits.welcomeRoster = 4
        try await withCluster(.inMemory, limits: limits) { cluster in
            try await cluster.start("a")
            let watcher = cluster.client(on: "a")
            try await watcher.join("watcher")
            for nick in ["amy", "anna", "ann", "bert", "carl"] {
                let client = cluster.client(on: "a")
                try await client.join(nick)
                client.session.disconnected()
            }
            // The welcome's roster is the one of the last `presence` frame: wait for it.
            try await watcher.next("carl offline") { frame -> Bool? in
                if case .presence(let p) = frame, p.offline.contains("carl") { true } else { nil }
            }
            let newcomer = cluster.client(on: "a")
            let welcome = try await newcomer.join("zoe")
            // Online first (watcher, zoe), then the most recently seen (carl, then bert).
            #expect(welcome.users.map(\.nick) == ["bert", "carl", "watcher", "zoe"])
            newcomer.send(.users(UsersRequest(prefix: "an", limit: 1)))
            let first = try await newcomer.next("users") { frame -> UsersList? in if case .users(let u) = frame { u } else { nil } }
            #expect(first == UsersList(prefix: "an", users: [UserStatus(nick: "ann", online: false)], more: true))
            newcomer.send(.users(UsersRequest(prefix: "an")))
            let all = try await newcomer.next("users") { frame -> UsersList? in if case .users(let u) = frame { u } else { nil } }
            #expect(all.users.map(\.nick) == ["ann", "anna"])
            #expect(!all.more)
            newcomer.send(.users(UsersRequest()))
            let everyone = try await newcomer.next("users") { frame -> UsersList? in if case .users(let u) = frame { u } else { nil } }
            #expect(everyone.users.map(\.nick) == ["amy", "ann", "anna", "bert", "carl", "watcher", "zoe"])
        }
    }

    @Test func enteringMoreRoomsThanTheCapIsTooManyRooms() async throws {
        var limits = ChatLimits()
        limits.roomsPerSession = 2
        try await withCluster(.inMemory, limits: limits) { cluster in
            try await cluster.start("a")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            alice.send(.enter(RoomRequest(room: "dev")))
            try await alice.next("entered dev") { frame -> Bool? in if case .entered(let e) = frame, e.room == "dev" { true } else { nil } }
            alice.send(.enter(RoomRequest(room: "ops")))
            let refused = try await alice.error(.tooManyRooms)
            #expect(refused.message.contains("leave"))
            // Entering a room it is in already is fine; after a leave there is room again.
            alice.send(.enter(RoomRequest(room: "dev")))
            try await alice.next("entered dev again") { frame -> Bool? in if case .entered(let e) = frame, e.room == "dev" { true } else { nil } }
            alice.send(.leave(RoomRequest(room: "lobby")))
            alice.send(.enter(RoomRequest(room: "ops")))
            try await alice.next("entered ops") { frame -> Bool? in if case .entered(let e) = frame, e.room == "ops" { true } else { nil } }
        }
    }

    /// Typing beyond its own rate (2/s, bursts of 5) is dropped without an error; what is
    /// dropped never reaches anyone.
    @Test func typingOverItsRateIsDroppedSilently() async throws {
        try await withCluster(.inMemory) { cluster in
            // The node's clock stands still unless the test moves it: no token comes back
            // while the 30 are handled.
            let clock = ManualChatClock()
            try await cluster.start("a", clock: clock)
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            let bob = cluster.client(on: "a")
            try await bob.join("bob")
            for _ in 0..<30 { alice.send(.typing(TypingRequest(room: "lobby"))) }
            // Alice's frames run in order: once `history` is answered, every typing was handled.
            alice.send(.history(HistoryRequest(room: "lobby")))
            try await alice.next("history") { frame -> Bool? in if case .history = frame { true } else { nil } }
            // A barrier through the same path (node queue, in order): a typing to bob once a
            // token has come back (0.5 s at 2/s on the node's clock).
            clock.advance(by: .milliseconds(600))
            alice.send(.typing(TypingRequest(to: "bob")))
            try await bob.next("typing to bob") { frame -> Bool? in if case .typing(let t) = frame, t.to == "bob" { true } else { nil } }
            let inRoom = bob.received.filter { if case .typing(let t) = $0, t.room == "lobby" { true } else { false } }.count
            // The burst of 5, and nothing more.
            #expect(inRoom == 5, "bob got \(inRoom) of 30 typing frames")
            #expect(!alice.received.contains { if case .error = $0 { true } else { false } })
        }
    }

    /// A connection that does not join within the join timeout is closed with 4004; one that
    /// joined stays.
    @Test func aSessionThatDoesNotJoinIsClosed() async throws {
        try await withCluster(.inMemory) { cluster in
            try await cluster.start("a", joinTimeout: .milliseconds(300))
            let joined = cluster.client(on: "a")
            let idle = cluster.client(on: "a")
            try await joined.join("alice")
            try await eventually("the idle session to be closed") { idle.closeCode != nil }
            #expect(idle.closeCode == ChatCloseCode.joinTimeout)
            // The joined session's timer fired first (it was attached first).
            #expect(joined.closeCode == nil)
            joined.send(.say(SayRequest(id: "s1", text: "still here")))
            try await joined.sent("s1")
        }
    }

    /// A frame refused for rate is only scanned for its `type` and `id`, never decoded.
    @Test func theIdProbeFindsTheIdWithoutDecoding() {
        #expect(FrameIdProbe.probe(#"{"type":"say","id":"c1","text":"hi"}"#) == .id("c1"))
        #expect(FrameIdProbe.probe(#"{"text":"\"id\":\"x\"","id" : "c2","type":"tell","to":"bob"}"#) == .id("c2"))
        #expect(FrameIdProbe.probe(#"{"type":"say","nested":{"id":"inner"},"text":"x"}"#) == .none)
        #expect(FrameIdProbe.probe(#"{"type":"enter","id":"c3","room":"dev"}"#) == .none)
        #expect(FrameIdProbe.probe(#"{"msgIds":["a","b"],"type":"ack"}"#) == .ack)
        #expect(FrameIdProbe.probe(#"{"type":"say","text":"{\"type\":\"ack\"}","id":"c4"}"#) == .id("c4"))
        #expect(FrameIdProbe.probe(#"{"type":"say","id":7}"#) == .none)
        #expect(FrameIdProbe.probe(#"{"type":"say","id":"c\u0031"}"#) == .undecided)
        #expect(FrameIdProbe.probe("not json") == .none)
        #expect(FrameIdProbe.probe(#"{"type":"say","id":""#) == .none)
        let huge = #"{"type":"say","id":"big","text":""# + String(repeating: "a", count: 60_000) + #""}"#
        #expect(FrameIdProbe.probe(huge) == .id("big"))
    }
}

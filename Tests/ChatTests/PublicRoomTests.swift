import Chat
import ServerTestSupport
import Testing

/// Public rooms across nodes: delivery to all and only the room's members, one `seq` for
/// everyone, per-sender order, `sent` after confirm, dedup of retries.
@Suite("Public rooms on several nodes", .timeLimit(.minutes(5)))
struct PublicRoomTests {
    @Test(arguments: BackendKind.allCases)
    func publicMessageReachesEveryMemberOfTheRoomOnEveryNodeAndNobodyElse(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob", "carol", "dave")
            for node in ["a", "b", "c"] { try await cluster.start(node) }
            let alice = cluster.client(on: "a")
            let bob = cluster.client(on: "b")
            let carol = cluster.client(on: "c")
            let dave = cluster.client(on: "c")
            try await alice.join("alice", rooms: ["lobby", "dev"])
            try await bob.join("bob", rooms: ["dev"])
            try await carol.join("carol", rooms: ["dev"])
            try await dave.join("dave", rooms: ["lobby"])

            alice.send(.say(SayRequest(id: "1", room: "dev", text: "hello dev")))
            let sent = try await alice.sent("1")
            let atAlice = try await alice.waitForMessage("hello dev")
            let atBob = try await bob.waitForMessage("hello dev")
            let atCarol = try await carol.waitForMessage("hello dev")
            for message in [atAlice, atBob, atCarol] {
                #expect(message.msgId == sent.msgId)
                #expect(message.from == "alice")
                #expect(message.room == "dev")
                #expect(message.to == nil)
                #expect(message.ts == sent.ts)
            }
            #expect(Set([atAlice.seq, atBob.seq, atCarol.seq]).count == 1)
            #expect(atAlice.seq != nil)

            alice.send(.say(SayRequest(id: "2", text: "hello lobby")))
            try await dave.message("hello lobby")
            try await alice.message("hello lobby")
            // Barriers: dave's node read "hello dev" before "hello lobby" (one stream, in
            // order); bob's and carol's read "hello lobby" before alice's marker in dev.
            try await alice.publicBarrier(in: "dev", reaching: [bob, carol])
            #expect(!dave.messages.contains { $0.text == "hello dev" })
            #expect(!bob.messages.contains { $0.text == "hello lobby" })
            #expect(!carol.messages.contains { $0.text == "hello lobby" })
        }
    }

    @Test(arguments: BackendKind.allCases)
    func messagesOfOneSenderArriveInOrderAtEveryRecipient(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob", "carol")
            for node in ["a", "b", "c"] { try await cluster.start(node) }
            let alice = cluster.client(on: "a")
            let bob = cluster.client(on: "b")
            let carol = cluster.client(on: "c")
            try await alice.join("alice")
            try await bob.join("bob")
            try await carol.join("carol")
            let count = 20
            for n in 0..<count {
                alice.send(.say(SayRequest(id: "p\(n)", text: "public \(n)")))
                alice.send(.tell(TellRequest(id: "t\(n)", to: "bob", text: "private \(n)")))
            }
            try await bob.waitForMessage("public \(count - 1)")
            try await carol.waitForMessage("public \(count - 1)")
            try await bob.waitForMessage("private \(count - 1)")
            try await alice.waitForMessage("public \(count - 1)")
            let expectedPublic = (0..<count).map { "public \($0)" }
            for client in [bob, carol, alice] {
                let publics = client.messages.filter { $0.room != nil }
                #expect(publics.map(\.text) == expectedPublic)
                #expect(publics.map { $0.seq ?? -1 } == publics.map { $0.seq ?? -1 }.sorted())
            }
            #expect(bob.messages.filter { $0.to != nil }.map(\.text) == (0..<count).map { "private \($0)" })
        }
    }

    /// Point 2 of issue 15 (Specs/chat-protocol.md, "`sent` before the sender's own copy"):
    /// three senders, two of them on one node, say at once in one room; every sender gets the
    /// `sent` of each of its messages before the message itself, and still gets every message
    /// of the room once, in stream order.
    @Test(arguments: BackendKind.allCases)
    func theSenderGetsSentBeforeItsOwnMessage(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            let (alice, bob, carol) = try await cluster.aliceBobAndCarol(on: (alice: "a", bob: "a", carol: "b"))
            try await alice.join("alice")
            try await bob.join("bob")
            try await carol.join("carol")
            // Few messages: the suite runs this beside every other test, on three backends.
            let count = 5
            for n in 0..<count {
                for (client, nick) in [(alice, "alice"), (bob, "bob"), (carol, "carol")] {
                    client.send(.say(SayRequest(id: "\(nick)-\(n)", text: "\(nick) \(n)")))
                }
            }
            for (client, nick) in [(alice, "alice"), (bob, "bob"), (carol, "carol")] {
                for sender in ["alice", "bob", "carol"] { try await client.waitForMessage("\(sender) \(count - 1)") }
                _ = try await client.sent("\(nick)-\(count - 1)")
                let frames = client.received
                for n in 0..<count {
                    let id = "\(nick)-\(n)"
                    let sentAt = try #require(frames.firstIndex { if case .sent(let sent) = $0 { sent.id == id } else { false } })
                    guard case .sent(let sent) = frames[sentAt] else { continue }
                    let ownAt = try #require(frames.firstIndex { if case .message(let message) = $0 { message.msgId == sent.msgId } else { false } })
                    #expect(sentAt < ownAt, "\(nick): the sent of \(id) came after its own copy")
                }
                let publics = client.messages.filter { $0.room == "lobby" }
                #expect(publics.count == 3 * count)
                #expect(publics.map { $0.seq ?? -1 } == publics.map { $0.seq ?? -1 }.sorted())
            }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aRetriedIdGetsTheSameMsgIdAndIsNotPublishedAgain(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            let (alice, bob) = try await cluster.aliceOnAAndBobOnB()
            alice.send(.say(SayRequest(id: "same", text: "once")))
            alice.send(.say(SayRequest(id: "same", text: "once")))
            alice.send(.tell(TellRequest(id: "same-private", to: "bob", text: "private once")))
            alice.send(.tell(TellRequest(id: "same-private", to: "bob", text: "private once")))
            let first = try await alice.sent("same")
            let second = try await alice.sent("same")
            #expect(first == second)
            let firstPrivate = try await alice.sent("same-private")
            let secondPrivate = try await alice.sent("same-private")
            #expect(firstPrivate == secondPrivate)
            // Barriers: bob's node reads the stream in order, and his queue hands over in order.
            try await alice.publicBarrier(reaching: [bob])
            try await alice.privateBarrier(to: bob)
            #expect(bob.messages.filter { $0.text == "once" }.count == 1)
            #expect(bob.messages.filter { $0.text == "private once" }.count == 1)
            #expect(bob.messages.first { $0.text == "once" }?.msgId == first.msgId)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func welcomeCarriesRosterRoomsAndTheNewestHistoryOfEnteredRooms(_ kind: BackendKind) async throws {
        var limits = ChatLimits()
        limits.historyOnJoin = 5
        try await withCluster(kind, limits: limits) { cluster in
            cluster.uses("alice", "bob")
            try await cluster.start("a")
            try await cluster.start("b")
            let alice = cluster.client(on: "a")
            try await alice.join("alice", rooms: ["lobby", "dev"])
            for n in 0..<8 { alice.send(.say(SayRequest(id: "l\(n)", text: "lobby \(n)"))) }
            alice.send(.say(SayRequest(id: "d0", room: "dev", text: "dev 0")))
            try await alice.message("dev 0")
            let bob = cluster.client(on: "b")
            let welcome = try await bob.join("bob")
            #expect(welcome.nick == "bob")
            #expect(welcome.entered == ["lobby"])
            #expect(welcome.rooms == ["dev", "lobby"])
            #expect(welcome.users.map(\.nick) == ["alice", "bob"])
            #expect(welcome.users.last == UserStatus(nick: "bob", online: true))
            // The welcome's roster is what node b last told its sessions; when alice's coming
            // online had not reached them yet, the next presence frame says it.
            if welcome.users.first?.online != true {
                _ = try await bob.next("alice online") { frame -> Presence? in
                    if case .presence(let presence) = frame, presence.status(of: "alice") == true { presence } else { nil }
                }
            }
            #expect(welcome.history.keys.sorted() == ["lobby"])
            #expect(welcome.history["lobby"]?.map(\.text) == (3..<8).map { "lobby \($0)" })

            bob.send(.enter(RoomRequest(room: "dev")))
            let entered = try await bob.next("entered") { frame -> Entered? in
                if case .entered(let entered) = frame { entered } else { nil }
            }
            #expect(entered.history.map(\.text) == ["dev 0"])

            let seqs = welcome.history["lobby"]!.compactMap(\.seq)
            bob.send(.history(HistoryRequest(room: "lobby", before: seqs[2], limit: 10)))
            let older = try await bob.next("history") { frame -> History? in
                if case .history(let history) = frame { history } else { nil }
            }
            #expect(older.messages.map(\.text) == (0..<5).map { "lobby \($0)" })

            bob.send(.leave(RoomRequest(room: "dev")))
            try await bob.next("left") { frame -> Left? in if case .left(let left) = frame { left } else { nil } }
            alice.send(.say(SayRequest(id: "d1", room: "dev", text: "dev 1")))
            try await alice.message("dev 1")
            // A barrier: bob's node reads the stream in order.
            try await alice.publicBarrier(reaching: [bob])
            #expect(!bob.messages.contains { $0.text == "dev 1" })
        }
    }

    @Test(arguments: BackendKind.allCases)
    func historySurvivesARestartOfEveryNodeWithTheSameSeq(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob")
            try await cluster.start("a")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            var said: [ChatMessage] = []
            for n in 0..<3 {
                alice.send(.say(SayRequest(id: "\(n)", text: "kept \(n)")))
                said.append(try await alice.message("kept \(n)"))
            }
            await cluster.stop("a")
            try await cluster.start("a2")
            let bob = cluster.client(on: "a2")
            let welcome = try await bob.join("bob")
            #expect(welcome.history["lobby"] == said)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func typingReachesTheRoomsOtherMembersOrTheAddresseeOnly(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            let (alice, bob, carol) = try await cluster.aliceBobAndCarol(on: ("a", "b", "b"))
            try await alice.join("alice")
            try await bob.join("bob")
            try await carol.join("carol", rooms: ["elsewhere"])
            alice.send(.typing(TypingRequest(room: "lobby")))
            let typing = try await bob.next("typing") { frame -> Typing? in if case .typing(let t) = frame { t } else { nil } }
            #expect(typing == Typing(from: "alice", room: "lobby"))
            alice.send(.typing(TypingRequest(to: "carol")))
            let toCarol = try await carol.next("typing") { frame -> Typing? in if case .typing(let t) = frame { t } else { nil } }
            #expect(toCarol == Typing(from: "alice", to: "carol"))
            // Barriers: alice's typing frames have run (published) once a later frame of hers is
            // answered; then a typing through each node's queue, which hands over in order.
            try await alice.roundTrip()
            try await bob.typingBarrier(to: alice)
            try await carol.typingBarrier(to: bob)
            let fromAlice = { (client: TestClient) in client.received.filter { if case .typing(let t) = $0, t.from == "alice" { true } else { false } }.count }
            #expect(fromAlice(alice) == 0)
            #expect(fromAlice(carol) == 1)
            #expect(fromAlice(bob) == 1)
        }
    }
}

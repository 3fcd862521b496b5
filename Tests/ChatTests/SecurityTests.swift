import Chat
import ServerTestSupport
import Testing

/// No impersonation, no leak: `from` is stamped, nothing before `join`, no reading of another
/// user's private messages, no claimed nick without its token, no token learned by others.
@Suite("No impersonation, no leak", .timeLimit(.minutes(5)))
struct SecurityTests {
    @Test(arguments: BackendKind.allCases)
    func aClientCannotSetFrom(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("mallory", "alice", "bob")
            try await cluster.start("a")
            let mallory = cluster.client(on: "a")
            let bob = cluster.client(on: "a")
            try await mallory.join("mallory")
            try await bob.join("bob")
            mallory.sendRaw(#"{"type":"say","id":"1","text":"I am alice","from":"alice"}"#)
            mallory.sendRaw(#"{"type":"tell","id":"2","to":"bob","text":"alice here","from":"alice"}"#)
            #expect(try await bob.message("I am alice").from == "mallory")
            #expect(try await bob.message("alice here").from == "mallory")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func nothingButJoinIsAcceptedBeforeJoin(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("bob")
            try await cluster.start("a")
            let bob = cluster.client(on: "a")
            try await bob.join("bob")
            let stranger = cluster.client(on: "a")
            let frames: [ClientFrame] = [
                .say(SayRequest(id: "1", text: "hi")), .tell(TellRequest(id: "2", to: "bob", text: "hi")),
                .enter(RoomRequest(room: "dev")), .ack(AckRequest(msgIds: ["x"])), .typing(TypingRequest(room: "lobby")),
                .history(HistoryRequest(room: "lobby")), .leave(RoomRequest(room: "lobby")),
            ]
            for frame in frames { stranger.send(frame) }
            for _ in frames { try await stranger.error(.notJoined) }
            // Barriers through every path to bob: the stream, his queue, his node's queue.
            try await bob.publicBarrier(reaching: [bob])
            try await bob.privateBarrier(to: bob)
            let witness = try await cluster.joined("carol", on: "a")
            try await witness.typingBarrier(to: bob)
            #expect(bob.messagesButBarriers.isEmpty)
            #expect(!bob.received.contains { if case .typing(let t) = $0 { t.from != "carol" } else { false } })
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aClaimedNickNeedsItsTokenAndAWrongOneFails(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob")
            try await cluster.start("a")
            try await cluster.start("b")
            let alice = cluster.client(on: "a")
            let welcome = try await alice.join("alice")
            alice.send(.tell(TellRequest(id: "1", to: "alice", text: "my secret")))
            try await alice.sent("1")

            let thief = cluster.client(on: "b")
            thief.send(.join(JoinRequest(nick: "alice")))
            try await thief.error(.authFailed)
            let bobToken = try await cluster.client(on: "b").join("bob").token
            thief.send(.join(JoinRequest(nick: "alice", token: bobToken)))
            try await thief.error(.authFailed)
            thief.send(.join(JoinRequest(nick: "alice", token: String(welcome.token.reversed()))))
            try await thief.error(.authFailed)
            // A barrier: alice's queue hands over in order, so "my secret" went to whoever held
            // her inbox before her marker came to her.
            try await alice.privateBarrier(to: alice)
            #expect(!thief.outlet.frames.contains { $0.contains("my secret") || $0.contains(welcome.token) })
            #expect(alice.closeCode == nil)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func twoNodesRacingToClaimOneNickAgreeOnOneWinner(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("contested")
            try await cluster.start("a")
            try await cluster.start("b")
            let first = cluster.client(on: "a")
            let second = cluster.client(on: "b")
            first.send(.join(JoinRequest(nick: "contested")))
            second.send(.join(JoinRequest(nick: "contested")))
            let outcomes = try await [first, second].asyncMap { client in
                try await client.next("join outcome") { frame -> Bool? in
                    if case .welcome = frame { return true }
                    if case .error(let error) = frame, error.code == .authFailed { return false }
                    return nil
                }
            }
            #expect(outcomes.filter { $0 }.count == 1)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func onlyTheClaimantEverSeesAToken(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob")
            try await cluster.start("a")
            try await cluster.start("b")
            let bob = cluster.client(on: "b")
            try await bob.join("bob")
            let alice = cluster.client(on: "a")
            let token = try await alice.join("alice").token
            alice.send(.say(SayRequest(id: "1", text: "hi")))
            alice.send(.tell(TellRequest(id: "2", to: "bob", text: "hi bob")))
            alice.send(.typing(TypingRequest(to: "bob")))
            let message = try await bob.message("hi bob")
            bob.send(.ack(AckRequest(msgIds: [message.msgId])))
            try await alice.next("delivered") { frame -> Delivered? in if case .delivered(let d) = frame { d } else { nil } }
            #expect(!bob.outlet.frames.contains { $0.contains(token) })
            #expect(alice.outlet.frames.filter { $0.contains(token) }.count == 1)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func ackingAnotherUsersMsgIdReleasesNothing(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            let (alice, bob, carol) = try await cluster.aliceBobAndCarol(on: ("a", "a", "a"))
            try await alice.join("alice")
            let bobWelcome = try await bob.join("bob")
            try await carol.join("carol")
            alice.send(.tell(TellRequest(id: "1", to: "bob", text: "for bob")))
            let sent = try await alice.sent("1")
            try await bob.message("for bob")
            carol.send(.ack(AckRequest(msgIds: [sent.msgId])))
            // Carol's ack has run once a later frame of hers is answered; a receipt it made
            // would be in alice's queue before bob's marker.
            try await carol.roundTrip()
            try await bob.privateBarrier(to: alice)
            #expect(!alice.received.contains { if case .delivered = $0 { true } else { false } })
            bob.session.disconnected()
            let bobAgain = cluster.client(on: "a")
            try await bobAgain.join("bob", token: bobWelcome.token)
            #expect(try await bobAgain.message("for bob").msgId == sent.msgId)
        }
    }
}

extension Array where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}

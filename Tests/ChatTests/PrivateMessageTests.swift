import Chat
import ServerTestSupport
import Testing

/// Private messages through the users' durable queues: addressee only, online and offline,
/// across node restarts; `delivered` receipts, also to a sender who went offline.
@Suite("Private messages and receipts", .timeLimit(.minutes(5)))
struct PrivateMessageTests {
    @Test(arguments: BackendKind.allCases)
    func aPrivateMessageReachesTheAddresseeOnlyAndTheSenderGetsSentThenDelivered(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            let (alice, bob, carol) = try await cluster.aliceBobAndCarol(on: ("a", "b", "b"))
            try await alice.join("alice")
            try await bob.join("bob")
            try await carol.join("carol")
            alice.send(.tell(TellRequest(id: "p1", to: "bob", text: "for bob only")))
            let sent = try await alice.sent("p1")
            let message = try await bob.message("for bob only")
            #expect(message == ChatMessage(msgId: sent.msgId, from: "alice", to: "bob", text: "for bob only", ts: sent.ts))
            bob.send(.ack(AckRequest(msgIds: [message.msgId])))
            let delivered = try await alice.next("delivered") { frame -> Delivered? in
                if case .delivered(let delivered) = frame { delivered } else { nil }
            }
            #expect(delivered.msgId == sent.msgId)
            #expect(delivered.to == "bob")
            // Barriers: carol's and alice's queues hand over in order.
            try await alice.privateBarrier(to: carol)
            try await bob.privateBarrier(to: alice)
            #expect(!carol.outlet.frames.contains { $0.contains("for bob only") })
            #expect(!alice.messages.contains { $0.text == "for bob only" })
        }
    }

    @Test(arguments: BackendKind.allCases)
    func anOfflineAddresseeGetsTheMessageOnJoinAcrossANodeRestart(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob")
            try await cluster.start("a")
            try await cluster.start("b")
            let bobFirst = cluster.client(on: "b")
            let welcome = try await bobFirst.join("bob")
            bobFirst.session.disconnected()
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            alice.send(.tell(TellRequest(id: "w1", to: "bob", text: "while you were away")))
            let sent = try await alice.sent("w1")

            await cluster.stop("a")
            await cluster.stop("b")
            try await cluster.start("c")
            let bob = cluster.client(on: "c")
            try await bob.join("bob", token: welcome.token)
            let message = try await bob.message("while you were away")
            #expect(message.msgId == sent.msgId)
            #expect(message.from == "alice")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func anUnackedMessageComesAgainOnTheNextJoinWithTheSameMsgId(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob")
            try await cluster.start("a")
            try await cluster.start("b")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            let bob = cluster.client(on: "b")
            let welcome = try await bob.join("bob")
            alice.send(.tell(TellRequest(id: "u1", to: "bob", text: "ack me")))
            let first = try await bob.message("ack me")
            bob.session.disconnected()
            let again = cluster.client(on: "a")
            try await again.join("bob", token: welcome.token)
            let second = try await again.message("ack me")
            #expect(second.msgId == first.msgId)
            again.send(.ack(AckRequest(msgIds: [second.msgId])))
            try await alice.next("delivered") { frame -> Delivered? in if case .delivered(let d) = frame { d } else { nil } }
            again.session.disconnected()
            let third = cluster.client(on: "b")
            try await third.join("bob", token: welcome.token)
            // A barrier: bob's queue hands over in order, so a copy left there came first.
            try await alice.privateBarrier(to: third)
            #expect(!third.messages.contains { $0.text == "ack me" }, "\(third.outlet.frames) again: \(again.outlet.frames)")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func deliveredReachesASenderWhoWentOfflineWhenTheyComeBack(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob")
            try await cluster.start("a")
            try await cluster.start("b")
            let bobFirst = cluster.client(on: "b")
            let bobWelcome = try await bobFirst.join("bob")
            bobFirst.session.disconnected()
            let alice = cluster.client(on: "a")
            let aliceWelcome = try await alice.join("alice")
            alice.send(.tell(TellRequest(id: "r1", to: "bob", text: "tell me when you read it")))
            let sent = try await alice.sent("r1")
            alice.session.disconnected()

            let bob = cluster.client(on: "b")
            try await bob.join("bob", token: bobWelcome.token)
            let message = try await bob.message("tell me when you read it")
            bob.send(.ack(AckRequest(msgIds: [message.msgId])))
            // Bob's ack has run (its receipt published) once a later frame of his is answered.
            try await bob.roundTrip()

            let aliceBack = cluster.client(on: "b")
            try await aliceBack.join("alice", token: aliceWelcome.token)
            let delivered = try await aliceBack.next("delivered") { frame -> Delivered? in
                if case .delivered(let d) = frame { d } else { nil }
            }
            #expect(delivered.msgId == sent.msgId)
            #expect(delivered.to == "bob")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func tellToANickNeverClaimedIsUnknownUserAndToOneselfWorks(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "nobody")
            try await cluster.start("a")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            alice.send(.tell(TellRequest(id: "x", to: "nobody", text: "hello?")))
            let error = try await alice.error(.unknownUser)
            #expect(error.id == "x")
            alice.send(.tell(TellRequest(id: "self", to: "alice", text: "note to self")))
            let sent = try await alice.waitForMessage("note to self")
            #expect(sent.to == "alice")
            try await eventually("sent for the note to self") {
                alice.received.contains { if case .sent(let s) = $0 { s.id == "self" && s.msgId == sent.msgId } else { false } }
            }
        }
    }
}

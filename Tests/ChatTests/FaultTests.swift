import Chat
import ServerTestSupport
import Testing

/// The broker goes away and comes back: frames get `unavailable` (not silence), the node
/// reconnects by itself, and a retry with the same `id` gets the same `msgId`.
@Suite("Broker faults", .timeLimit(.minutes(5)))
struct FaultTests {
    @Test(arguments: BackendKind.allCases)
    func messagesAreUnavailableWhileTheBrokerIsDownAndARetryAfterRecoveryKeepsTheMsgId(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob")
            let nodeA = try await cluster.start("a")
            try await cluster.start("b")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            let bob = cluster.client(on: "b")
            let bobWelcome = try await bob.join("bob")

            await cluster.cutOff("a")
            try await eventually("node a to notice") { !nodeA.isBrokerConnected }
            alice.send(.say(SayRequest(id: "r1", text: "during the outage")))
            let refused = try await alice.error(.unavailable)
            #expect(refused.id == "r1")
            alice.send(.tell(TellRequest(id: "r2", to: "bob", text: "private during the outage")))
            #expect(try await alice.error(.unavailable).id == "r2")

            cluster.reconnect("a")
            try await eventually("node a to reconnect") { nodeA.isBrokerConnected }
            alice.send(.say(SayRequest(id: "r1", text: "during the outage")))
            let sent = try await alice.sent("r1")
            let atBob = try await bob.message("during the outage")
            #expect(atBob.msgId == sent.msgId)
            alice.send(.tell(TellRequest(id: "r2", to: "bob", text: "private during the outage")))
            try await alice.sent("r2")
            try await bob.message("private during the outage")
            _ = bobWelcome
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aJoinedUserKeepsReceivingAfterItsNodeReconnects(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob")
            let nodeB = try await cluster.start("b")
            try await cluster.start("a")
            let bob = cluster.client(on: "b")
            try await bob.join("bob")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            await cluster.cutOff("b")
            try await eventually("node b to notice") { !nodeB.isBrokerConnected }
            alice.send(.say(SayRequest(id: "1", text: "public while b was away")))
            alice.send(.tell(TellRequest(id: "2", to: "bob", text: "private while b was away")))
            try await alice.sent("1")
            try await alice.sent("2")
            cluster.reconnect("b")
            try await bob.message("public while b was away")
            let message = try await bob.message("private while b was away")
            bob.send(.ack(AckRequest(msgIds: [message.msgId])))
            try await alice.next("delivered") { frame -> Delivered? in if case .delivered(let d) = frame { d } else { nil } }
        }
    }

    @Test func sentComesOnlyAfterTheBrokerConfirmed() async throws {
        try await withCluster(.inMemory) { cluster in
            try await cluster.start("a")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            let bob = try await cluster.joined("bob", on: "a")
            let simulator = cluster.testBroker.inMemory!
            simulator.stallConfirms()
            alice.send(.say(SayRequest(id: "held", text: "held back")))
            alice.send(.tell(TellRequest(id: "held-private", to: "alice", text: "held back too")))
            // A barrier: the say is routed although its confirm stalls, and once bob has it,
            // the node has read it back from the stream; only the confirm is missing for a
            // `sent` (the tell runs after the say is answered).
            try await bob.waitForMessage("held back")
            #expect(!alice.received.contains { if case .sent = $0 { true } else { false } })
            simulator.releaseConfirms()
            try await alice.sent("held")
            try await alice.sent("held-private")
        }
    }

    @Test func aReceiptThatOvertakesTheConfirmReachesTheSenderAfterSent() async throws {
        try await withCluster(.inMemory) { cluster in
            let (alice, bob) = try await cluster.aliceOnAAndBobOnB()
            let simulator = cluster.testBroker.inMemory!
            // The message is routed and delivered, but alice's confirm is held back: bob's ack
            // (and its receipt, also routed at once) overtakes it.
            let spy = try await BrokerSpy.bind(cluster, exchange: cluster.topology.directExchange, routingKey: "alice")
            let carol = try await cluster.joined("carol", on: "b")
            simulator.stallConfirms()
            alice.send(.tell(TellRequest(id: "race", to: "bob", text: "acked before confirmed")))
            let message = try await bob.message("acked before confirmed")
            bob.send(.ack(AckRequest(msgIds: [message.msgId])))
            // The receipt reaches alice's queue (the spy sees it) while her confirm stalls; once
            // a later message in her queue came to her, her node has the receipt (and holds it).
            try await spy.waitFor(#""delivered""#)
            try await carol.privateBarrier(to: alice)
            #expect(!alice.received.contains { if case .delivered = $0 { true } else { false } })
            simulator.releaseConfirms()
            try await alice.next("delivered") { frame -> Delivered? in if case .delivered(let d) = frame { d } else { nil } }
            let kinds = alice.received.compactMap { frame -> String? in
                switch frame {
                case .sent(let sent) where sent.msgId == message.msgId: "sent"
                case .delivered(let delivered) where delivered.msgId == message.msgId: "delivered"
                default: nil
                }
            }
            #expect(kinds == ["sent", "delivered"])
        }
    }

    @Test func aGracefulStopLetsAPublishAwaitingItsConfirmFinish() async throws {
        try await withCluster(.inMemory) { cluster in
            try await cluster.start("a")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            let simulator = cluster.testBroker.inMemory!
            simulator.stallConfirms()
            let spy = try await BrokerSpy.bind(cluster, exchange: cluster.topology.publicExchange, routingKey: "room.lobby")
            alice.send(.say(SayRequest(id: "last", text: "last words")))
            // The say is published and awaits its confirm once the broker has routed it.
            try await spy.waitFor("last words")
            async let stopped: Void = cluster.stop("a")
            try await Task.sleep(for: .milliseconds(200))
            simulator.releaseConfirms()
            await stopped
            try await alice.sent("last")
        }
    }

    @Test func theSimulatorsInjectedNackIsUnavailableAndTheSessionGoesOn() async throws {
        try await withCluster(.inMemory) { cluster in
            try await cluster.start("a")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            cluster.testBroker.inMemory!.failPublishes(.nack)
            alice.send(.say(SayRequest(id: "n1", text: "nacked")))
            #expect(try await alice.error(.unavailable).id == "n1")
            cluster.testBroker.inMemory!.clearPublishFault()
            alice.send(.say(SayRequest(id: "n1", text: "nacked")))
            let sent = try await alice.sent("n1")
            #expect(try await alice.message("nacked").msgId == sent.msgId)
        }
    }
}

import Chat
import InMemoryBroker
import ServerTestSupport
import Testing

/// A sender's messages reach every recipient in the order sent, also when one was refused as
/// not accepted and sent again: newer ones are refused until the refused one came again.
@Suite("Sender order around refusals", .timeLimit(.minutes(5)))
struct SenderOrderTests {
    static func say(_ client: TestClient, _ id: String) {
        client.send(.say(SayRequest(id: id, text: "text of \(id)")))
    }

    /// The texts of the public messages `client` got from `sender`, in arrival order.
    static func texts(_ client: TestClient, from sender: String) -> [String] {
        client.messages.filter { $0.from == sender && $0.room != nil }.map(\.text)
    }

    @Test(arguments: BackendKind.allCases)
    func aMessageRefusedForRateIsNotOvertakenByNewerOnes(_ kind: BackendKind) async throws {
        // Bursts of 4 and a rate that only the injected clock refills.
        try await withCluster(kind, limits: ChatLimits(ratePerSecond: 1, burst: 4)) { cluster in
            cluster.uses("alice", "bob")
            let clock = ManualChatClock()
            try await cluster.start("a", clock: clock)
            try await cluster.start("b")
            let bob = cluster.client(on: "b")
            try await bob.join("bob")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")  // token 1 of 4
            Self.say(alice, "m1")  // 2
            Self.say(alice, "m2")  // 3
            Self.say(alice, "m3")  // 4
            Self.say(alice, "m4")  // over the rate: refused on arrival
            #expect(try await alice.error(.rateLimited).id == "m4")
            clock.advance(by: .seconds(10))
            Self.say(alice, "m5")  // newer than m4: held back
            let held = try await alice.error(.unavailable)
            #expect(held.id == "m5")
            #expect(held.message.contains("m4"))
            for id in ["m4", "m5"] { Self.say(alice, id) }  // resent oldest first
            try await alice.sent("m4")
            try await alice.sent("m5")
            try await bob.message("text of m5")
            #expect(Self.texts(bob, from: "alice") == ["m1", "m2", "m3", "m4", "m5"].map { "text of \($0)" })
        }
    }

    @Test func aMessageWhosePublishFailedIsNotOvertakenByNewerOnesAlreadyQueued() async throws {
        try await withCluster(.inMemory) { cluster in
            cluster.uses("alice", "bob")
            try await cluster.start("a")
            let bob = cluster.client(on: "a")
            try await bob.join("bob")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            let simulator = try #require(cluster.testBroker.inMemory)
            // Every publish is nacked (presence announcements too, which is harmless).
            simulator.failPublishes(.nack)
            // Sent back to back: m2 and m3 are queued behind m1 when m1's publish is nacked,
            // and refused without a publish: they wait for m1.
            for id in ["m1", "m2", "m3"] { Self.say(alice, id) }
            let first = try await alice.error(.unavailable)
            #expect(first.id == "m1")
            #expect(!first.message.contains("m1"))
            for id in ["m2", "m3"] {
                let held = try await alice.error(.unavailable)
                #expect(held.id == id)
                #expect(held.message.contains("earlier message m1"))
            }
            simulator.clearPublishFault()
            for id in ["m1", "m2", "m3"] { Self.say(alice, id) }
            try await alice.sent("m3")
            try await bob.message("text of m3")
            #expect(Self.texts(bob, from: "alice") == ["m1", "m2", "m3"].map { "text of \($0)" })
            // A private message follows the same rule.
            simulator.failPublishes(.nack)
            alice.send(.tell(TellRequest(id: "p1", to: "bob", text: "private 1")))
            Self.say(alice, "m4")
            #expect(try await alice.error(.unavailable).id == "p1")
            let held = try await alice.error(.unavailable)
            #expect(held.id == "m4")
            #expect(held.message.contains("earlier message p1"))
            simulator.clearPublishFault()
        }
    }

    @Test func aNewSessionStartsWithoutAHold() async throws {
        try await withCluster(.inMemory) { cluster in
            cluster.uses("alice", "bob")
            try await cluster.start("a")
            let bob = cluster.client(on: "a")
            try await bob.join("bob")
            let alice = cluster.client(on: "a")
            let welcome = try await alice.join("alice")
            let simulator = try #require(cluster.testBroker.inMemory)
            simulator.failPublishes(.nack)
            Self.say(alice, "m1")
            try await alice.error(.unavailable)
            simulator.clearPublishFault()
            alice.session.disconnected()
            let again = cluster.client(on: "a")
            try await again.join("alice", token: welcome.token)
            Self.say(again, "m2")
            try await again.sent("m2")
        }
    }
}

import Chat
import ServerTestSupport
import Testing

/// What one session gets for bad input and floods, and that it goes on where it can.
@Suite("Session errors and limits", .timeLimit(.minutes(5)))
struct SessionTests {
    @Test func badFramesGetErrorsAndTheSessionGoesOn() async throws {
        try await withCluster(.inMemory) { cluster in
            try await cluster.start("a")
            let alice = cluster.client(on: "a")
            alice.sendRaw("{not json")
            try await alice.error(.badJSON)
            alice.sendRaw(#"{"type":"join"}"#)
            try await alice.error(.badRequest)
            alice.sendRaw(#"{"type":"join","nick":"no spaces allowed"}"#)
            try await alice.error(.invalidNick)
            try await alice.join("alice")
            alice.sendRaw(#"{"type":"say","id":"x","text":"\#(String(repeating: "y", count: 4001))"}"#)
            #expect(try await alice.error(.tooLarge).id == "x")
            alice.send(.say(SayRequest(id: "y", room: "dev", text: "not entered")))
            #expect(try await alice.error(.notInRoom).id == "y")
            alice.send(.join(JoinRequest(nick: "alice")))
            try await alice.error(.badRequest)
            alice.send(.say(SayRequest(id: "z", text: "still fine")))
            try await alice.sent("z")
            #expect(alice.closeCode == nil)
        }
    }

    @Test func aFloodIsRateLimitedThenClosedWhileOthersAreUnaffected() async throws {
        try await withCluster(.inMemory, limits: ChatLimits(ratePerSecond: 1, burst: 5, floodStrikes: 20)) { cluster in
            try await cluster.start("a")
            let flooder = cluster.client(on: "a")
            let bob = cluster.client(on: "a")
            try await flooder.join("flooder")
            try await bob.join("bob")
            for n in 0..<10 { flooder.send(.say(SayRequest(id: "f\(n)", text: "flood \(n)"))) }
            let limited = try await flooder.error(.rateLimited)
            #expect(limited.id != nil)
            for n in 10..<40 { flooder.send(.say(SayRequest(id: "f\(n)", text: "flood \(n)"))) }
            try await eventually("the flooder to be closed") { flooder.closeCode == ChatCloseCode.flooding }
            bob.send(.say(SayRequest(id: "b", text: "bob is fine")))
            try await bob.sent("b")
            try await bob.message("bob is fine")
            #expect(bob.closeCode == nil)
        }
    }

    @Test func gracefulShutdownDisconnectsFromTheBroker() async throws {
        try await withCluster(.inMemory) { cluster in
            let node = try await cluster.start("a")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            #expect(node.isBrokerConnected)
            await cluster.stop("a")
            #expect(!node.isBrokerConnected)
            try await eventually("the node's connection to close") {
                !cluster.testBroker.inMemory!.connectionNames.contains { $0.contains("node") }
            }
        }
    }
}

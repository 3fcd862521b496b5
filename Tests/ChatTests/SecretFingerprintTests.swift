import Chat
import ServerTestSupport
import Testing

/// Every node of a chat uses the same secret: a node started with another one refuses to start
/// (Specs/amqp-topology.md, "Every node uses the same secret"), and the running nodes go on.
@Suite("Every node uses the same secret", .timeLimit(.minutes(5)))
struct SecretFingerprintTests {
    @Test func theFingerprintNamesTheSecretWithoutSayingIt() {
        let secret = Array(repeating: UInt8(0x11), count: 32)
        let print = SecretFingerprint.of(secret)
        #expect(print.count == 16)
        #expect(print.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(print == SecretFingerprint.of(secret))
        #expect(print != SecretFingerprint.of(Array(repeating: UInt8(0x12), count: 32)))
        #expect(!print.contains("1111"))
    }

    @Test(arguments: BackendKind.allCases)
    func aNodeWithAnotherSecretRefusesToStartAndTheRunningNodesGoOn(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob", "mallory")
            let a = try await cluster.start("a")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            #expect(a.isReady)

            let other = Array("another secret, not this chat's one".utf8)
            // A window long enough for node a's answer on a loaded machine.
            let b = try await cluster.start("b", secret: other, secretCheckWindow: .seconds(2))
            try await eventually("node b to refuse to start") { b.refusal != nil }
            let sentence = b.refusal ?? ""
            #expect(sentence.contains("secret file") && sentence.contains(cluster.testBroker.prefix + "a"), "\(sentence)")
            #expect(sentence.contains(SecretFingerprint.of(other)) && sentence.contains(SecretFingerprint.of(cluster.secret)))
            #expect(!b.isReady)
            try await eventually("node b to drop its broker connection") { !b.isBrokerConnected }

            // Node a goes on: alice chats with bob, who joins on node c, started with the chat's secret.
            let c = try await cluster.start("c")
            let bob = cluster.client(on: "c")
            try await bob.join("bob")
            #expect(c.isReady && c.refusal == nil && a.refusal == nil)
            alice.send(.say(SayRequest(id: "after-b", text: "still here")))
            #expect(try await bob.message("still here").from == "alice")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aNodeAloneOrWithTheSameSecretStarts(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            let a = try await cluster.start("a")
            try await eventually("node a to be ready") { a.isReady }
            let b = try await cluster.start("b")
            try await eventually("node b to be ready") { b.isReady }
            #expect(a.refusal == nil && b.refusal == nil)
        }
    }
}

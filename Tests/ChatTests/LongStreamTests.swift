import Broker
import BrokerTestSupport
@testable import Chat
import Testing

/// A chat whose history stream already holds many records (a long-lived deployment).
@Suite("Long history stream", .timeLimit(.minutes(2)))
struct LongStreamTests {
    /// Publishes `count` public messages of a room straight into the history stream, as earlier
    /// runs of the chat would have.
    static func fill(_ cluster: ChatCluster, count: Int, room: String = "archive") async throws {
        let channel = try await cluster.testBroker.channel("filler")
        try await channel.declareQueue(cluster.topology.historyStream,
                                       options: QueueOptions(durable: true, arguments: ChatTopology.historyStreamArguments))
        var sent = 0
        while sent < count {
            let batch = (sent..<min(count, sent + 500)).map { index in
                let record = BrokerRecord(kind: .say, msgId: "old" + String(index), from: "old", room: room,
                                          text: "old message \(index)", ts: 1_700_000_000_000 + Int64(index))
                return PublishRequest(message: OutgoingMessage(body: record.body, properties: MessageProperties(persistent: true, type: "say")),
                                      exchange: "", routingKey: cluster.topology.historyStream)
            }
            let results = try await channel.publishBatch(batch)
            #expect(results.allSatisfy { if case .success = $0 { true } else { false } })
            sent += batch.count
        }
    }

    @Test(arguments: BackendKind.allCases)
    func experimentJoinLatencyOnALongStream(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob")
            let t0 = ContinuousClock.now
            try await Self.fill(cluster, count: 50_000)
            let t1 = ContinuousClock.now
            try await cluster.start("a")
            let alice = cluster.client(on: "a")
            try await alice.join("alice", rooms: ["archive"])
            let t2 = ContinuousClock.now
            let bob = cluster.client(on: "a")
            try await bob.join("bob", rooms: ["archive"])
            let t3 = ContinuousClock.now
            print("EXPERIMENT \(kind): fill \(t1 - t0), first join \(t2 - t1), second join \(t3 - t2)")
        }
    }
}

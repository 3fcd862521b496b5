import Broker
import ServerTestSupport
import Testing

@testable import Chat

/// A chat whose history stream already holds many records (a long-lived deployment).
@Suite("Long history stream", .timeLimit(.minutes(5)))
struct LongStreamTests {
    /// Publishes `count` public messages of a room straight into the history stream, as earlier
    /// runs of the chat would have.
    static func fill(_ cluster: ChatCluster, count: Int, room: String = "archive") async throws {
        let channel = try await cluster.testBroker.channel("filler")
        try await channel.declareQueue(
            cluster.topology.historyStream,
            options: QueueOptions(durable: true, arguments: ChatTopology.historyStreamArguments))
        var sent = 0
        while sent < count {
            let batch = (sent..<min(count, sent + 500)).map { index in
                let record = BrokerRecord(
                    kind: .say, msgId: "old" + String(index), from: "old", room: room,
                    text: "old message \(index)", ts: 1_700_000_000_000 + Int64(index))
                return PublishRequest(
                    message: OutgoingMessage(body: record.body, properties: MessageProperties(persistent: true, type: "say")),
                    exchange: "", routingKey: cluster.topology.historyStream)
            }
            let results = try await channel.publishBatch(batch)
            #expect(results.allSatisfy { if case .success = $0 { true } else { false } })
            sent += batch.count
        }
    }

    /// A starting node reads the claims stream whole but only the newest part of the history
    /// stream, so its first join does not wait for a long history to be read: the welcome still
    /// has the newest messages, the roster still every claimed nick, a claimed nick stays taken.
    @Test(arguments: BackendKind.allCases)
    func aNodeStartingOnALongStreamReadsOnlyItsNewestPartAndKeepsEveryClaim(_ kind: BackendKind) async throws {
        try await withCluster(kind, limits: ChatLimits(historyReadOnStart: 1000)) { cluster in
            cluster.uses("olduser", "alice")
            try await cluster.start("first")
            let old = cluster.client(on: "first")
            try await old.join("olduser")
            await cluster.stop("first")
            let count = 20_000
            try await Self.fill(cluster, count: count)

            let started = ContinuousClock.now
            let node = try await cluster.start("b")
            let alice = cluster.client(on: "b")
            let welcome = try await alice.join("alice", rooms: ["archive"])
            let joinedAfter = ContinuousClock.now - started
            let read = await node.executor.historyRecordsRead
            print("LongStreamTests \(kind): \(count) records in the stream, start to welcome \(joinedAfter), history records read \(read)")
            #expect(read < count / 4, "the node read \(read) of \(count) history records before its first welcome")
            let archive = welcome.history["archive"] ?? []
            #expect(archive.count == 100)
            #expect(archive.last?.text == "old message \(count - 1)")
            #expect(welcome.users.contains { $0.nick == "olduser" })
            let stranger = cluster.client(on: "b")
            stranger.send(.join(JoinRequest(nick: "olduser", nonce: JoinRequest.makeNonce())))
            try await stranger.error(.authFailed)
            // Live messages still flow after the bounded start.
            alice.send(.say(SayRequest(id: "new", room: "archive", text: "a new message")))
            let message = try await alice.message("a new message")
            #expect((message.seq ?? 0) > (archive.last?.seq ?? .max))
        }
    }
}

import Broker
import InMemoryBroker
import ServerTestSupport
import Testing

/// The store stays bounded (`Specs/storage.md`, "Bounds"): acked messages and the stream
/// entries that retention drops are deleted on disk too, and a reopen finds the same window.
@Suite struct StoreRetentionTests {
    @Test func streamRetentionDeletesOnDisk() async throws {
        let directory = try TemporaryDirectory.make(prefix: "rabbitchat-retention")
        defer { TemporaryDirectory.remove(directory) }
        let body = String(repeating: "x", count: 100)
        // 2,000 bytes of bodies and bookkeeping: 3 entries of 104 + 400 bytes.
        let broker = try InMemoryBroker(dataDirectory: directory, maxStreamBytes: 2_000)
        let channel = try await broker.connect(name: "writer").openChannel()
        try await channel.declareQueue("history", options: .stream())
        for index in 0..<200 { try await channel.send("\(index) \(body)", key: "history") }
        #expect(try broker.storedMessageCount() == 3)
        broker.close()

        let reopened = try InMemoryBroker(dataDirectory: directory, maxStreamBytes: 2_000)
        let reader = try await reopened.connect(name: "reader").openChannel()
        let entries = try await reader.collect("history", arguments: ["x-stream-offset": "first"])
        let got = await entries.wait(for: 3)
        #expect(got.map(\.streamOffset) == [197, 198, 199])
        // Offsets go on after the reopen (a short entry: now four fit).
        try await reader.send("after", key: "history")
        #expect(await entries.wait(for: 4).last?.streamOffset == 200)
        #expect(try reopened.storedMessageCount() == 4)
        reopened.close()
    }

    @Test func ackedPersistentMessagesLeaveTheDisk() async throws {
        try await withTestBroker(.dataDir) { t in
            let simulator = try #require(t.inMemory)
            let channel = try await t.channel("worker")
            let queue = t.queueName("work")
            try await channel.declareQueue(queue, options: .durable)
            for index in 0..<50 { try await channel.send("m\(index)", key: queue, persistent: index % 2 == 0) }
            #expect(try simulator.storedMessageCount() == 25)
            let consumer = try await channel.collect(queue, prefetch: 100)
            let got = await consumer.wait(for: 50)
            try await channel.ack(deliveryTag: try #require(got.last?.deliveryTag), multiple: true)
            #expect(try simulator.storedMessageCount() == 0)
        }
    }
}

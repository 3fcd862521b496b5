import Broker
import InMemoryBroker
import ServerTestSupport
import Testing

/// Stream retention: a stream keeps a bounded tail of its log (`x-max-length-bytes`, and in the
/// simulator also the broker-wide ``InMemoryBroker/init(clock:maxStreamBytes:)``), and readers go
/// on from the oldest entry kept.
@Suite("Streams: retention")
struct StreamRetentionTests {
    /// 100 entries of 100 bytes, numbered.
    private static let entries = (0..<100).map { i in String(i) + String(repeating: "x", count: 100 - String(i).count) }

    /// RabbitMQ drops whole segment files once the stream is over its limit, so it is given
    /// small segments; it then keeps a little more than the limit, the simulator exactly the
    /// newest entries within it. Common to both: the oldest are gone, the newest all there,
    /// in order, and a reader from `first` starts at the oldest kept.
    @Test(arguments: BackendKind.allCases)
    func aStreamOverItsByteLimitDropsItsOldestEntries(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let name = t.queueName("retained")
            try await channel.declareQueue(
                name,
                options: .stream(arguments: [
                    "x-max-length-bytes": .int(1_000), "x-stream-max-segment-size-bytes": .int(500),
                ]))
            for entry in Self.entries { try await channel.send(entry, key: name) }
            let reader = try await t.channel("r").collect(name, arguments: ["x-stream-offset": "first"])
            _ = await reader.wait(for: Self.entries.count, timeout: kind.isSimulator ? .seconds(1) : .seconds(3))
            let got = reader.texts
            #expect(!got.isEmpty && got.count < Self.entries.count / 2, "kept \(got.count) of \(Self.entries.count)")
            #expect(got == Array(Self.entries.suffix(got.count)))
            if kind.isSimulator { #expect(got.count == 10) }
            let offsets = reader.deliveries.compactMap(\.streamOffset)
            #expect(offsets == Array(offsets.sorted()) && offsets.first ?? 0 > 0)
        }
    }

    /// The cap counts each entry as its body plus 400 bytes: 100-byte entries cost 500.
    @Test func theSimulatorsBrokerWideCapBoundsAStreamWithoutALimitOfItsOwn() async throws {
        let broker = InMemoryBroker(maxStreamBytes: 10_000)
        let channel = try await broker.connect(name: "c").openChannel()
        try await channel.declareQueue("s", options: .stream())
        try await channel.sendAll(Self.entries, key: "s")
        let reader = try await channel.collect("s", arguments: ["x-stream-offset": "first"])
        #expect(await reader.wait(for: 20).map(\.text) == Array(Self.entries.suffix(20)))
        #expect(await reader.settle(.milliseconds(20)).count == 20)
        #expect(reader.deliveries.first?.streamOffset == 80)
    }

    @Test func theStricterOfTheStreamsOwnLimitAndTheBrokerCapApplies() async throws {
        let broker = InMemoryBroker(maxStreamBytes: 10_000)
        let channel = try await broker.connect(name: "c").openChannel()
        try await channel.declareQueue("own", options: .stream(arguments: ["x-max-length-bytes": .int(500)]))
        try await channel.declareQueue("cap", options: .stream(arguments: ["x-max-length-bytes": .int(5_000)]))
        try await channel.sendAll(Self.entries, key: "own")
        try await channel.sendAll(Self.entries, key: "cap")
        let own = try await channel.collect("own", arguments: ["x-stream-offset": "first"])
        #expect(await own.settle(.milliseconds(50)).map(\.text) == Array(Self.entries.suffix(5)))
        let cap = try await channel.collect("cap", arguments: ["x-stream-offset": "first"])
        #expect(await cap.settle(.milliseconds(50)).map(\.text) == Array(Self.entries.suffix(20)))
    }

    /// A reader that has not acked while retention dropped the entries after its position gets,
    /// once it acks, the oldest entry still kept: it skips what is gone, never stalls or repeats.
    @Test func aReaderBehindRetentionGoesOnFromTheOldestEntryKept() async throws {
        let broker = InMemoryBroker(maxStreamBytes: 5_000)
        let channel = try await broker.connect(name: "c").openChannel()
        try await channel.declareQueue("s", options: .stream())
        try await channel.sendAll(Array(Self.entries.prefix(10)), key: "s")
        let reader = try await broker.connect(name: "r").openChannel()
        let collector = try await reader.collect("s", prefetch: 2, arguments: ["x-stream-offset": "first"])
        let firstTwo = await collector.wait(for: 2)
        #expect(firstTwo.map(\.text) == Array(Self.entries.prefix(2)))
        try await channel.sendAll(Array(Self.entries[10..<50]), key: "s")
        var acked = firstTwo.count
        try await reader.ack(deliveryTag: firstTwo[1].deliveryTag, multiple: true)
        for _ in 0..<20 {
            let got = await collector.wait(for: acked + 2, timeout: .seconds(1))
            guard got.count > acked else { break }
            try await reader.ack(deliveryTag: got[got.count - 1].deliveryTag, multiple: true)
            acked = got.count
        }
        #expect(collector.texts == Array(Self.entries.prefix(2)) + Array(Self.entries[40..<50]))
        #expect(collector.deliveries.compactMap(\.streamOffset) == [0, 1] + Array(40..<50))
    }
}

import Broker
import ServerTestSupport
import Testing

/// Stream queues (`x-queue-type=stream`): an append-only log read from offsets.
@Suite("Contract: streams")
struct StreamContractTests {
    /// Declares a stream holding `texts` and returns its name.
    private func stream(_ t: TestBroker, _ channel: any BrokerChannel, holding texts: [String]) async throws -> String {
        let name = t.queueName("stream")
        try await channel.declareQueue(name, options: .stream())
        try await channel.sendAll(texts, key: name)
        return name
    }

    @Test(arguments: BackendKind.allCases)
    func aStreamMustBeDurable(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            await expectCode(BrokerError.preconditionFailed) {
                try await t.channel("c").declareQueue(t.queueName("s"), options: QueueOptions(durable: false, arguments: ["x-queue-type": "stream"]))
            }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aStreamConsumerNeedsPrefetchAndManualAck(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let name = try await stream(t, try await t.channel("setup"), holding: ["1"])
            await expectCode(BrokerError.preconditionFailed) {
                _ = try await t.channel("a").consume(queue: name, options: ConsumeOptions(prefetch: 0, arguments: ["x-stream-offset": "first"]))
            }
            let noAck = try await t.connect("b")
            await expectHardError(BrokerError.notImplemented, closing: noAck) {
                _ = try await noAck.openChannel().consume(
                    queue: name, options: ConsumeOptions(prefetch: 10, noAck: true, arguments: ["x-stream-offset": "first"]))
            }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func getOnAStreamIsNotImplementedAndClosesTheConnection(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let name = try await stream(t, try await t.channel("setup"), holding: ["1"])
            let connection = try await t.connect("c")
            await expectHardError(BrokerError.notImplemented, closing: connection) {
                _ = try await connection.openChannel().get(queue: name, autoAck: false)
            }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func readingFromFirstGivesEveryEntryWithItsOffsetAndAcksRemoveNothing(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let name = try await stream(t, channel, holding: ["a", "b", "c"])
            let reader = try await channel.collect(name, arguments: ["x-stream-offset": "first"])
            let got = await reader.wait(for: 3)
            #expect(got.map(\.text) == ["a", "b", "c"])
            let offsets = got.compactMap(\.streamOffset)
            #expect(offsets.count == 3)
            #expect(offsets == offsets.sorted() && Set(offsets).count == 3)
            try await channel.ack(deliveryTag: got[2].deliveryTag, multiple: true)
            let again = try await t.channel("again").collect(name, arguments: ["x-stream-offset": "first"])
            #expect(await again.wait(for: 3).map(\.text) == ["a", "b", "c"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func readingFromANumericOffsetStartsThere(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let name = try await stream(t, channel, holding: ["a", "b", "c", "d"])
            let all = await (try await channel.collect(name, arguments: ["x-stream-offset": "first"])).wait(for: 4)
            let third = try #require(all[2].streamOffset)
            let reader = try await t.channel("r").collect(name, arguments: ["x-stream-offset": .int(third)])
            #expect(await reader.wait(for: 2).map(\.text) == ["c", "d"])
            #expect(reader.deliveries.first?.streamOffset == third)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func readingFromNextGivesOnlyNewEntries(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let name = try await stream(t, channel, holding: ["old"])
            let reader = try await t.channel("r").collect(name, arguments: ["x-stream-offset": "next"])
            try await Task.sleep(for: quietPeriod(kind))
            try await channel.send("new", key: name)
            #expect(await reader.wait(for: 1).map(\.text) == ["new"])
            // A barrier: a stream hands its entries over in order, so anything before "after" came.
            try await channel.send("after", key: name)
            #expect(await reader.wait(for: 2).map(\.text) == ["new", "after"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func readingFromLastIncludesTheNewestEntry(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let name = try await stream(t, channel, holding: ["x", "y", "z"])
            let reader = try await t.channel("r").collect(name, arguments: ["x-stream-offset": "last"])
            // RabbitMQ starts at the last chunk, which may hold earlier entries too; the newest is always there.
            let got = await reader.wait(for: 1)
            #expect(got.last?.text == "z")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func readingFromATimestampSkipsOlderEntries(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let name = try await stream(t, channel, holding: ["a", "b"])
            let past = try await t.channel("past").collect(name, arguments: ["x-stream-offset": .timestamp(1_000_000_000)])
            #expect(await past.wait(for: 2).map(\.text) == ["a", "b"])
            let future = try await t.channel("future").collect(name, arguments: ["x-stream-offset": .timestamp(4_000_000_000)])
            try await channel.send("c", key: name)
            #expect(await future.wait(for: 1).map(\.text) == ["c"])
        }
    }

    /// RabbitMQ grants stream credit per chunk, so a reader may get more than `prefetch`
    /// at once; the simulator holds it to `prefetch` exactly. Common to both: acking moves
    /// the reader on until it has the whole stream.
    @Test(arguments: BackendKind.allCases)
    func aStreamReaderWithSmallPrefetchReadsEverythingAsItAcks(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let texts = (1...20).map(String.init)
            let name = try await stream(t, channel, holding: texts)
            let reader = try await channel.collect(name, prefetch: 2, arguments: ["x-stream-offset": "first"])
            var acked = 0
            // Generous: the loop ends as soon as all arrived; a loaded CI machine (the whole
            // suite runs in parallel on 2 cores) can take seconds for ten ack round trips.
            let deadline = ContinuousClock.now + .seconds(30)
            while acked < texts.count, ContinuousClock.now < deadline {
                let got = await reader.wait(for: acked + 1, timeout: .seconds(1))
                guard got.count > acked else { continue }
                try await channel.ack(deliveryTag: got[got.count - 1].deliveryTag, multiple: true)
                acked = got.count
            }
            #expect(reader.texts == texts)
        }
    }
}

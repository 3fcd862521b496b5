import Broker
import InMemoryBroker
import ServerTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Crash safety by test: `StoreKillHarness` writes through a durable broker and reports what
/// was confirmed; this test SIGKILLs it at random points, reopens the store and checks it
/// (`Specs/storage.md`, "Recovery rule" and "The redelivered flag"). `RABBITCHAT_KILL_ROUNDS`
/// sets the number of kills (default 20; the bench runs 200).
@Suite struct StoreKillTests {
    static let rounds = Int(TestEnvironment.environment("RABBITCHAT_KILL_ROUNDS") ?? "") ?? 20

    @Test func everyConfirmedMessageSurvivesSIGKILLExactlyOnceInOrderAndRecordedAcksStayAcked() async throws {
        var flagged = (delivered: 0, byHarness: 0, never: 0)
        let directory = try TemporaryDirectory.make(prefix: "rabbitchat-kill")
        defer { TemporaryDirectory.remove(directory) }
        var generator = SystemRandomNumberGenerator()
        var confirmedUpTo = -1  // every index <= this was confirmed in some round
        var confirmedRanges: [ClosedRange<Int>] = []
        var recordedAck = -1  // acks up to this index were recorded
        var sentAck = -1  // acks up to this index may have been recorded
        var next = 0
        for round in 0..<Self.rounds {
            let roundStart = next
            let child = try ServerProcess(
                executable: BuiltProduct.path(of: "StoreKillHarness"),
                arguments: [directory, String(next)])
            let wanted = Int.random(in: 1...40, using: &generator)
            try await child.waitUntil(timeout: .seconds(20), interval: .milliseconds(1), "\(wanted) confirms") {
                child.standardOutput.split(separator: "\n").filter { $0.hasPrefix("C ") }.count >= wanted
                    && child.standardOutput.hasPrefix("R")
            }
            child.signal(SIGKILL)
            let exit = await child.waitForExit(timeout: .seconds(10))
            #expect(exit == SIGKILL, "round \(round): the harness ended with \(String(describing: exit)) before the kill; it wrote \(child.standardError)")
            // Everything the child reported reached the pipe before the kill.
            var lastConfirmed: Int?
            var deliveredMarked = -1  // every `work` message up to this index was delivered, marks recorded
            var gotUpTo = -1  // the highest index a get of this round returned
            var getPending = false  // a get was sent and its answer not reported
            for line in child.standardOutput.split(separator: "\n") {
                if line == "T" { getPending = true }
                let parts = line.split(separator: " ")
                if parts.count == 2, let n = Int(parts[1]) {
                    if parts[0] == "g" {
                        gotUpTo = max(gotUpTo, n)
                        getPending = false
                    }
                    if parts[0] == "D" { deliveredMarked = max(deliveredMarked, n) }
                }
                guard parts.count == 2, let n = Int(parts[1]) else { continue }
                if parts[0] == "C" { lastConfirmed = n }
                if parts[0] == "A" { recordedAck = max(recordedAck, n) }
                if parts[0] == "G" { sentAck = max(sentAck, n) }
            }
            if let lastConfirmed, lastConfirmed >= next {
                confirmedRanges.append(next...lastConfirmed)
                confirmedUpTo = lastConfirmed
            }

            let broker = try InMemoryBroker(dataDirectory: directory, log: { _ in })
            let channel = try await broker.connect(name: "check").openChannel()
            // The queue, read without acking (closing the channel puts everything back).
            var queued: [Int] = []
            var redelivered: [Int: Bool] = [:]
            while let delivery = try await channel.get(queue: "work", autoAck: false) {
                let index = try #require(Int(delivery.text))
                queued.append(index)
                redelivered[index] = delivery.redelivered
            }
            let consumer = try await channel.consume(queue: "log", options: .stream(from: .first))
            var logged: [(offset: Int64, index: Int)] = []
            var deliveries = consumer.deliveries.makeAsyncIterator()
            let expectedLog = confirmedRanges.reduce(0) { $0 + $1.count }
            // The stream holds every confirmed message and perhaps a few unconfirmed ones after
            // them: read until the confirmed count is reached and a barrier says nothing more.
            let end = try await Self.streamLength(broker)
            while logged.count < end, let delivery = await deliveries.next() {
                logged.append((try #require(delivery.streamOffset), try #require(Int(delivery.text))))
                try await channel.ack(deliveryTag: delivery.deliveryTag, multiple: false)
            }
            await channel.close()
            broker.close()

            // In order, each once: strictly increasing (unconfirmed leftovers included).
            #expect(zip(queued, queued.dropFirst()).allSatisfy { $0 < $1 }, "round \(round): queue out of order: \(queued.prefix(50))")
            #expect(
                zip(logged, logged.dropFirst()).allSatisfy { $0.index < $1.index && $0.offset + 1 == $1.offset },
                "round \(round): stream out of order")
            // Every confirmed message is there; none acked-and-recorded is.
            let queuedSet = Set(queued)
            let loggedSet = Set(logged.map(\.index))
            var missingFromStream: [Int] = []
            var missingFromQueue: [Int] = []
            for range in confirmedRanges {
                for index in range {
                    if !loggedSet.contains(index) { missingFromStream.append(index) }
                    // Acks sent but not known to be recorded may or may not have taken effect.
                    if index > sentAck && !queuedSet.contains(index) { missingFromQueue.append(index) }
                }
            }
            #expect(missingFromStream.isEmpty, "round \(round): confirmed messages missing from the stream: \(missingFromStream.prefix(20))")
            #expect(missingFromQueue.isEmpty, "round \(round): confirmed, unacked messages missing from the queue: \(missingFromQueue.prefix(20))")
            #expect(queued.allSatisfy { $0 > recordedAck }, "round \(round): a message acked up to \(recordedAck) is still queued")
            #expect(logged.count >= expectedLog)
            // The redelivered flag: earlier rounds' messages were all delivered by the check
            // (closed cleanly), and this round's up to the recorded `D` by the harness: they
            // must come back redelivered. This round's messages above the last get's answer
            // (and the queue head a get in flight may have taken) were never delivered: not
            // redelivered. Between the two (delivered, mark perhaps not committed): either.
            let neverDelivered = queued.filter { $0 >= roundStart && $0 > gotUpTo }.dropFirst(getPending ? 1 : 0)
            let mustBeFlagged = queued.filter { $0 < roundStart || $0 <= deliveredMarked }
            let unflagged = mustBeFlagged.filter { redelivered[$0] != true }
            let wronglyFlagged = neverDelivered.filter { redelivered[$0] != false }
            #expect(unflagged.isEmpty, "round \(round): delivered messages (marks recorded) came back not redelivered: \(unflagged.prefix(20))")
            #expect(wronglyFlagged.isEmpty, "round \(round): never-delivered messages came back redelivered: \(wronglyFlagged.prefix(20))")
            flagged.delivered += mustBeFlagged.count
            flagged.byHarness += mustBeFlagged.filter { $0 >= roundStart }.count
            flagged.never += neverDelivered.count
            next = max(confirmedUpTo, queued.last ?? -1, logged.last?.index ?? -1) + 1
        }
        #expect(confirmedUpTo > 0, "the harness never confirmed anything")
        // The flag checks above checked something: both kinds occurred.
        #expect(flagged.delivered > 0 && flagged.never > 0, "flag checks: \(flagged)")
        print(
            "StoreKillTests: \(Self.rounds) kills; redelivered flag checked on \(flagged.delivered) delivered messages (\(flagged.byHarness) by the killed harness, the rest by the previous check) and \(flagged.never) never-delivered ones"
        )
    }

    /// The number of entries in the stream `log`: its offsets start at 0 and are never trimmed
    /// here, so the length is the next offset, read as the offset a `last` reader starts at.
    static func streamLength(_ broker: InMemoryBroker) async throws -> Int {
        let connection = try await broker.connect(name: "length")
        let channel = try await connection.openChannel()
        let consumer = try await channel.consume(queue: "log", options: .stream(from: .last, prefetch: 1))
        var iterator = consumer.deliveries.makeAsyncIterator()
        let last = await iterator.next()
        await connection.close()
        return Int(last?.streamOffset ?? -1) + 1
    }
}

import Broker
import ServerTestSupport
import Synchronization
import Testing

@testable import Chat

/// A node reads the history stream in the broker's batches and sends each room's messages of a
/// batch as one broadcast: order, rooms and membership must be exactly as without batches.
@Suite("Public messages in history batches", .timeLimit(.minutes(5)))
struct PublicBatchTests {
    // MARK: The pure grouping

    @Test
    func aBatchKeepsEachRoomsMessagesInStreamOrderAndRoomsInOrderOfFirstMessage() {
        var fanOut = PublicFanOut()
        for (frame, room) in [("d1", "dev"), ("l1", "lobby"), ("d2", "dev"), ("o1", "ops"), ("l2", "lobby"), ("d3", "dev")] {
            fanOut.append(frame, room: room)
        }
        let sends = fanOut.sends()
        #expect(sends.map(\.room) == ["dev", "lobby", "ops"])
        #expect(sends.map(\.frames) == [["d1", "d2", "d3"], ["l1", "l2"], ["o1"]])
        #expect(fanOut.messageCount == 6)
    }

    @Test
    func aRoomWithMoreMessagesThanAFrameHoldsSendsSeveralFramesInOrder() {
        var fanOut = PublicFanOut()
        for n in 0..<7 { fanOut.append("m\(n)", room: "dev") }
        fanOut.append("x", room: "lobby")
        let sends = fanOut.sends(frameLimit: 3)
        #expect(sends.map(\.room) == ["dev", "dev", "dev", "lobby"])
        #expect(sends.map(\.frames) == [["m0", "m1", "m2"], ["m3", "m4", "m5"], ["m6"], ["x"]])
    }

    @Test
    func aBatchWithoutPublicMessagesSendsNothing() {
        let fanOut = PublicFanOut()
        #expect(fanOut.isEmpty)
        #expect(fanOut.sends().isEmpty)
    }

    // MARK: On a node

    /// Publishes public message records straight into the history stream in one broker
    /// operation (on the simulator: one hand-over, so the node reads them as one batch).
    static func publishRecords(_ cluster: ChatCluster, _ messages: [(room: String, text: String)], tag: String) async throws {
        let channel = try await cluster.testBroker.channel("batch-\(tag)")
        let batch = messages.enumerated().map { index, message in
            let record = BrokerRecord(
                kind: .say, msgId: "\(tag)-\(index)", from: "feeder", room: message.room,
                text: message.text, ts: 1_700_000_000_000 + Int64(index))
            return PublishRequest(
                message: OutgoingMessage(body: record.body, properties: MessageProperties(persistent: true, type: "say")),
                exchange: "", routingKey: cluster.topology.historyStream)
        }
        let results = try await channel.publishBatch(batch)
        #expect(results.allSatisfy { if case .success = $0 { true } else { false } })
    }

    @Test
    func severalRoomsInOneBatchReachEachRoomsMembersAsOneBroadcastInOrder() async throws {
        try await withCluster(.inMemory) { cluster in
            cluster.uses("alice", "bob")
            let recorder = RecordingBroadcaster()
            try await cluster.start("a", broadcaster: recorder)
            let alice = cluster.client(on: "a")
            let bob = cluster.client(on: "a")
            try await alice.join("alice", rooms: ["lobby", "dev"])
            try await bob.join("bob", rooms: ["dev"])

            let mixed: [(room: String, text: String)] = [("dev", "d1"), ("lobby", "l1"), ("dev", "d2"), ("lobby", "l2"), ("dev", "d3")]
            try await Self.publishRecords(cluster, mixed, tag: "mixed")
            try await alice.message("d3")
            try await alice.message("l2")
            try await bob.message("d3")

            // Presence frames go through the broadcaster too: only message broadcasts count here.
            let calls = recorder.calls.filter { call in
                call.texts.allSatisfy { text in
                    if case .message? = try? ChatFrameCodec.decodeServerFrame(text) { true } else { false }
                }
            }
            #expect(calls.map(\.texts.count) == [3, 2], "one broadcast per room and batch")
            #expect(calls.first?.outlets == 2)
            #expect(calls.last?.outlets == 1)
            for client in [alice, bob] {
                let dev = client.messages.filter { $0.room == "dev" }
                #expect(dev.map(\.text) == ["d1", "d2", "d3"])
                #expect(dev.map { $0.seq ?? -1 } == dev.map { $0.seq ?? -1 }.sorted())
            }
            #expect(alice.messages.filter { $0.room == "lobby" }.map(\.text) == ["l1", "l2"])
            #expect(!bob.messages.contains { $0.room == "lobby" })
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aSessionEnteringOrLeavingBetweenBatchesGetsEachMessageOnceLiveOrInHistory(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            let (alice, bob, carol) = try await cluster.aliceBobAndCarol(on: ("a", "a", "a"))
            try await alice.join("alice", rooms: ["dev"])
            try await bob.join("bob", rooms: ["dev"])
            try await carol.join("carol", rooms: ["lobby"])

            try await Self.publishRecords(cluster, (1...5).map { ("dev", "first \($0)") }, tag: "first")
            try await alice.message("first 5")
            // Carol enters after the first batch: it is in her `entered` history, not live.
            carol.send(.enter(RoomRequest(room: "dev")))
            let entered = try await carol.next("entered") { frame -> Entered? in
                if case .entered(let entered) = frame { return entered }
                return nil
            }
            #expect(entered.history.map(\.text).suffix(5) == (1...5).map { "first \($0)" })
            // Bob leaves; what comes after his `left` must not reach him.
            bob.send(.leave(RoomRequest(room: "dev")))
            try await bob.next("left") { frame -> Left? in
                if case .left(let left) = frame { return left }
                return nil
            }

            try await Self.publishRecords(cluster, (1...5).map { ("dev", "second \($0)") }, tag: "second")
            try await alice.message("second 5")
            try await carol.message("second 5")
            // A barrier: the node reads the stream in order, so once carol has her marker it has
            // handed out every message of the second batch.
            try await carol.publicBarrier(in: "lobby", reaching: [carol])

            #expect(alice.messages.map(\.text) == (1...5).map { "first \($0)" } + (1...5).map { "second \($0)" })
            #expect(carol.messagesButBarriers.map(\.text) == (1...5).map { "second \($0)" }, "carol got live exactly what her history lacked")
            #expect(bob.messages.map(\.text) == (1...5).map { "first \($0)" }, "bob got nothing after leaving")
        }
    }
}

/// Records every broadcast (its frames and how many outlets) and delivers like the default.
final class RecordingBroadcaster: ChatBroadcaster {
    struct Call: Sendable, Equatable {
        var texts: [String]
        var outlets: Int
    }

    private let recorded = Mutex<[Call]>([])

    var calls: [Call] { recorded.withLock { $0 } }

    func broadcast(_ text: String, to outlets: [any ChatOutlet]) {
        broadcast(batch: [text], to: outlets)
    }

    func broadcast(batch texts: [String], to outlets: [any ChatOutlet]) {
        recorded.withLock { $0.append(Call(texts: texts, outlets: outlets.count)) }
        for text in texts {
            for outlet in outlets { outlet.send(text) }
        }
    }
}

import Broker
import Chat
import ServerTestSupport
import Synchronization
import Testing

/// Every user's inbox consumer shares the node's one inbox channel: a node holds more users
/// than the broker allows channels, and ending one user's inbox puts back exactly that user's
/// unacked messages.
@Suite struct InboxChannelTests {
    /// RabbitMQ's default `channel_max` is 2047: with a channel per user a node stopped
    /// taking users there. (RabbitMQ only: the simulator has no channel limit, and 2,100
    /// joins on it saturate the test process's two cooperative threads for seconds.)
    @Test(arguments: [BackendKind.rabbitMQ])
    func aNodeHoldsMoreJoinedUsersThanTheBrokersChannelMax(_ kind: BackendKind) async throws {
        let users = 2_100
        try await withCluster(kind) { cluster in
            let nicks = (0..<users).map { "crowd\($0)" }
            for nick in nicks { cluster.uses(nick) }
            cluster.uses("sender")
            let node = try await cluster.start("a")
            let sessions = try await joinQuietly(nicks, on: node, concurrently: 8)
            let depths = await node.queueDepths()
            #expect(depths.inboxes == users)

            // The last user to join still gets private messages, and only theirs.
            let sender = cluster.client(on: "a")
            try await sender.join("sender")
            let last = nicks[users - 1]
            sender.send(.tell(TellRequest(id: "t1", to: last, text: "still there?")))
            try await sender.sent("t1")
            try await eventually("the last user to get the message") {
                sessions[users - 1].outlet.texts.contains { $0.contains("still there?") }
            }
            #expect(sessions.dropLast().allSatisfy { !$0.outlet.texts.contains { $0.contains("still there?") } })
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aSessionEndRequeuesExactlyItsOwnUnackedMessages(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob", "carol")
            try await cluster.start("a")
            let alice = cluster.client(on: "a")
            let aliceWelcome = try await alice.join("alice")
            let bob = cluster.client(on: "a")
            try await bob.join("bob")
            let carol = cluster.client(on: "a")
            try await carol.join("carol")
            for index in 1...3 {
                carol.send(.tell(TellRequest(id: "a\(index)", to: "alice", text: "to alice \(index)")))
                carol.send(.tell(TellRequest(id: "b\(index)", to: "bob", text: "to bob \(index)")))
            }
            var bobFirst: [ChatMessage] = []
            for index in 1...3 {
                try await alice.message("to alice \(index)")
                bobFirst.append(try await bob.message("to bob \(index)"))
            }

            alice.session.disconnected()
            let again = cluster.client(on: "a")
            try await again.join("alice", token: aliceWelcome.token)
            var second: [String] = []
            for index in 1...3 { second.append(try await again.message("to alice \(index)").text) }
            #expect(second == ["to alice 1", "to alice 2", "to alice 3"])

            // Bob's deliveries stayed his: nothing of his came again, and his ack still works.
            // Barriers: each queue hands over in order, so anything of bob's put back came
            // before carol's marker.
            try await carol.privateBarrier(to: bob)
            try await carol.privateBarrier(to: again)
            #expect(bob.messagesButBarriers.count == 3)
            #expect(!again.messages.contains { $0.text.hasPrefix("to bob") })
            bob.send(.ack(AckRequest(msgIds: bobFirst.map(\.msgId))))
            var receipts: Set<String> = []
            while receipts.count < 3 {
                receipts.insert(
                    try await carol.next("delivered") { frame -> String? in
                        if case .delivered(let delivered) = frame, delivered.to == "bob" { delivered.msgId } else { nil }
                    })
            }
            #expect(receipts == Set(bobFirst.map(\.msgId)))
        }
    }

    /// A channel error on the shared inbox channel (injected) requeues every user's unacked
    /// messages; the node opens a new one, takes every inbox again, and nothing is lost.
    @Test func aChannelErrorOnTheInboxChannelLosesNothing() async throws {
        try await withCluster(.inMemory) { cluster in
            cluster.uses("alice", "bob", "carol")
            try await cluster.start("a")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            let bob = cluster.client(on: "a")
            try await bob.join("bob")
            let carol = cluster.client(on: "a")
            try await carol.join("carol")
            carol.send(.tell(TellRequest(id: "a1", to: "alice", text: "before 1")))
            carol.send(.tell(TellRequest(id: "b1", to: "bob", text: "before 2")))
            let first = try await alice.message("before 1")
            try await bob.message("before 2")

            let simulator = try #require(cluster.testBroker.inMemory)
            #expect(simulator.failChannels(consuming: cluster.topology.userQueue("alice")) == 1)

            // Both come again, with their msgIds, and new messages flow on.
            let again = try await alice.message("before 1")
            #expect(again.msgId == first.msgId)
            try await bob.message("before 2")
            carol.send(.tell(TellRequest(id: "a2", to: "alice", text: "after")))
            let after = try await alice.message("after")
            alice.send(.ack(AckRequest(msgIds: [again.msgId, after.msgId])))
            var receipts: Set<String> = []
            while receipts.count < 2 {
                receipts.insert(
                    try await carol.next("delivered") { frame -> String? in
                        if case .delivered(let delivered) = frame { delivered.msgId } else { nil }
                    })
            }
            #expect(receipts == [first.msgId, after.msgId])
        }
    }

    /// Joins `nicks` on `node`, `width` at a time, through outlets that keep only what they
    /// are asked about (a welcome to each of 2,100 users carries the whole roster).
    private func joinQuietly(_ nicks: [String], on node: ChatNode, concurrently width: Int) async throws -> [QuietClient] {
        let clients = nicks.map { _ in QuietClient(node: node) }
        var next = 0
        try await withThrowingTaskGroup(of: Void.self) { group in
            func add() {
                let index = next
                next += 1
                group.addTask { try await clients[index].join(nicks[index]) }
            }
            while next < min(width, nicks.count) { add() }
            while try await group.next() != nil {
                if next < nicks.count { add() }
            }
        }
        return clients
    }
}

/// A client that keeps only whether it was welcomed and the frames that are not `welcome`
/// or `presence`.
final class QuietClient: Sendable {
    let outlet = QuietOutlet()
    let session: ChatSession

    init(node: ChatNode) {
        session = node.attach(outlet)
    }

    func join(_ nick: String) async throws {
        session.receive(ChatFrameCodec.encode(.join(JoinRequest(nick: nick))))
        try await eventually("\(nick) to be welcomed", timeout: .seconds(60)) { outlet.welcomed || outlet.refusal != nil }
        if let refusal = outlet.refusal { throw TimedOut("\(nick) was refused: \(refusal)") }
    }
}

final class QuietOutlet: ChatOutlet {
    private struct State {
        var welcomed = false
        var refusal: String?
        var texts: [String] = []
    }

    private let state = Mutex(State())

    func send(_ text: String) {
        state.withLock { state in
            if text.contains(#""type":"welcome""#) {
                state.welcomed = true
            } else if text.contains(#""type":"error""#) {
                state.refusal = text
            } else if !text.contains(#""type":"presence""#) {
                state.texts.append(text)
            }
        }
    }

    func close(code: Int, reason: String) {}

    var welcomed: Bool { state.withLock { $0.welcomed } }
    var refusal: String? { state.withLock { $0.refusal } }
    var texts: [String] { state.withLock { $0.texts } }
}

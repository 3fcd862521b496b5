import Broker
import ServerTestSupport
import Testing

@testable import Chat

/// Issue 16, point 5, for rooms: a `read` moves the user's read position on every node (a
/// record in `chat.state`), capped at what the node read of `chat.history`; the welcome carries
/// `read`, `unread` and `privateReceipts` on any node; `settings` is stored and answered; and
/// `chat.state`'s checkpoints keep every account, device and read position through retention
/// at a tiny cap. On every backend.
@Suite("Read state", .timeLimit(.minutes(5)))
struct ReadStateTests {
    static let password = "correct horse battery staple"

    /// Says `count` messages in `room` and returns their `seq`s.
    static func say(_ client: TestClient, _ count: Int, room: String = ChatName.lobby, prefix: String) async throws -> [Int64] {
        var seqs: [Int64] = []
        for index in 0..<count {
            let id = "\(prefix)\(index)"
            client.send(.say(SayRequest(id: id, room: room, text: id)))
            try await client.sent(id)
            seqs.append(try #require(try await client.message(id).seq))
        }
        return seqs
    }

    /// A client on `node` that joined `nick`, and its welcome's token.
    static func join(_ cluster: ChatCluster, _ nick: String, on node: String) async throws -> (TestClient, String) {
        cluster.uses(nick)
        let client = cluster.client(on: node)
        return (client, try await client.join(nick).token)
    }

    static func position(_ node: ChatNode, _ nick: String, _ room: String) async -> Int64? {
        await node.executor.readState.position(of: nick, in: .room(room))
    }

    @Test(arguments: BackendKind.allCases)
    func aRoomsReadPositionReachesTheWelcomeOnAnotherNodeWithItsUnreadCount(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            try await cluster.start("a")
            let nodeB = try await cluster.start("b")
            let (alice, token) = try await Self.join(cluster, "alice", on: "a")
            let bob = try await cluster.joined("bob", on: "b")
            let seqs = try await Self.say(bob, 5, prefix: "m")
            try await alice.waitForMessage("m4")
            // Alice's own message after them does not count as unread for her.
            _ = try await Self.say(alice, 1, prefix: "own")
            alice.send(.read(ReadRequest(room: ChatName.lobby, upTo: seqs[2])))
            try await eventually("node b to read alice's position") { await Self.position(nodeB, "alice", ChatName.lobby) == seqs[2] }
            alice.session.disconnected()

            let again = cluster.client(on: "b")
            let welcome = try await again.join("alice", token: token)
            #expect(welcome.read == ConversationCounts(rooms: [ChatName.lobby: seqs[2]]))
            #expect(welcome.unread == ConversationCounts(rooms: [ChatName.lobby: 2]))
            #expect(welcome.privateReceipts == true)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aReadPastWhatTheNodeReadIsCappedAndAnOlderOneMovesNothing(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            let node = try await cluster.start("a")
            let alice = try await cluster.joined("alice", on: "a")
            let seqs = try await Self.say(alice, 2, prefix: "c")
            let last = try #require(await node.executor.historyMachine.lastOffset)
            #expect(last >= seqs[1])
            alice.send(.read(ReadRequest(room: ChatName.lobby, upTo: 1_000_000_000)))
            try await eventually("the capped position") { await Self.position(node, "alice", ChatName.lobby) == last }
            // Another second's read of an older seq: no record, the position stays.
            alice.send(.read(ReadRequest(room: "rust", upTo: seqs[0])))
            try await eventually("rust's position") { await Self.position(node, "alice", "rust") == seqs[0] }
            alice.send(.read(ReadRequest(room: ChatName.lobby, upTo: seqs[0])))
            try await alice.roundTrip()
            #expect(await Self.position(node, "alice", ChatName.lobby) == last)
            #expect(alice.errors.isEmpty)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func settingsAreStoredAnsweredAndInTheNextWelcomeOnAnotherNode(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            try await cluster.start("a")
            let nodeB = try await cluster.start("b")
            let (alice, token) = try await Self.join(cluster, "alice", on: "a")
            alice.send(.settings(SettingsRequest(privateReceipts: false)))
            let answer = try await alice.next("settings") { frame -> Settings? in if case .settings(let settings) = frame { settings } else { nil } }
            #expect(answer == Settings(privateReceipts: false))
            try await eventually("node b to read the settings") { await !nodeB.executor.readState.privateReceipts(of: "alice") }
            alice.session.disconnected()
            let welcome = try await cluster.client(on: "b").join("alice", token: token)
            #expect(welcome.privateReceipts == false)
            #expect(welcome.read == ConversationCounts())
        }
    }

    @Test func aReadOfAPrivateConversationIsRefusedUntilItsStreamIsServed() async throws {
        try await withCluster(.inMemory) { cluster in
            try await cluster.start("a")
            let alice = try await cluster.joined("alice", on: "a")
            alice.send(.read(ReadRequest(with: "bob", upTo: 3)))
            #expect(try await alice.error(.badRequest).message.contains("not served yet"))
        }
    }

    /// Ten users mark ten rooms read, again and again as new messages come (about 1,000 `read`
    /// records, some deferred by the per-second throttle): about 500 KB of records as the nodes
    /// count them, in a `chat.state` of 100 KB (segments of 10 KB). The nodes checkpoint every
    /// user's state before it ages out, so a node started afterwards, which finds the stream's
    /// first records gone, still knows every account, device and read position.
    @Test(arguments: BackendKind.allCases)
    func everyAccountDeviceAndReadPositionSurvivesManyReadRecordsAtATinyStateStreamCap(_ kind: BackendKind) async throws {
        var limits = ChatLimits()
        limits.stateStreamBytes = 100_000
        limits.stateSegmentBytes = 10_000
        try await withCluster(kind, limits: limits) { cluster in
            let nodeA = try await cluster.start("a")
            try await cluster.start("b")
            let alice = try await cluster.joined("alice", on: "a")
            alice.send(.setPassword(SetPasswordRequest(password: Self.password)))
            _ = try await alice.next("passwordSet") { frame -> Bool? in if case .passwordSet = frame { true } else { nil } }
            cluster.uses("bob")
            let bob = cluster.client(on: "b")
            bob.send(.join(JoinRequest(nick: "bob", device: "Bob's phone")))
            let bobSession = try #require(try await bob.welcome().session)

            let rooms = (0..<10).map { "r\($0)" }
            var readers = [alice]
            for index in 0..<9 { readers.append(try await cluster.joined("reader\(index)", on: index % 2 == 0 ? "a" : "b")) }
            for round in 0..<10 {
                let seq = try #require(try await Self.say(bob, 1, prefix: "round\(round)-").first)
                for reader in readers {
                    try await reader.waitForMessage("round\(round)-0")
                    for room in rooms { reader.send(.read(ReadRequest(room: room, upTo: seq))) }
                }
                // Within a second of the last round's reads they are deferred, then stored.
                try await eventually("round \(round)'s positions on node a") {
                    let positions = await nodeA.executor.readState.positions
                    return positions.count == 10 && positions.values.allSatisfy { $0.count == 10 && $0.values.allSatisfy { $0.upTo == seq } }
                }
            }
            for reader in readers { #expect(reader.errors.isEmpty) }
            let checkpoints = await nodeA.executor.checkpointsPublished + cluster.node("b").executor.checkpointsPublished
            // About one round of eleven users per 45 KB counted (half of 100 KB less a segment):
            // 150 to 180 measured; a node naming users again while their checkpoints are on
            // their way made about 250, a checkpoint storm thousands.
            #expect(checkpoints > 0 && checkpoints < 300, "\(checkpoints) checkpoints")

            let nodeC = try await cluster.start("c")
            let fresh = cluster.client(on: "c")
            fresh.send(.join(JoinRequest(nick: "alice", password: Self.password)))
            let welcome = try await fresh.welcome()
            let first = try #require(await nodeC.executor.firstStateOffset)
            #expect(first > 0, "retention dropped the stream's first records")
            let expected = await nodeA.executor.readState.positions.mapValues { $0.mapValues(\.upTo) }
            #expect(await nodeC.executor.readState.positions.mapValues { $0.mapValues(\.upTo) } == expected)
            #expect(welcome.read?.rooms.count == 10)
            #expect(await nodeC.executor.accountsMachine.accounts["alice"] != nil)
            #expect(await nodeC.executor.accountsMachine.devices == nodeA.executor.accountsMachine.devices)
            let bobAgain = cluster.client(on: "c")
            bobAgain.send(.join(JoinRequest(nick: "bob", session: bobSession)))
            #expect(try await bobAgain.welcome().nick == "bob")
        }
    }

    /// A `chat.state` declared by an earlier build (without the segment size) is used as it is:
    /// the broker refuses the new arguments (RabbitMQ: 406), the node and the operator tool
    /// declare it passively, and accounts and read positions work.
    @Test(arguments: BackendKind.allCases)
    func aStateStreamDeclaredByAnEarlierBuildIsUsedAsItIs(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            let channel = try await cluster.testBroker.channel("earlier")
            try await channel.declareQueue(
                cluster.topology.stateStream,
                options: QueueOptions(durable: true, arguments: ["x-queue-type": "stream", "x-max-length-bytes": .int(1 << 28)]))
            let node = try await cluster.start("a")
            let (alice, _) = try await Self.join(cluster, "alice", on: "a")
            alice.send(.read(ReadRequest(room: ChatName.lobby, upTo: 0)))
            try await eventually("alice's position") { await Self.position(node, "alice", ChatName.lobby) == 0 }
            // The operator tool too.
            try await cluster.addAccount("carol", password: Self.password)
            cluster.uses("carol")
            try await eventually("node a to read carol's account") { await node.executor.accountsMachine.accounts["carol"] != nil }
            let carol = cluster.client(on: "a")
            carol.send(.join(JoinRequest(nick: "carol", password: Self.password)))
            #expect(try await carol.welcome().nick == "carol")
        }
    }
}

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
            let seqs = try await Self.say(alice, 5, prefix: "m")
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

    /// Ten users each mark fifty rooms read: about 265 KB of records as the nodes count them,
    /// in a `chat.state` of 60 KB (segments of 6 KB). The nodes checkpoint every user's state
    /// before it ages out, so a node started afterwards, which finds the stream's first records
    /// gone, still knows every account, device and read position.
    @Test(arguments: BackendKind.allCases)
    func everyAccountDeviceAndReadPositionSurvivesManyReadRecordsAtATinyStateStreamCap(_ kind: BackendKind) async throws {
        var limits = ChatLimits()
        limits.stateStreamBytes = 60_000
        limits.stateSegmentBytes = 6_000
        // Fifty reads at once from each session: above the default burst of frames.
        limits.ratePerSecond = 1000
        limits.burst = 1000
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
            let seq = try #require(try await Self.say(alice, 1, prefix: "r").first)

            let rooms = (0..<50).map { "r\($0)" }
            var readers = [alice]
            for index in 0..<9 { readers.append(try await cluster.joined("reader\(index)", on: index % 2 == 0 ? "a" : "b")) }
            for reader in readers {
                for room in rooms { reader.send(.read(ReadRequest(room: room, upTo: seq))) }
                try await reader.roundTrip()
                #expect(reader.errors.isEmpty)
            }
            try await eventually("node a to read every position") {
                await nodeA.executor.readState.positions.values.reduce(0) { $0 + $1.count } == 500
            }
            // The checkpoints of the last round are read back too: a marker read after them.
            alice.send(.read(ReadRequest(room: "after", upTo: seq)))
            try await eventually("the last read") { await Self.position(nodeA, "alice", "after") == seq }

            let nodeC = try await cluster.start("c")
            let fresh = cluster.client(on: "c")
            fresh.send(.join(JoinRequest(nick: "alice", password: Self.password)))
            let welcome = try await fresh.welcome()
            let first = try #require(await nodeC.executor.firstStateOffset)
            #expect(first > 0, "retention dropped the stream's first records")
            let expected = await nodeA.executor.readState.positions.mapValues { $0.mapValues(\.upTo) }
            #expect(await nodeC.executor.readState.positions.mapValues { $0.mapValues(\.upTo) } == expected)
            #expect(welcome.read?.rooms.count == 51)
            #expect(await nodeC.executor.accountsMachine.accounts["alice"] != nil)
            #expect(await nodeC.executor.accountsMachine.devices == nodeA.executor.accountsMachine.devices)
            let bobAgain = cluster.client(on: "c")
            bobAgain.send(.join(JoinRequest(nick: "bob", session: bobSession)))
            #expect(try await bobAgain.welcome().nick == "bob")
        }
    }
}

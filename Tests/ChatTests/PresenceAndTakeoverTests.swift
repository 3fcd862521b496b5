import Chat
import ServerTestSupport
import Testing

/// Presence across nodes (joins, leaves, a node that dies) and one live session per nick.
@Suite("Presence and takeover", .timeLimit(.minutes(5)))
struct PresenceAndTakeoverTests {
    static func presence(_ nick: String, online: Bool) -> (ServerFrame) -> Presence? {
        { frame in
            if case .presence(let presence) = frame, presence.status(of: nick) == online { return presence }
            return nil
        }
    }

    @Test(arguments: BackendKind.allCases)
    func presenceIsClusterWide(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob")
            try await cluster.start("a")
            try await cluster.start("b")
            let bob = cluster.client(on: "b")
            try await bob.join("bob")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            try await bob.next("alice online", Self.presence("alice", online: true))
            alice.session.disconnected()
            try await bob.next("alice offline", Self.presence("alice", online: false))
        }
    }

    @Test(arguments: BackendKind.allCases)
    func usersOfANodeThatStopsGracefullyGoOfflineAtOnce(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob")
            let clock = ManualChatClock()
            try await cluster.start("a")
            try await cluster.start("b", clock: clock)
            let bob = cluster.client(on: "b")
            try await bob.join("bob")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            try await bob.next("alice online", Self.presence("alice", online: true))
            await cluster.stop("a")
            try await bob.next("alice offline", Self.presence("alice", online: false))
        }
    }

    @Test(arguments: BackendKind.allCases)
    func usersOfANodeThatDiesAreShownOfflineWithinFifteenSeconds(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob")
            let clock = ManualChatClock()
            try await cluster.start("a")
            try await cluster.start("b", clock: clock)
            let bob = cluster.client(on: "b")
            try await bob.join("bob")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            try await bob.next("alice online", Self.presence("alice", online: true))
            let announcements = try await BrokerSpy.bind(cluster, exchange: cluster.topology.presenceExchange, routingKey: "")

            await cluster.cutOff("a")
            // An announcement that left node a just before the cut comes first: a barrier
            // through node b's queue (presence and typing travel there, in order).
            let carol = try await cluster.joined("carol", on: "b")
            try await carol.typingBarrier(to: bob)
            clock.advance(by: .seconds(11))
            // Barriers: node b announces its roster on every tick (100 ms) and expires silent
            // nodes in the same tick, so the third announcement after the advance comes from a
            // tick that ran after it; dave's join then goes out in the same presence frame as
            // whatever that tick changed, or in a later one.
            try await announcements.drain()
            let nodeB = #""node":"\#(cluster.testBroker.prefix)b""#
            try await announcements.waitFor("node b's roster", count: 3) { $0.contains(#""kind":"roster""#) && $0.contains(nodeB) }
            try await cluster.joined("dave", on: "b")
            try await bob.next("dave online", Self.presence("dave", online: true))
            #expect(!bob.received.contains { if case .presence(let p) = $0 { p.status(of: "alice") == false } else { false } })
            clock.advance(by: .seconds(4))
            try await bob.next("alice offline", timeout: .seconds(2), Self.presence("alice", online: false))
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aNewerJoinOfTheSameNickReplacesTheOlderSessionOnAnotherNode(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice", "bob")
            try await cluster.start("a")
            try await cluster.start("b")
            let old = cluster.client(on: "a")
            let welcome = try await old.join("alice")
            let new = cluster.client(on: "b")
            try await new.join("alice", token: welcome.token)
            let replaced = try await old.error(.replaced)
            #expect(replaced.message.hasSuffix("."))
            try await eventually("the old session to close") { old.closeCode == ChatCloseCode.replaced }

            let bob = cluster.client(on: "a")
            try await bob.join("bob")
            bob.send(.tell(TellRequest(id: "1", to: "alice", text: "which one?")))
            try await new.message("which one?")
            old.send(.say(SayRequest(id: "late", text: "still here?")))
            // Barriers: the stream to bob's node, and alice's queue, hand over in order.
            try await new.publicBarrier(reaching: [bob])
            try await bob.privateBarrier(to: new)
            #expect(!old.messages.contains { $0.text == "which one?" })
            #expect(!bob.messages.contains { $0.text == "still here?" })
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aNewerJoinOfTheSameNickOnTheSameNodeReplacesTheOlder(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice")
            try await cluster.start("a")
            let old = cluster.client(on: "a")
            let welcome = try await old.join("alice")
            let new = cluster.client(on: "a")
            try await new.join("alice", token: welcome.token)
            try await old.error(.replaced)
            #expect(old.closeCode == ChatCloseCode.replaced)
        }
    }
}

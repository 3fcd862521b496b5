import BrokerTestSupport
import Chat
import Testing

/// Presence across nodes (joins, leaves, a node that dies) and one live session per nick.
@Suite("Presence and takeover", .timeLimit(.minutes(1)))
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

            await cluster.cutOff("a")
            // Let an announcement that left node a just before the cut arrive first.
            try await Task.sleep(for: .milliseconds(300))
            clock.advance(by: .seconds(11))
            try await Task.sleep(for: .milliseconds(300))
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
            try await Task.sleep(for: .milliseconds(200))
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

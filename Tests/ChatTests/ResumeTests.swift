import ServerTestSupport
import Testing

@testable import Chat

/// Issue 16, point 6: a client that reconnects names its last `seq` per room and gets exactly
/// what it missed, in order, once; beyond what the node keeps, a `gap` says so
/// (Specs/chat-protocol.md, "Resume without gaps").
@Suite("Resume without gaps", .timeLimit(.minutes(3)))
struct ResumeTests {
    /// Limits that let one session say a few hundred messages at once.
    static func limits(historyKept: Int = ChatLimits().historyKept) -> ChatLimits {
        var limits = ChatLimits()
        limits.ratePerSecond = 1000
        limits.burst = 1000
        limits.historyKept = historyKept
        return limits
    }

    /// Alice says `count` messages in the lobby and waits for her own copy of the last.
    static func say(_ alice: TestClient, _ count: Int, prefix: String) async throws -> [ChatMessage] {
        for n in 0..<count { alice.send(.say(SayRequest(id: "\(prefix)\(n)", text: "\(prefix) \(n)"))) }
        _ = try await alice.message("\(prefix) \(count - 1)")
        return alice.messages.filter { $0.text.hasPrefix("\(prefix) ") }
    }

    static func history(_ client: TestClient, after: Int64) async throws -> History {
        try await client.next("history after \(after)") { frame -> History? in
            if case .history(let history) = frame, history.after == after { history } else { nil }
        }
    }

    /// Reads the resume's `history` and pages on with `after` until an answer says no `more`.
    static func everythingAfter(_ client: TestClient, _ seq: Int64) async throws -> [ChatMessage] {
        var page = try await history(client, after: seq)
        var got = page.messages
        while page.more, let last = got.last?.seq {
            client.send(.history(HistoryRequest(room: "lobby", after: last, limit: 100)))
            page = try await history(client, after: last)
            got += page.messages
        }
        return got
    }

    @Test(arguments: BackendKind.allCases)
    func aRejoinNamingItsLastSeqGetsEveryMissedMessageInOrderOnce(_ kind: BackendKind) async throws {
        try await withCluster(kind, limits: Self.limits()) { cluster in
            cluster.uses("alice", "bob")
            try await cluster.start("a")
            try await cluster.start("b")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            let bob = cluster.client(on: "b")
            let bobWelcome = try await bob.join("bob")
            alice.send(.say(SayRequest(id: "before", text: "before")))
            let last = try await bob.message("before")
            let lastSeq = try #require(last.seq)

            // Bob is away while 150 messages reach the lobby; he comes back on the other node.
            bob.session.disconnected()
            let missed = try await Self.say(alice, 150, prefix: "away")
            #expect(missed.count == 150)
            let back = cluster.client(on: "a")
            back.send(.join(JoinRequest(nick: "bob", token: bobWelcome.token, resume: JoinResume(rooms: ["lobby": lastSeq]))))
            let welcome = try await back.welcome()
            #expect(welcome.history["lobby"] == nil)
            #expect(welcome.moreHistory.isEmpty)
            let first = try await Self.history(back, after: lastSeq)
            #expect(first.messages.count == 100)
            #expect(first.more)

            let firstEnd = try #require(first.messages.last?.seq)
            back.send(.history(HistoryRequest(room: "lobby", after: firstEnd, limit: 100)))
            let second = try await Self.history(back, after: firstEnd)
            #expect(!second.more)
            let got = first.messages + second.messages
            #expect(got.map(\.msgId) == missed.map(\.msgId))
            #expect(got.compactMap(\.seq) == got.compactMap(\.seq).sorted())
            #expect(!back.received.contains { if case .gap = $0 { true } else { false } })

            // Live messages go on after it, once.
            alice.send(.say(SayRequest(id: "live", text: "live")))
            _ = try await back.message("live")
            try await alice.publicBarrier(reaching: [back])
            #expect(back.messages.filter { $0.text == "live" }.count == 1)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aPositionBeyondRetentionGetsAGapThenWhatIsKept(_ kind: BackendKind) async throws {
        try await withCluster(kind, limits: Self.limits(historyKept: 50)) { cluster in
            cluster.uses("alice", "bob")
            try await cluster.start("a")
            let alice = cluster.client(on: "a")
            try await alice.join("alice")
            let bob = cluster.client(on: "a")
            let bobWelcome = try await bob.join("bob")
            alice.send(.say(SayRequest(id: "before", text: "before")))
            let lastMessage = try await bob.message("before")
            let lastSeq = try #require(lastMessage.seq)

            bob.session.disconnected()
            let missed = try await Self.say(alice, 120, prefix: "away")
            let kept = Array(missed.suffix(50))
            let back = cluster.client(on: "a")
            back.send(.join(JoinRequest(nick: "bob", token: bobWelcome.token, resume: JoinResume(rooms: ["lobby": lastSeq]))))
            try await back.welcome()
            let gap = try await back.next("gap") { frame -> Gap? in if case .gap(let gap) = frame { gap } else { nil } }
            // The node holds every message from `next` on: past the last one it dropped, at most
            // the oldest it kept (other records of the stream may lie between).
            #expect(gap.room == "lobby" && gap.after == lastSeq)
            #expect(gap.next > (missed[69].seq ?? .max))
            #expect(gap.next <= (kept.first?.seq ?? .min))
            let page = try await Self.history(back, after: lastSeq)
            #expect(page.messages.map(\.msgId) == kept.map(\.msgId))
            #expect(!page.more)

            // `history after` pages forward the same way, with its `gap` first.
            back.send(.history(HistoryRequest(room: "lobby", after: lastSeq, limit: 20)))
            let again = try await back.next("second gap") { frame -> Gap? in if case .gap(let gap) = frame { gap } else { nil } }
            #expect(again == gap)
            let paged = try await Self.everythingAfter(back, lastSeq)
            #expect(paged.map(\.msgId) == kept.map(\.msgId))
            // A position past the newest message: nothing, no gap.
            let newest = try #require(kept.last?.seq)
            back.send(.history(HistoryRequest(room: "lobby", after: newest)))
            let empty = try await Self.history(back, after: newest)
            #expect(empty.messages.isEmpty && !empty.more)
            #expect(back.received.filter { if case .gap = $0 { true } else { false } }.count == 2)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func badPositionsAreRefusedAndTheSessionGoesOn(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice")
            try await cluster.start("a")
            let alice = cluster.client(on: "a")
            alice.sendRaw(#"{"type":"join","nick":"alice","resume":{"rooms":{"dev":3}}}"#)
            let notJoined = try await alice.error(.badRequest)
            #expect(notJoined.message.contains("dev"))
            alice.sendRaw(#"{"type":"join","nick":"alice","resume":{"rooms":{"lobby":-1}}}"#)
            try await alice.error(.badRequest)
            try await alice.join("alice")
            for bad in [
                #"{"type":"history","room":"lobby","after":-5}"#, #"{"type":"history","room":"lobby","after":1.5}"#,
                #"{"type":"history","room":"lobby","after":99999999999999999999}"#, #"{"type":"history","room":"lobby","after":2,"before":9}"#,
            ] {
                alice.sendRaw(bad)
                try await alice.error(.badRequest)
            }
            alice.send(.history(HistoryRequest(room: "lobby", after: 0)))
            let answer = try await Self.history(alice, after: 0)
            #expect(answer.messages.isEmpty)
        }
    }
}

import Chat
import ServerTestSupport
import Testing

/// After a re-join, a client knows its own messages by `msgId` (Specs/chat-protocol.md, "After a
/// re-join"): the join lists the ids it got no answer for, the welcome names the `msgId` of each.
@Suite("Re-join with pending ids")
struct RejoinPendingTests {
    @Test(arguments: BackendKind.allCases)
    func theWelcomeNamesTheMsgIdOfEachPendingIdAsItsSentDoes(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            try await cluster.start("a")
            let alice = cluster.client(on: "a")
            let first = try await alice.join("alice")
            alice.send(.say(SayRequest(id: "p1", text: "taken before the break")))
            let sent = try await alice.sent("p1")
            alice.session.disconnected()

            // The connection broke before `sent` reached the page: it lists p1 (taken) and p2
            // (never sent); the welcome names both msgIds, and its history holds p1's.
            let again = cluster.client(on: "a")
            again.send(.join(JoinRequest(nick: "alice", token: first.token, pending: ["p1", "p2"])))
            let welcome = try await again.welcome()
            #expect(welcome.pending?["p1"] == sent.msgId)
            #expect(welcome.history["lobby"]?.contains { $0.msgId == sent.msgId } == true)
            let p2 = try #require(welcome.pending?["p2"])
            again.send(.say(SayRequest(id: "p2", text: "sent after the re-join")))
            #expect(try await again.sent("p2").msgId == p2)
            // The retry of p1 is answered with the same msgId.
            again.send(.say(SayRequest(id: "p1", text: "taken before the break")))
            #expect(try await again.sent("p1").msgId == sent.msgId)

            // Without `pending`, the welcome has none.
            let bob = cluster.client(on: "a")
            #expect(try await bob.join("bob").pending == nil)
        }
    }

    @Test func aJoinListsAtMostAHundredValidPendingIds() throws {
        let limits = ChatLimits()
        let hundred = (0..<100).map { "\"c\($0)\"" }.joined(separator: ",")
        let frame = try ChatFrameCodec.decodeClientFrame(#"{"type":"join","nick":"a","pending":[\#(hundred)]}"#, limits: limits)
        guard case .join(let join) = frame else {
            Issue.record("not a join: \(frame)")
            return
        }
        #expect(join.pending?.count == 100)
        for bad in [
            #"{"type":"join","nick":"a","pending":[\#(hundred),"c100"]}"#,
            #"{"type":"join","nick":"a","pending":[""]}"#,
            #"{"type":"join","nick":"a","pending":["\#(String(repeating: "x", count: 129))"]}"#,
        ] {
            #expect {
                try ChatFrameCodec.decodeClientFrame(bad, limits: limits)
            } throws: { error in
                (error as? ChatProtocolError)?.code == .badRequest
            }
        }
    }
}

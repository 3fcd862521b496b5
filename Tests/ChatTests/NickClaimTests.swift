import ServerTestSupport
import Testing

@testable import Chat

/// A join whose claim of a new nick is slow to come back is answered `unavailable`, but the
/// claim may still win: the retry of that join (same nonce) gets the nick on any node, and
/// nobody else does.
@Suite("Idempotent nick claims", .timeLimit(.minutes(5)))
struct NickClaimTests {
    /// Joins a new nick (`base` plus a number) on a node that gives up on its claim at once,
    /// until one join is answered `unavailable`: its claim was published but not read back in
    /// time (a join whose claim still came back first simply got its nick). Returns that nick
    /// and the nonce of the join.
    static func joinAnsweredUnavailable(_ cluster: ChatCluster, on nodeId: String, base: String) async throws -> (nick: String, nonce: String) {
        for attempt in 0..<10 {
            let nick = "\(base)\(attempt)"
            cluster.uses(nick)
            let nonce = JoinRequest.makeNonce()
            let client = cluster.client(on: nodeId)
            client.send(.join(JoinRequest(nick: nick, nonce: nonce)))
            let answer = try await client.next("an answer to the join") { frame -> ServerFrame? in
                switch frame {
                case .welcome, .error: frame
                default: nil
                }
            }
            if case .error(let error) = answer {
                #expect(error.code == .unavailable)
                return (nick, nonce)
            }
        }
        throw TimedOut("No join of a \(base) nick was answered unavailable")
    }

    @Test(arguments: BackendKind.allCases)
    func aJoinAnsweredUnavailableWhoseClaimWonIsGrantedOnRetryOnAnotherNode(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            try await cluster.start("a", claimTimeout: .zero)
            let nodeB = try await cluster.start("b")
            let (carol, nonce) = try await Self.joinAnsweredUnavailable(cluster, on: "a", base: "carol")
            // The claim landed anyway and is the nick's first: every node reads it.
            try await eventually("node b to read carol's claim") { await nodeB.executor.claims[carol] != nil }

            let stranger = cluster.client(on: "b")
            stranger.send(.join(JoinRequest(nick: carol, nonce: JoinRequest.makeNonce())))
            #expect(try await stranger.error(.authFailed).message.contains("taken"))
            let noNonce = cluster.client(on: "a")
            noNonce.send(.join(JoinRequest(nick: carol)))
            try await noNonce.error(.authFailed)

            let retry = cluster.client(on: "b")
            retry.send(.join(JoinRequest(nick: carol, nonce: nonce)))
            let welcome = try await retry.welcome()
            #expect(welcome.nick == carol)
            #expect(welcome.token == NickToken(secret: cluster.secret).token(for: carol))
            // The nick is fully claimed now: its token works anywhere, a private message reaches it.
            let dave = cluster.client(on: "b")
            cluster.uses("dave")
            try await dave.join("dave")
            dave.send(.tell(TellRequest(id: "t1", to: carol, text: "welcome, carol")))
            try await dave.sent("t1")
            try await retry.message("welcome, carol")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aRetryWithTheSameNonceOnTheSameNodeGetsTheNick(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            let nodeA = try await cluster.start("a", claimTimeout: .zero)
            let (erin, nonce) = try await Self.joinAnsweredUnavailable(cluster, on: "a", base: "erin")
            try await eventually("node a to read erin's claim") { await nodeA.executor.claims[erin] != nil }
            let retry = cluster.client(on: "a")
            retry.send(.join(JoinRequest(nick: erin, nonce: nonce)))
            #expect(try await retry.welcome().nick == erin)
            // A second retry of the same join (its welcome lost, say) still gets it; a stranger does not.
            retry.session.disconnected()
            let again = cluster.client(on: "a")
            again.send(.join(JoinRequest(nick: erin, nonce: nonce)))
            #expect(try await again.welcome().nick == erin)
            let stranger = cluster.client(on: "a")
            stranger.send(.join(JoinRequest(nick: erin, nonce: JoinRequest.makeNonce())))
            try await stranger.error(.authFailed)
        }
    }

    @Test func aNonceIsSixteenToOneHundredTwentyEightPrintableCharacters() throws {
        let limits = ChatLimits()
        #expect(throws: ChatProtocolError.self) {
            try ChatFrameCodec.decodeClientFrame(#"{"type":"join","nick":"a","nonce":"short"}"#, limits: limits)
        }
        #expect(throws: ChatProtocolError.self) {
            try ChatFrameCodec.decodeClientFrame(#"{"type":"join","nick":"a","nonce":"with a space inside it"}"#, limits: limits)
        }
        let frame = try ChatFrameCodec.decodeClientFrame(#"{"type":"join","nick":"a","nonce":"0123456789abcdef"}"#, limits: limits)
        #expect(frame == .join(JoinRequest(nick: "a", nonce: "0123456789abcdef")))
        #expect(JoinRequest.makeNonce().utf8.count == 32)
        #expect(JoinRequest.makeNonce() != JoinRequest.makeNonce())
    }

    @Test func theClaimantDependsOnNickNonceAndSecret() {
        let tokens = NickToken(secret: Array("one secret".utf8))
        let other = NickToken(secret: Array("another secret".utf8))
        let claimant = tokens.claimant(for: "carol", nonce: "0123456789abcdef")
        #expect(claimant == tokens.claimant(for: "carol", nonce: "0123456789abcdef"))
        #expect(claimant != tokens.claimant(for: "carol", nonce: "0123456789abcdeg"))
        #expect(claimant != tokens.claimant(for: "carl", nonce: "0123456789abcdef"))
        #expect(claimant != other.claimant(for: "carol", nonce: "0123456789abcdef"))
        #expect(!claimant.contains("0123456789abcdef"))
    }
}

import Chat
import Foundation
import ServerTestSupport
import Testing

/// Issue 16, point 1: a nick protected with a password, signed in from any session; the
/// password limits; `--registration closed` with operator accounts. On every backend.
@Suite("Accounts: passwords and registration", .timeLimit(.minutes(5)))
struct AccountTests {
    static let password = "correct horse battery staple"

    static func passwordSet(_ client: TestClient) async throws {
        _ = try await client.next("passwordSet") { frame -> Bool? in if case .passwordSet = frame { true } else { nil } }
    }

    static func signIn(_ client: TestClient, _ nick: String, password: String) {
        client.send(.join(JoinRequest(nick: nick, password: password)))
    }

    @Test(arguments: BackendKind.allCases)
    func aProtectedNickSignsInWithItsPasswordFromAnotherNodeAndRefusesTokenFreeAndWrongJoins(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice")
            try await cluster.start("a")
            try await cluster.start("b")
            let alice = cluster.client(on: "a")
            let welcome = try await alice.join("alice")
            alice.send(.setPassword(SetPasswordRequest(password: "short")))
            try await alice.error(.weakPassword)
            alice.send(.setPassword(SetPasswordRequest(password: Self.password)))
            try await Self.passwordSet(alice)

            // Another session, on the other node, signs in once that node read the record
            // (before, the nick has no password there: auth_failed, nothing taken).
            var signedIn: TestClient?
            try await eventually("b to read the password record") {
                let probe = cluster.client(on: "b")
                Self.signIn(probe, "alice", password: Self.password)
                let welcomed = try await probe.next("welcome or auth_failed") { frame -> Bool? in
                    if case .welcome = frame { return true }
                    if case .error(let error) = frame, error.code == .authFailed { return false }
                    return nil
                }
                if welcomed { signedIn = probe }
                return welcomed
            }
            let laptop = try #require(signedIn)
            #expect(laptop.received.contains { if case .welcome(let w) = $0 { w.nick == "alice" } else { false } })

            let byToken = cluster.client(on: "b")
            byToken.send(.join(JoinRequest(nick: "alice", token: welcome.token)))
            let refusal = try await byToken.error(.authFailed)
            #expect(refusal.message == ClientFrame.signInFailed)
            let free = cluster.client(on: "a")
            free.send(.join(JoinRequest(nick: "alice")))
            #expect(try await free.error(.authFailed).message == ClientFrame.signInFailed)
            let wrong = cluster.client(on: "b", address: "192.0.2.7")
            Self.signIn(wrong, "alice", password: "not the password at all")
            #expect(try await wrong.error(.authFailed).message == ClientFrame.signInFailed)

            // Changing it needs the current one.
            laptop.send(.setPassword(SetPasswordRequest(password: "another long password")))
            try await laptop.error(.authFailed)
            laptop.send(.setPassword(SetPasswordRequest(password: "another long password", current: "wrong wrong wrong")))
            try await laptop.error(.authFailed)
            laptop.send(.setPassword(SetPasswordRequest(password: "another long password", current: Self.password)))
            try await Self.passwordSet(laptop)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func fiveWrongPasswordsLockTheNickUntilTheWindowPassesOnTheNodesClock(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("bob", "carol")
            let clock = ManualChatClock()
            try await cluster.start("a", clock: clock)
            let bob = cluster.client(on: "a")
            try await bob.join("bob")
            bob.send(.setPassword(SetPasswordRequest(password: Self.password)))
            try await Self.passwordSet(bob)
            for attempt in 0..<5 {
                let guesser = cluster.client(on: "a", address: "198.51.100.\(attempt)")
                Self.signIn(guesser, "bob", password: "guess number \(attempt)")
                try await guesser.error(.authFailed)
            }
            let sixth = cluster.client(on: "a", address: "198.51.100.9")
            Self.signIn(sixth, "bob", password: Self.password)
            let limited = try await sixth.error(.rateLimited)
            #expect(limited.message.contains("900 seconds"))
            clock.advance(by: .seconds(15 * 60))
            let owner = cluster.client(on: "a", address: "198.51.100.9")
            Self.signIn(owner, "bob", password: Self.password)
            #expect(try await owner.welcome().nick == "bob")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aPasswordSurvivesARestartOfEveryNode(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("dave")
            try await cluster.start("a")
            let dave = cluster.client(on: "a")
            let welcome = try await dave.join("dave")
            dave.send(.setPassword(SetPasswordRequest(password: Self.password)))
            try await Self.passwordSet(dave)
            dave.session.disconnected()
            await cluster.stop("a")

            try await cluster.start("a2")
            let thief = cluster.client(on: "a2")
            thief.send(.join(JoinRequest(nick: "dave", token: welcome.token)))
            try await thief.error(.authFailed)
            let again = cluster.client(on: "a2")
            Self.signIn(again, "dave", password: Self.password)
            #expect(try await again.welcome().nick == "dave")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func closedRegistrationRefusesAStrangerAndAdmitsAnOperatorMadeAccount(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("erin", "stranger")
            try await cluster.addAccount("erin", password: Self.password)
            try await cluster.start("a", registrationClosed: true)
            let stranger = cluster.client(on: "a")
            stranger.send(.join(JoinRequest(nick: "stranger")))
            let refusal = try await stranger.error(.registrationClosed)
            #expect(refusal.message.contains("operator"))
            let noPassword = cluster.client(on: "a")
            noPassword.send(.join(JoinRequest(nick: "erin")))
            try await noPassword.error(.authFailed)
            let erin = cluster.client(on: "a")
            Self.signIn(erin, "erin", password: Self.password)
            #expect(try await erin.welcome().nick == "erin")
        }
    }

    /// A password stored with weaker scrypt parameters than the node's is hashed again at the
    /// next sign-in: a `rehash` record at the node's cost comes through `chat.state`, and the
    /// password (and only it) still signs in on a node started afterwards, which folds it.
    @Test(arguments: BackendKind.allCases)
    func aPasswordStoredAtALowerCostIsHashedAgainAtTheNextSignIn(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("frank")
            try await cluster.addAccount("frank", password: Self.password, cost: ChatCluster.passwordCost / 2)
            try await cluster.start("a")
            let frank = cluster.client(on: "a")
            Self.signIn(frank, "frank", password: Self.password)
            #expect(try await frank.welcome().nick == "frank")
            let cost = ChatCluster.passwordCost
            let rehashed = try await cluster.stateStreamHas { body in
                guard let record = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return false }
                return record["kind"] as? String == "rehash" && record["nick"] as? String == "frank" && record["N"] as? Int == cost
                    && record["replaces"] is String
            }
            #expect(rehashed, "a rehash record at N = \(cost)")

            try await cluster.start("b")
            let wrong = cluster.client(on: "b")
            Self.signIn(wrong, "frank", password: "not the password at all")
            try await wrong.error(.authFailed)
            let again = cluster.client(on: "b")
            Self.signIn(again, "frank", password: Self.password)
            #expect(try await again.welcome().nick == "frank")
        }
    }
}

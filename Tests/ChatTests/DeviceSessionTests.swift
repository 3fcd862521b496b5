import Chat
import ServerTestSupport
import Testing

/// Issue 16, point 2: device sessions. Every welcome names this device and its session token;
/// a join by that token signs the device in again on any node without a password; `devices`
/// and `signOut`; a revoked device's sessions close with 4005 on every node. On every backend.
@Suite("Device sessions", .timeLimit(.minutes(5)))
struct DeviceSessionTests {
    static let password = "correct horse battery staple"

    static func devices(_ client: TestClient) async throws -> [DeviceInfo] {
        client.send(.devices(DevicesRequest()))
        return try await client.next("devices") { frame -> [DeviceInfo]? in if case .devices(let list) = frame { list.devices } else { nil } }
    }

    static func signedOut(_ client: TestClient) async throws -> [String] {
        try await client.next("signedOut") { frame -> [String]? in if case .signedOut(let answer) = frame { answer.devices } else { nil } }
    }

    static func isDeviceId(_ id: String?) -> Bool {
        guard let id else { return false }
        return id.count == 12 && id.allSatisfy(\.isHexDigit)
    }

    /// Joins `nick` by `session` on `node`, again while that node has not read the device yet.
    static func joinBySession(_ cluster: ChatCluster, on node: String, _ nick: String, session: String) async throws -> (TestClient, Welcome) {
        var joined: (TestClient, Welcome)?
        try await eventually("\(node) to know the device") {
            let client = cluster.client(on: node)
            client.send(.join(JoinRequest(nick: nick, session: session)))
            do {
                joined = (client, try await client.welcome())
                return true
            } catch let refused as JoinRefused where refused.error.code == .authFailed {
                return false
            }
        }
        return try #require(joined)
    }

    @Test(arguments: BackendKind.allCases)
    func aSessionTokenSignsItsDeviceInAgainOnAnotherNodeWithoutAPasswordAndAnUnknownOneIsAuthFailed(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("alice")
            try await cluster.start("a")
            try await cluster.start("b")
            let first = cluster.client(on: "a")
            first.send(.join(JoinRequest(nick: "alice", device: "Firefox on laptop")))
            let welcome = try await first.welcome()
            let session = try #require(welcome.session)
            #expect(session.count == 43 && Self.isDeviceId(welcome.device))
            first.send(.setPassword(SetPasswordRequest(password: Self.password)))
            _ = try await first.next("passwordSet") { frame -> Bool? in if case .passwordSet = frame { true } else { nil } }
            first.session.disconnected()

            // Protected now, and still no password needed on this device: its session token.
            let (again, rejoined) = try await Self.joinBySession(cluster, on: "b", "alice", session: session)
            #expect(rejoined.session == session && rejoined.device == welcome.device, "the same device, the same token")
            let listed = try await Self.devices(again)
            #expect(listed.map(\.id) == [welcome.device], "no new device")
            #expect(listed.first?.label == "Firefox on laptop" && listed.first?.current == true)

            let stranger = cluster.client(on: "b")
            stranger.send(.join(JoinRequest(nick: "alice", session: String(repeating: "A", count: 43))))
            let refusal = try await stranger.error(.authFailed)
            #expect(refusal.message == ClientFrame.sessionFailed)
            let malformed = cluster.client(on: "b")
            malformed.send(.join(JoinRequest(nick: "alice", session: "short")))
            #expect(try await malformed.error(.authFailed).message == ClientFrame.sessionFailed)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aPasswordJoinMakesANewDeviceListedNewestFirstAndSigningOutAnotherOneEndsItsToken(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("bob")
            try await cluster.start("a")
            let phone = cluster.client(on: "a")
            let phoneWelcome = try await phone.join("bob")
            phone.send(.setPassword(SetPasswordRequest(password: Self.password)))
            _ = try await phone.next("passwordSet") { frame -> Bool? in if case .passwordSet = frame { true } else { nil } }
            phone.session.disconnected()

            let laptop = cluster.client(on: "a")
            laptop.send(.join(JoinRequest(nick: "bob", password: Self.password, device: "laptop")))
            let laptopWelcome = try await laptop.welcome()
            #expect(laptopWelcome.device != phoneWelcome.device && laptopWelcome.session != phoneWelcome.session)
            let listed = try await Self.devices(laptop)
            #expect(listed.map(\.id) == [laptopWelcome.device, phoneWelcome.device].compactMap { $0 })
            #expect(listed.map(\.current) == [true, false])
            #expect(listed.map(\.label) == ["laptop", ClientFrame.defaultDeviceLabel])

            laptop.send(.signOut(SignOutRequest(device: "0123456789ab")))
            try await laptop.error(.unknownDevice)
            laptop.send(.signOut(SignOutRequest(device: phoneWelcome.device)))
            #expect(try await Self.signedOut(laptop) == [phoneWelcome.device].compactMap { $0 })
            #expect(laptop.closeCode == nil, "another device signed out: this session goes on")
            #expect(try await Self.devices(laptop).map(\.id) == [laptopWelcome.device])
            let stale = cluster.client(on: "a")
            stale.send(.join(JoinRequest(nick: "bob", session: phoneWelcome.session)))
            #expect(try await stale.error(.authFailed).message == ClientFrame.sessionFailed)

            // This device: `signedOut`, then the session closes with 4005.
            laptop.send(.signOut(SignOutRequest()))
            #expect(try await Self.signedOut(laptop) == [laptopWelcome.device].compactMap { $0 })
            try await eventually("the signed-out session to close") { laptop.closeCode == ChatCloseCode.signedOut }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func theOldHmacTokenJoinsANickWithoutAPasswordAndItsWelcomeCarriesAFreshSession(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("carol")
            try await cluster.start("a")
            let first = cluster.client(on: "a")
            let welcome = try await first.join("carol")
            first.session.disconnected()
            let byToken = cluster.client(on: "a")
            let again = try await byToken.join("carol", token: welcome.token)
            #expect(again.session != nil && again.session != welcome.session && again.device != welcome.device, "a fresh session")
            #expect(try await Self.devices(byToken).count == 2)
        }
    }

    /// `signOut` `everywhere` on one node; the revoke applied by the other node refuses the
    /// old tokens there. `rabbitChat user passwd` (``ChatAccounts``) revokes every device: a
    /// live session on the other node closes with 4005.
    @Test(arguments: BackendKind.allCases)
    func signingOutEverywhereEndsEveryDeviceOnEveryNodeAndSoDoesTheOperatorsPasswd(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            cluster.uses("dave")
            try await cluster.start("a")
            try await cluster.start("b")
            let one = cluster.client(on: "a")
            let first = try await one.join("dave")
            one.session.disconnected()
            let (two, second) = try await Self.joinBySession(cluster, on: "b", "dave", session: try #require(first.session))
            two.session.disconnected()
            let other = cluster.client(on: "b")
            let third = try await other.join("dave", token: first.token)
            #expect(try await Self.devices(other).count == 2, "one device by its session, one new by the HMAC token")

            other.send(.signOut(SignOutRequest(everywhere: true)))
            let revoked = try await Self.signedOut(other)
            #expect(Set(revoked) == Set([second.device, third.device].compactMap { $0 }))
            try await eventually("the session to close") { other.closeCode == ChatCloseCode.signedOut }
            for session in [first.session, third.session] {
                try await eventually("node a to apply the revoke") {
                    let stale = cluster.client(on: "a")
                    stale.send(.join(JoinRequest(nick: "dave", session: session)))
                    do {
                        _ = try await stale.welcome()
                        return false
                    } catch let refused as JoinRefused {
                        return refused.error.code == .authFailed
                    }
                }
            }

            // A new device on node b, live; the operator's `user passwd` ends it from outside.
            let live = cluster.client(on: "b")
            let fresh = try await live.join("dave", token: first.token)
            #expect(fresh.session != nil)
            try await cluster.addAccount("dave", password: Self.password)
            try await eventually("node b to close the live session") { live.closeCode == ChatCloseCode.signedOut }
            let stale = cluster.client(on: "b")
            stale.send(.join(JoinRequest(nick: "dave", session: fresh.session)))
            try await stale.error(.authFailed)
            let signIn = cluster.client(on: "b")
            signIn.send(.join(JoinRequest(nick: "dave", password: Self.password)))
            #expect(try await signIn.welcome().session != nil)
        }
    }
}

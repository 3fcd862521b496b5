import Testing

@testable import Chat

/// ``AccountsMachine`` as values: the records every node folds from `chat.state`, every sign-in
/// decision (which check, the limits' verdict, which error, when scrypt runs, what it records),
/// devices and sign-out, and the bounded queue of password derivations. No broker, no tasks, a
/// clock given as values (milliseconds).
@Suite struct AccountsMachineTests {
    typealias Machine = AccountsMachine<Int>

    static func hash(_ byte: UInt8) -> PasswordHash {
        PasswordHash(n: 1 << 15, r: 8, p: 1, salt: Array(repeating: byte, count: 16), hash: Array(repeating: byte, count: 32))
    }

    /// A session token of 43 characters made of `character`.
    static func token(_ character: Character) -> String { String(repeating: character, count: 43) }

    /// A device id of 12 hex digits ending in `n`.
    static func id(_ n: Int) -> String {
        let hex = String(n, radix: 16)
        return String(repeating: "0", count: 12 - hex.count) + hex
    }

    static func check(_ machine: inout Machine, _ nick: String, password: String? = nil, session: String? = nil, closed: Bool = false, now: Int64 = 0)
        -> Machine.SignIn
    {
        machine.signIn(Machine.Credentials(nick: nick, password: password, session: session, address: "10.0.0.1"), registrationClosed: closed, now: now)
    }

    static let failed = ChatProtocolError(.authFailed, ClientFrame.signInFailed)
    static let closed = ChatProtocolError(
        .registrationClosed, "This server admits only accounts made by its operator: ask the operator for an account.")

    @Test func theNewestPasswordRecordOfANickWinsWhateverTheReadOrder() {
        var machine = Machine()
        machine.read(.password(nick: "alice", hash: Self.hash(1), ts: 10, byOperator: false))
        machine.read(.password(nick: "alice", hash: Self.hash(2), ts: 30, byOperator: false))
        machine.read(.password(nick: "alice", hash: Self.hash(3), ts: 20, byOperator: false))
        #expect(machine.accounts["alice"]?.hash == Self.hash(2))
        #expect(Self.check(&machine, "alice", password: "long enough") == .verify(Self.hash(2)))
    }

    /// A password stored with weaker parameters than the node's is hashed again at the next
    /// sign-in; the `rehash` record replaces only the hash it names and keeps its `ts`, so a
    /// password changed meanwhile (read before or after it) always wins.
    @Test func aWeakerHashIsRehashedAtSignInAndARehashNeverOutranksAPasswordChange() {
        var machine = Machine()
        let weak = PasswordHash(n: 1 << 10, r: 8, p: 1, salt: Array(repeating: 1, count: 16), hash: Array(repeating: 1, count: 32))
        machine.read(.password(nick: "alice", hash: weak, ts: 10, byOperator: true))
        #expect(machine.rehashNeeded(nick: "alice", cost: 1 << 15) == weak)
        #expect(machine.rehashNeeded(nick: "alice", cost: 1 << 10) == nil, "as strong as the node's cost")
        #expect(machine.rehashNeeded(nick: "alice", cost: 1 << 9) == nil, "never weakened")
        #expect(machine.rehashNeeded(nick: "bob", cost: 1 << 15) == nil, "no account")
        let smallR = PasswordHash(n: 1 << 15, r: 4, p: 1, salt: Array(repeating: 9, count: 16), hash: Array(repeating: 9, count: 32))
        machine.read(.password(nick: "carol", hash: smallR, ts: 10, byOperator: false))
        #expect(machine.rehashNeeded(nick: "carol", cost: 1 << 15) == smallR, "a smaller r than the default is weaker too")

        // The rehash replaces the hash it names, keeps the account's ts and its operator mark.
        machine.read(.rehash(nick: "alice", hash: Self.hash(2), replacing: weak.salt, ts: 50))
        #expect(machine.accounts["alice"] == .init(hash: Self.hash(2), ts: 10, operatorMade: true))
        #expect(machine.rehashNeeded(nick: "alice", cost: 1 << 15) == nil)

        // A change read first: the rehash of the old hash read after it does nothing.
        machine.read(.password(nick: "alice", hash: Self.hash(3), ts: 60, byOperator: false))
        machine.read(.rehash(nick: "alice", hash: Self.hash(4), replacing: Self.hash(2).salt, ts: 70))
        #expect(machine.accounts["alice"]?.hash == Self.hash(3))

        // A rehash read first, then a change made earlier by the clock than the rehash: the change wins.
        machine.read(.rehash(nick: "alice", hash: Self.hash(5), replacing: Self.hash(3).salt, ts: 90))
        #expect(machine.accounts["alice"]?.hash == Self.hash(5))
        machine.read(.password(nick: "alice", hash: Self.hash(6), ts: 80, byOperator: false))
        #expect(machine.accounts["alice"]?.hash == Self.hash(6))

        // A rehash of a deleted account brings nothing back.
        machine.read(.delete(nick: "alice", ts: 100))
        machine.read(.rehash(nick: "alice", hash: Self.hash(7), replacing: Self.hash(6).salt, ts: 110))
        #expect(machine.accounts["alice"] == nil)
    }

    @Test func aDeleteFreesTheNickAndAnOlderRecordReadLaterDoesNotBringItBack() {
        var machine = Machine()
        machine.read(.password(nick: "alice", hash: Self.hash(1), ts: 10, byOperator: true))
        machine.read(.delete(nick: "alice", ts: 20))
        machine.read(.password(nick: "alice", hash: Self.hash(1), ts: 15, byOperator: true))
        #expect(machine.accounts["alice"] == nil)
        #expect(Self.check(&machine, "alice") == .decided(.open))
        machine.read(.password(nick: "alice", hash: Self.hash(4), ts: 25, byOperator: false))
        #expect(machine.accounts["alice"]?.operatorMade == false, "a delete ends the operator's account")
    }

    @Test func aProtectedNickRefusesAJoinWithoutItsPassword() {
        var machine = Machine()
        machine.read(.password(nick: "alice", hash: Self.hash(1), ts: 1, byOperator: false))
        #expect(Self.check(&machine, "alice") == .decided(.refused(Self.failed)), "free, or by the HMAC token")
        #expect(Self.check(&machine, "alice", password: "long enough") == .verify(Self.hash(1)))
        #expect(Self.check(&machine, "bob", password: "long enough") == .decided(.refused(Self.failed)), "bob has no password")
        #expect(Self.check(&machine, "bob") == .decided(.open))
    }

    @Test func closedRegistrationAdmitsOnlyOperatorMadeAccountsAndTheyStaySoAcrossAPasswordChange() {
        var machine = Machine()
        machine.read(.password(nick: "alice", hash: Self.hash(1), ts: 1, byOperator: true))
        machine.read(.password(nick: "mallory", hash: Self.hash(2), ts: 1, byOperator: false))
        #expect(Self.check(&machine, "alice", password: "long enough", closed: true) == .verify(Self.hash(1)))
        #expect(Self.check(&machine, "alice", closed: true) == .decided(.refused(Self.failed)))
        #expect(Self.check(&machine, "mallory", password: "long enough", closed: true) == .decided(.refused(Self.closed)))
        #expect(Self.check(&machine, "stranger", closed: true) == .decided(.refused(Self.closed)))
        machine.read(.password(nick: "alice", hash: Self.hash(3), ts: 2, byOperator: false))
        #expect(Self.check(&machine, "alice", password: "long enough", closed: true) == .verify(Self.hash(3)))
    }

    @Test func aPasswordSignInIsLimitedBeforeScryptRunsAndItsOutcomeIsRecorded() {
        var machine = Machine()
        machine.read(.password(nick: "bob", hash: Self.hash(1), ts: 1, byOperator: false))
        for second in Int64(0)..<5 {
            #expect(Self.check(&machine, "bob", password: "guess \(second)", now: second * 1000) == .verify(Self.hash(1)), "scrypt runs")
            #expect(machine.passwordChecked(nick: "bob", .mismatched, now: second * 1000) == .refused(Self.failed))
        }
        guard case .decided(.refused(let limited)) = Self.check(&machine, "bob", password: "the right one", now: 10_000) else {
            Issue.record("the sixth attempt is limited without deriving")
            return
        }
        #expect(limited.code == .rateLimited)
        #expect(limited.message.contains("890 seconds"))
        #expect(Self.check(&machine, "bob", password: "the right one", now: 900_000) == .verify(Self.hash(1)), "the window passed")
        #expect(machine.passwordChecked(nick: "bob", .matched, now: 900_000) == .signedIn)
        #expect(machine.limiter.nickFailures["bob"] == nil, "a success clears the nick's failures")
        #expect(machine.passwordChecked(nick: "bob", .busy, now: 900_000) == .refused(Machine.busy))
        #expect(machine.passwordChecked(nick: "bob", .unusable, now: 900_000) == .refused(Self.failed))
        #expect(machine.limiter.nickFailures["bob"] == nil, "neither busy nor unusable counts as a failure")
    }

    @Test func setPasswordChecksTheCurrentOneUnderTheLimitsThenHashesTheNewOne() {
        var machine = Machine()
        #expect(machine.changePassword(nick: "carol", current: nil, address: "a", now: 0) == .hashNew, "no password yet")
        machine.read(.password(nick: "carol", hash: Self.hash(1), ts: 1, byOperator: false))
        guard case .refused(let missing) = machine.changePassword(nick: "carol", current: nil, address: "a", now: 0) else {
            Issue.record("a protected nick needs current")
            return
        }
        #expect(missing.code == .authFailed)
        #expect(machine.changePassword(nick: "carol", current: "old one!", address: "a", now: 0) == .verifyCurrent(Self.hash(1)))
        #expect(machine.currentChecked(nick: "carol", .mismatched, now: 0) == .refused(Machine.notCurrent))
        #expect(machine.currentChecked(nick: "carol", .busy, now: 0) == .refused(Machine.busy))
        #expect(machine.currentChecked(nick: "carol", .matched, now: 0) == .hashNew)
    }

    // MARK: Devices

    @Test func aSessionTokenSignsItsDeviceInWithOneHashAndAnUnknownOrRevokedOneIsAuthFailed() {
        var machine = Machine()
        let record = Machine.deviceRecord(nick: "alice", id: Self.id(1), token: Self.token("A"), label: "Firefox", now: 1000)
        #expect(record == .device(nick: "alice", id: Self.id(1), label: "Firefox", sessionHash: Machine.sessionHash(Self.token("A")), ts: 1000))
        #expect(Machine.sessionHash(Self.token("A")).utf8.count == 43, "SHA-256, base64url")
        machine.read(record)
        #expect(Self.check(&machine, "alice", session: Self.token("A"), now: 2000) == .decided(.device(id: Self.id(1), refreshSeen: false)))
        let signedOut = Machine.sessionFailed
        #expect(Self.check(&machine, "alice", session: Self.token("B"), now: 2000) == .decided(.refused(signedOut)), "unknown")
        #expect(Self.check(&machine, "bob", session: Self.token("A"), now: 2000) == .decided(.refused(signedOut)), "another nick's")
        // A password protects the nick; its device still signs in by its token, no KDF.
        machine.read(.password(nick: "alice", hash: Self.hash(1), ts: 1, byOperator: false))
        #expect(Self.check(&machine, "alice", session: Self.token("A"), now: 2000) == .decided(.device(id: Self.id(1), refreshSeen: false)))
        #expect(Self.check(&machine, "alice", now: 2000) == .decided(.refused(Self.failed)), "never the HMAC token with a password")
        #expect(machine.isSignedIn(nick: "alice", device: Self.id(1)))
        #expect(machine.read(.revoke(nick: "alice", devices: [Self.id(1)], ts: 3000)) == [.signOut(nick: "alice", devices: [Self.id(1)])])
        #expect(!machine.isSignedIn(nick: "alice", device: Self.id(1)))
        #expect(Self.check(&machine, "alice", session: Self.token("A"), now: 4000) == .decided(.refused(signedOut)), "revoked")
        #expect(machine.read(.revoke(nick: "alice", devices: [Self.id(1)], ts: 3000)) == [], "twice is once")
    }

    @Test func lastSeenIsRefreshedAtMostOnceAnHourAndOnlyFromTheStream() {
        var machine = Machine()
        machine.read(Machine.deviceRecord(nick: "alice", id: Self.id(1), token: Self.token("A"), label: "laptop", now: 0))
        let hour = Machine.seenInterval
        #expect(Self.check(&machine, "alice", session: Self.token("A"), now: hour - 1) == .decided(.device(id: Self.id(1), refreshSeen: false)))
        #expect(Self.check(&machine, "alice", session: Self.token("A"), now: hour) == .decided(.device(id: Self.id(1), refreshSeen: true)))
        machine.read(.seen(nick: "alice", id: Self.id(1), ts: hour))
        machine.read(.seen(nick: "alice", id: Self.id(1), ts: 5))  // older: changes nothing
        #expect(machine.deviceList(of: "alice", current: nil).first?.lastSeen == hour)
        #expect(Self.check(&machine, "alice", session: Self.token("A"), now: hour + 10) == .decided(.device(id: Self.id(1), refreshSeen: false)))
        machine.read(.seen(nick: "alice", id: Self.id(9), ts: hour))
        #expect(machine.devices["alice"]?.count == 1, "a seen record of an unknown device makes none")
    }

    @Test func theDeviceListIsNewestFirstBoundedAndMarksTheCurrentOne() {
        var machine = Machine(maxDevices: 3)
        for n in 1...3 {
            machine.read(Machine.deviceRecord(nick: "alice", id: Self.id(n), token: Self.token(Character("\(n)")), label: "d\(n)", now: Int64(n)))
        }
        let list = machine.deviceList(of: "alice", current: Self.id(2))
        #expect(list.map(\.id) == [Self.id(3), Self.id(2), Self.id(1)])
        #expect(list.map(\.current) == [false, true, false])
        #expect(list[0] == DeviceInfo(id: Self.id(3), label: "d3", created: 3, lastSeen: 3, current: false))
        #expect(machine.deviceList(of: "alice", current: nil, limit: 2).count == 2)
        #expect(machine.deviceList(of: "bob", current: nil).isEmpty)
    }

    @Test func oneDeviceOverTheCapRevokesTheLeastRecentlySeenOne() {
        var machine = Machine(maxDevices: 3)
        for n in 1...3 { machine.read(Machine.deviceRecord(nick: "alice", id: Self.id(n), token: Self.token(Character("\(n)")), label: "d", now: Int64(n))) }
        machine.read(.seen(nick: "alice", id: Self.id(1), ts: 10))
        let fourth = machine.read(Machine.deviceRecord(nick: "alice", id: Self.id(4), token: Self.token("4"), label: "d", now: 11))
        #expect(fourth == [.signOut(nick: "alice", devices: [Self.id(2)])], "device 2 was seen least recently; 1 joined again")
        #expect(machine.devices["alice"].map { Set($0.keys) } == [Self.id(1), Self.id(3), Self.id(4)])
        #expect(Self.check(&machine, "alice", session: Self.token("2"), now: 12) == .decided(.refused(Machine.sessionFailed)))
        #expect(Self.check(&machine, "alice", session: Self.token("4"), now: 12) == .decided(.device(id: Self.id(4), refreshSeen: false)))
    }

    @Test func signOutRevokesThisADeviceOrEveryOneAndAStrangersIdIsUnknownDevice() {
        var machine = Machine()
        for n in 1...3 { machine.read(Machine.deviceRecord(nick: "alice", id: Self.id(n), token: Self.token(Character("\(n)")), label: "d", now: Int64(n))) }
        machine.read(Machine.deviceRecord(nick: "bob", id: Self.id(9), token: Self.token("9"), label: "d", now: 1))
        #expect(
            machine.signOut(nick: "alice", current: Self.id(1), device: nil, everywhere: false, now: 5)
                == .publish(
                    .revoke(nick: "alice", devices: [Self.id(1)], ts: 5), devices: [Self.id(1)]))
        #expect(
            machine.signOut(nick: "alice", current: Self.id(1), device: Self.id(2), everywhere: false, now: 5)
                == .publish(
                    .revoke(nick: "alice", devices: [Self.id(2)], ts: 5), devices: [Self.id(2)]))
        guard case .refused(let unknown) = machine.signOut(nick: "alice", current: Self.id(1), device: Self.id(9), everywhere: false, now: 5) else {
            Issue.record("bob's device is not alice's")
            return
        }
        #expect(unknown.code == .unknownDevice)
        #expect(machine.devices["bob"]?[Self.id(9)] != nil, "nothing revoked")
        #expect(
            machine.signOut(nick: "alice", current: Self.id(1), device: nil, everywhere: true, now: 6)
                == .publish(
                    .revokeAll(nick: "alice", ts: 6), devices: [Self.id(3), Self.id(2), Self.id(1)]))
        // Confirmed: ended here at once, then again by the stream's copy (nothing more).
        #expect(machine.signedOut(nick: "alice", devices: [Self.id(2)]) == [.signOut(nick: "alice", devices: [Self.id(2)])])
        #expect(machine.read(.revoke(nick: "alice", devices: [Self.id(2)], ts: 5)) == [])
        // Every device read before a revokeAll ends; one read after it stays.
        #expect(machine.read(.revokeAll(nick: "alice", ts: 6)) == [.signOut(nick: "alice", devices: [Self.id(1), Self.id(3)])])
        machine.read(Machine.deviceRecord(nick: "alice", id: Self.id(5), token: Self.token("5"), label: "d", now: 7))
        #expect(machine.devices["alice"]?.keys.sorted() == [Self.id(5)])
        #expect(machine.devices["bob"]?.count == 1, "bob's devices are his")
    }

    @Test func aJoinWaitsForItsNewDeviceToComeBackThroughTheStreamOrItsDeadline() {
        var machine = Machine()
        #expect(machine.awaitDevice(nick: "alice", id: Self.id(1), job: 7) == [])
        #expect(machine.awaitDevice(nick: "alice", id: Self.id(2), job: 8) == [])
        let back = machine.read(Machine.deviceRecord(nick: "alice", id: Self.id(1), token: Self.token("1"), label: "d", now: 1))
        #expect(back == [.deviceRecorded(7, true)])
        #expect(machine.deviceWaitExpired(id: Self.id(2)) == [.deviceRecorded(8, false)])
        #expect(machine.deviceWaitExpired(id: Self.id(2)) == [], "answered once")
        #expect(machine.awaitDevice(nick: "alice", id: Self.id(1), job: 9) == [.deviceRecorded(9, true)], "already read")
        #expect(machine.awaitDevice(nick: "alice", id: Self.id(3), job: 10) == [])
        #expect(machine.linkLost() == [.deviceRecorded(10, false)])
        #expect(machine.awaited.isEmpty)
    }

    @Test func atMostTwoDerivationsRunAndThirtyTwoWaitInOrderThenUnavailable() {
        var machine = Machine()
        #expect(machine.requestDerivation(0) == [.derive(0)])
        #expect(machine.requestDerivation(1) == [.derive(1)])
        for job in 2..<34 { #expect(machine.requestDerivation(job) == []) }
        #expect(machine.waiting.count == 32)
        #expect(machine.requestDerivation(34) == [.refuse(34)])
        #expect(machine.derivationEnded() == [.derive(2)])
        #expect(machine.requestDerivation(35) == [], "a place came free")
        for job in 3..<34 { #expect(machine.derivationEnded() == [.derive(job)]) }
        #expect(machine.derivationEnded() == [.derive(35)])
        #expect(machine.derivationEnded() == [])
        #expect(machine.derivationEnded() == [])
        #expect(machine.running == 0)
        #expect(machine.derivationEnded() == [], "an extra end changes nothing")
        #expect(machine.requestDerivation(36) == [.derive(36)])
    }

    @Test func stateRecordsRoundTripAndHostileOnesAreSkipped() {
        let record = StateRecord.password(nick: "alice", hash: Self.hash(7), ts: 42, byOperator: true)
        let decoded: Machine.Record? = StateRecord.decode(record.encoded())
        #expect(decoded == .password(nick: "alice", hash: Self.hash(7), ts: 42, byOperator: true))
        let delete: Machine.Record? = StateRecord.decode(StateRecord.delete(nick: "alice", ts: 43).encoded())
        #expect(delete == .delete(nick: "alice", ts: 43))
        let device = Machine.deviceRecord(nick: "alice", id: Self.id(1), token: Self.token("A"), label: "Firefox on laptop", now: 44)
        let records: [Machine.Record] = [
            device, .seen(nick: "alice", id: Self.id(1), ts: 45), .revoke(nick: "alice", devices: [Self.id(1)], ts: 46), .revokeAll(nick: "alice", ts: 47),
            .rehash(nick: "alice", hash: Self.hash(8), replacing: Self.hash(7).salt, ts: 48),
        ]
        for record in records {
            let again: Machine.Record? = StateRecord.decode(StateRecord(record).encoded())
            #expect(again == record)
        }
        let bad: [String] = [
            #"{"kind":"password","nick":"alice","kdf":"argon2","N":32768,"r":8,"p":1,"salt":"AAAAAAAAAAAAAAAAAAAAAA==","hash":"AA==","ts":1}"#,
            #"{"kind":"password","nick":"alice","kdf":"scrypt","N":32768,"r":8,"p":1,"salt":"AAAAAAAAAAAAAAAAAAAAAA==","hash":"AA==","ts":1}"#,
            #"{"kind":"device","nick":"alice","ts":1}"#,
            #"{"kind":"delete","nick":"","ts":1}"#,
            #"{"kind":"device","nick":"alice","id":"XYZ","label":"x","session":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","ts":1}"#,
            #"{"kind":"revoke","nick":"alice","devices":["not-an-id"],"ts":1}"#,
            "not json",
        ]
        for body in bad {
            let skipped: Machine.Record? = StateRecord.decode(Array(body.utf8))
            #expect(skipped == nil, "\(body)")
        }
    }

    @Test func aCheckpointBringsBackAUsersStateButNoDeviceWhenARevokeWasReadAfterItWasMade() {
        var machine = Machine()
        machine.read(.password(nick: "alice", hash: Self.hash(1), ts: 10, byOperator: false), offset: 1)
        machine.read(.device(nick: "alice", id: Self.id(1), label: "laptop", sessionHash: "h1", ts: 20), offset: 2)
        machine.read(.seen(nick: "alice", id: Self.id(1), ts: 90), offset: 3)
        let parts = machine.records(of: "alice")
        #expect(parts.count == 3)
        var fresh = Machine()
        fresh.readCheckpoint(nick: "alice", at: 3, parts: parts)
        #expect(fresh.accounts == machine.accounts)
        #expect(fresh.devices == machine.devices)
        #expect(fresh.devices["alice"]?[Self.id(1)]?.lastSeen == 90)

        // The device was signed out after the checkpoint was made but read before it: it stays out.
        let actions = machine.read(.revoke(nick: "alice", devices: [Self.id(1)], ts: 95), offset: 4)
        #expect(actions == [.signOut(nick: "alice", devices: [Self.id(1)])])
        #expect(machine.readCheckpoint(nick: "alice", at: 3, parts: parts).isEmpty)
        #expect(machine.devices["alice"] == nil)
        #expect(machine.accounts["alice"] != nil)
        // A checkpoint made after the revoke holds no device; one of another nick's parts is ignored.
        #expect(machine.readCheckpoint(nick: "bob", at: 9, parts: parts).isEmpty)
        #expect(machine.accounts["bob"] == nil)
    }
}

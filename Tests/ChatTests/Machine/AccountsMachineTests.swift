import Testing

@testable import Chat

/// ``AccountsMachine`` as values: the records every node folds from `chat.state`, how a join
/// may go on, and the bounded queue of password derivations. No broker, no tasks.
@Suite struct AccountsMachineTests {
    typealias Machine = AccountsMachine<Int>

    static func hash(_ byte: UInt8) -> PasswordHash {
        PasswordHash(n: 1 << 15, r: 8, p: 1, salt: Array(repeating: byte, count: 16), hash: Array(repeating: byte, count: 32))
    }

    @Test func theNewestPasswordRecordOfANickWinsWhateverTheReadOrder() {
        var machine = Machine()
        machine.read(.password(nick: "alice", hash: Self.hash(1), ts: 10, byOperator: false))
        machine.read(.password(nick: "alice", hash: Self.hash(2), ts: 30, byOperator: false))
        machine.read(.password(nick: "alice", hash: Self.hash(3), ts: 20, byOperator: false))
        #expect(machine.accounts["alice"]?.hash == Self.hash(2))
        #expect(machine.check(nick: "alice", withPassword: true, registrationClosed: false) == .verify(Self.hash(2)))
    }

    @Test func aDeleteFreesTheNickAndAnOlderRecordReadLaterDoesNotBringItBack() {
        var machine = Machine()
        machine.read(.password(nick: "alice", hash: Self.hash(1), ts: 10, byOperator: true))
        machine.read(.delete(nick: "alice", ts: 20))
        machine.read(.password(nick: "alice", hash: Self.hash(1), ts: 15, byOperator: true))
        #expect(machine.accounts["alice"] == nil)
        #expect(machine.check(nick: "alice", withPassword: false, registrationClosed: false) == .open)
        machine.read(.password(nick: "alice", hash: Self.hash(4), ts: 25, byOperator: false))
        #expect(machine.accounts["alice"]?.operatorMade == false, "a delete ends the operator's account")
    }

    @Test func aProtectedNickRefusesAJoinWithoutItsPassword() {
        var machine = Machine()
        machine.read(.password(nick: "alice", hash: Self.hash(1), ts: 1, byOperator: false))
        #expect(machine.check(nick: "alice", withPassword: false, registrationClosed: false) == .authFailed)
        #expect(machine.check(nick: "alice", withPassword: true, registrationClosed: false) == .verify(Self.hash(1)))
        #expect(machine.check(nick: "bob", withPassword: true, registrationClosed: false) == .authFailed, "bob has no password")
        #expect(machine.check(nick: "bob", withPassword: false, registrationClosed: false) == .open)
    }

    @Test func closedRegistrationAdmitsOnlyOperatorMadeAccountsAndTheyStaySoAcrossAPasswordChange() {
        var machine = Machine()
        machine.read(.password(nick: "alice", hash: Self.hash(1), ts: 1, byOperator: true))
        machine.read(.password(nick: "mallory", hash: Self.hash(2), ts: 1, byOperator: false))
        #expect(machine.check(nick: "alice", withPassword: true, registrationClosed: true) == .verify(Self.hash(1)))
        #expect(machine.check(nick: "alice", withPassword: false, registrationClosed: true) == .authFailed)
        #expect(machine.check(nick: "mallory", withPassword: true, registrationClosed: true) == .registrationClosed)
        #expect(machine.check(nick: "stranger", withPassword: false, registrationClosed: true) == .registrationClosed)
        machine.read(.password(nick: "alice", hash: Self.hash(3), ts: 2, byOperator: false))
        #expect(machine.check(nick: "alice", withPassword: true, registrationClosed: true) == .verify(Self.hash(3)))
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
        let bad: [String] = [
            #"{"kind":"password","nick":"alice","kdf":"argon2","N":32768,"r":8,"p":1,"salt":"AAAAAAAAAAAAAAAAAAAAAA==","hash":"AA==","ts":1}"#,
            #"{"kind":"password","nick":"alice","kdf":"scrypt","N":32768,"r":8,"p":1,"salt":"AAAAAAAAAAAAAAAAAAAAAA==","hash":"AA==","ts":1}"#,
            #"{"kind":"device","nick":"alice","ts":1}"#,
            #"{"kind":"delete","nick":"","ts":1}"#,
            "not json",
        ]
        for body in bad {
            let skipped: Machine.Record? = StateRecord.decode(Array(body.utf8))
            #expect(skipped == nil, "\(body)")
        }
    }
}

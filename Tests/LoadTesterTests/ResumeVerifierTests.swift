import Testing

@testable import LoadTester

/// The ledgers and the verifier of a `--resume-drops` run fed synthetic events: public messages
/// are exactly once, in order, with no gap, across a drop; private ones at least once.
@Suite struct ResumeVerifierTests {
    let naming = LoadNaming(run: "t2")
    /// Clients 0, 1, 2 in room 0; client 3 in room 1.
    var plan: LoadPlan { LoadPlan(naming: naming, roomOf: [0, 0, 0, 1]) }

    func ledgers() -> [ClientLedger] {
        (0..<plan.clientCount).map { index in
            var ledger = ClientLedger(me: index, plan: plan)
            ledger.resumes = true
            return ledger
        }
    }

    /// Client `sender` sends to `target`; the server confirms it as `m<sender>-<seq>` unless `confirm` is false.
    func send(_ ledgers: inout [ClientLedger], from sender: Int, to target: LoadTarget, confirm: Bool = true) -> (LoadPayload, String) {
        let payload = ledgers[sender].willSend(to: target, at: 1)
        let msgId = "m\(sender)-\(payload.seq)"
        if confirm { ledgers[sender].confirmed(id: String(payload.seq), msgId: msgId) }
        return (payload, msgId)
    }

    func deliver(_ ledgers: inout [ClientLedger], _ sent: (LoadPayload, String), to receiver: Int) {
        let (payload, msgId) = sent
        let room: String? = if case .room(let r) = payload.target { naming.room(r) } else { nil }
        let to: String? = if case .user(let u) = payload.target { naming.nick(u) } else { nil }
        _ = ledgers[receiver].messageArrived(
            from: naming.nick(payload.sender), room: room, to: to, msgId: msgId, text: payload.text(padding: 0))
    }

    @Test func aCleanResumePasses() {
        var ledgers = ledgers()
        let before = send(&ledgers, from: 1, to: .room(0))
        for member in plan.members[0] { deliver(&ledgers, before, to: member) }
        // Client 0 drops: its message's `sent` is lost; the resume brings every member the copy.
        let lost = send(&ledgers, from: 0, to: .room(0), confirm: false)
        for member in plan.members[0] { deliver(&ledgers, lost, to: member) }
        // A page listed a message that also came live: kept once.
        ledgers[2].repeatDropped(from: naming.nick(1), text: before.0.text(padding: 0), seq: 7, allowed: true)
        // The inbox redelivers a private message whose ack was lost with the connection.
        let told = send(&ledgers, from: 3, to: .user(0))
        deliver(&ledgers, told, to: 0)
        deliver(&ledgers, told, to: 0)
        ledgers[3].receiptArrived(msgId: told.1, to: naming.nick(0))

        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(result.violations.first == [])
        #expect(result.passed)
        #expect(result.confirmed == 3)
        #expect(result.deliveries == result.expectedDeliveries)
        #expect(result.resume.confirmedByOwnCopy == 1)
        #expect(result.resume.pageRepeats == 1)
        #expect(result.tolerated.duplicatesDropped == 1)
    }

    @Test func aPublicMessageTwiceAfterAResumeIsADuplicate() {
        var ledgers = ledgers()
        let sent = send(&ledgers, from: 1, to: .room(0))
        for member in plan.members[0] { deliver(&ledgers, sent, to: member) }
        deliver(&ledgers, sent, to: 2)
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(result.violations.first == [Violation(kind: .duplicate, detail: "u2 got u1#0 again")])
    }

    @Test func aRepeatOutsideAResumePageIsADuplicate() {
        var ledgers = ledgers()
        let sent = send(&ledgers, from: 1, to: .room(0))
        for member in plan.members[0] { deliver(&ledgers, sent, to: member) }
        ledgers[0].repeatDropped(from: naming.nick(1), text: sent.0.text(padding: 0), seq: 42, allowed: false)
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(!result.passed)
        #expect(result.violations.first == [Violation(kind: .duplicate, detail: "u0 got u1#0 (seq 42) again, outside a resume's pages")])
    }

    @Test func aGapIsAViolation() {
        var ledgers = ledgers()
        ledgers[2].gapArrived(room: naming.room(0), after: 10, next: 30)
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(!result.passed)
        #expect(result.resume.gaps == 1)
        #expect(
            result.violations.first == [Violation(kind: .gap, detail: "u2 resumed \(naming.room(0)) after seq 10 and got a gap: kept from seq 30 on")])
    }

    @Test func aPublicMessageMissedAcrossTheDropIsALossAndOneOutOfOrderAMisorder() {
        var ledgers = ledgers()
        let first = send(&ledgers, from: 1, to: .room(0))
        let second = send(&ledgers, from: 1, to: .room(0))
        for member in [0, 1] {
            deliver(&ledgers, first, to: member)
            deliver(&ledgers, second, to: member)
        }
        deliver(&ledgers, second, to: 2)
        let lossOnly = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(lossOnly.violations.first == [Violation(kind: .loss, detail: "u2 never got u1#0 (to room 0)")])
        deliver(&ledgers, first, to: 2)
        let late = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(late.violations.first == [Violation(kind: .misorder, detail: "u2 got u1#0 after u1#1")])
    }

    @Test func sharesOfDroppingClientsAreSpreadEvenly() {
        #expect(ResumeDrops(share: 0.5).droppingClients(of: 10) == 5)
        #expect(ResumeDrops(share: 1).droppingClients(of: 7) == 7)
        #expect(ResumeDrops(share: 0).droppingClients(of: 7) == 0)
        #expect((0..<6).filter(ResumeDrops(share: 0.5).drops) == [1, 3, 5])
    }
}

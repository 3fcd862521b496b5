import Testing

@testable import LoadTester

/// The verifier fed synthetic events: each broken guarantee is detected and named.
@Suite struct DeliveryVerifierTests {
    let naming = LoadNaming(run: "t1")
    /// Clients 0, 1, 2 in room 0; client 3 in room 1.
    var plan: LoadPlan { LoadPlan(naming: naming, roomOf: [0, 0, 0, 1]) }

    func ledgers() -> [ClientLedger] { (0..<plan.clientCount).map { ClientLedger(me: $0, plan: plan) } }

    /// Client `sender` sends to `target`; the server confirms it as `m<sender>-<seq>`.
    func send(_ ledgers: inout [ClientLedger], from sender: Int, to target: LoadTarget, at time: UInt64 = 1) -> (LoadPayload, String) {
        let payload = ledgers[sender].willSend(to: target, at: time)
        let msgId = "m\(sender)-\(payload.seq)"
        ledgers[sender].confirmed(id: String(payload.seq), msgId: msgId)
        return (payload, msgId)
    }

    func deliver(_ ledgers: inout [ClientLedger], _ payload: LoadPayload, msgId: String, to receiver: Int, from: String? = nil) {
        let room: String? = if case .room(let r) = payload.target { naming.room(r) } else { nil }
        let to: String? = if case .user(let u) = payload.target { naming.nick(u) } else { nil }
        _ = ledgers[receiver].messageArrived(
            from: from ?? naming.nick(payload.sender), room: room, to: to, msgId: msgId, text: payload.text(padding: 3)
        )
    }

    /// Delivers a public message to every member of its room (and a private one to its addressee, with the receipt).
    func deliverFully(_ ledgers: inout [ClientLedger], _ sent: (LoadPayload, String)) {
        let (payload, msgId) = sent
        switch payload.target {
        case .room(let room):
            for member in plan.members[room] { deliver(&ledgers, payload, msgId: msgId, to: member) }
        case .user(let user):
            deliver(&ledgers, payload, msgId: msgId, to: user)
            ledgers[payload.sender].receiptArrived(msgId: msgId, to: naming.nick(user))
        }
    }

    @Test func aCleanRunPasses() {
        var ledgers = ledgers()
        for sender in 0..<4 {
            let room = plan.roomOf[sender]
            deliverFully(&ledgers, send(&ledgers, from: sender, to: .room(room)))
            deliverFully(&ledgers, send(&ledgers, from: sender, to: .user((sender + 1) % 4)))
        }
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(result.violations.first == [])
        #expect(result.passed)
        #expect(result.sent == 8)
        #expect(result.confirmed == 8)
        #expect(result.expectedDeliveries == 3 * 3 + 1 + 4)
        #expect(result.deliveries == result.expectedDeliveries)
        #expect(result.privateConfirmed == 4)
        #expect(result.receipts == 4)
    }

    @Test func aPublicMessageMissingForOneMemberIsALoss() {
        var ledgers = ledgers()
        let (payload, msgId) = send(&ledgers, from: 0, to: .room(0))
        deliver(&ledgers, payload, msgId: msgId, to: 0)
        deliver(&ledgers, payload, msgId: msgId, to: 2)
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(result.violations.count(.loss) == 1)
        #expect(result.violations.first.map(\.description) == ["loss: u1 never got u0#0 (to room 0)"])
    }

    @Test func aPrivateMessageThatNeverArrivesIsALossAndHasNoReceipt() {
        var ledgers = ledgers()
        _ = send(&ledgers, from: 1, to: .user(3))
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(result.violations.count(.loss) == 1)
        #expect(result.violations.count(.missingReceipt) == 1)
        #expect(result.violations.first.contains(Violation(kind: .loss, detail: "u3 never got u1#0 (to user 3)")))
    }

    @Test func aSecondCopyIsADuplicate() {
        var ledgers = ledgers()
        let sent = send(&ledgers, from: 0, to: .room(0))
        deliverFully(&ledgers, sent)
        deliver(&ledgers, sent.0, msgId: sent.1, to: 2)
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(result.violations.first == [Violation(kind: .duplicate, detail: "u2 got u0#0 again")])
    }

    @Test func messagesOfOneSenderOutOfOrderAreAMisorder() {
        var ledgers = ledgers()
        let first = send(&ledgers, from: 1, to: .room(0))
        let second = send(&ledgers, from: 1, to: .room(0))
        for member in [0, 1] {
            deliver(&ledgers, first.0, msgId: first.1, to: member)
            deliver(&ledgers, second.0, msgId: second.1, to: member)
        }
        deliver(&ledgers, second.0, msgId: second.1, to: 2)
        deliver(&ledgers, first.0, msgId: first.1, to: 2)
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(result.violations.first == [Violation(kind: .misorder, detail: "u2 got u1#0 after u1#1")])
    }

    @Test func aPublicMessageInAnotherRoomIsALeak() {
        var ledgers = ledgers()
        let sent = send(&ledgers, from: 0, to: .room(0))
        deliverFully(&ledgers, sent)
        deliver(&ledgers, sent.0, msgId: sent.1, to: 3)
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(result.violations.first == [Violation(kind: .leak, detail: "u3 (room 1) got u0#0, sent to room 0")])
    }

    @Test func someoneElsesPrivateMessageIsALeak() {
        var ledgers = ledgers()
        let sent = send(&ledgers, from: 0, to: .user(1))
        deliverFully(&ledgers, sent)
        deliver(&ledgers, sent.0, msgId: sent.1, to: 2)
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(result.violations.first == [Violation(kind: .leak, detail: "u2 got u0#0, a private message for u1")])
    }

    @Test func aMessageStampedWithAnotherSenderIsAWrongFrom() {
        var ledgers = ledgers()
        let sent = send(&ledgers, from: 0, to: .room(0))
        deliver(&ledgers, sent.0, msgId: sent.1, to: 0)
        deliver(&ledgers, sent.0, msgId: sent.1, to: 1)
        deliver(&ledgers, sent.0, msgId: sent.1, to: 2, from: naming.nick(1))
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(result.violations.count(.wrongFrom) == 1)
        #expect(result.violations.first.first == Violation(kind: .wrongFrom, detail: "u2 got u0#0 with from ltt1u1"))
        // And since u2 did not accept it, it also counts as lost for u2.
        #expect(result.violations.count(.loss) == 1)
    }

    @Test func aMessageWithoutSentIsUnconfirmedAndARefusalIsNamed() {
        var ledgers = ledgers()
        _ = ledgers[0].willSend(to: .room(0), at: 1)
        let refused = ledgers[1].willSend(to: .room(0), at: 1)
        ledgers[1].refused(id: String(refused.seq), code: "rate_limited", message: "Slow down.")
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(
            result.violations.first == [
                Violation(kind: .unconfirmed, detail: "u0#0 (to room 0) never got sent"),
                Violation(kind: .refused, detail: "u1#0 (to room 0) was refused with rate_limited"),
            ])
        #expect(result.refused == 1)
    }

    @Test func aReceiptNamingTheWrongAddresseeIsALeak() {
        var ledgers = ledgers()
        let (payload, msgId) = send(&ledgers, from: 0, to: .user(1))
        deliver(&ledgers, payload, msgId: msgId, to: 1)
        ledgers[0].receiptArrived(msgId: msgId, to: naming.nick(2))
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(result.violations.counts == [.leak: 1, .missingReceipt: 1])
    }

    @Test func aDeliveryWithAnotherMsgIdIsAMismatch() {
        var ledgers = ledgers()
        let (payload, msgId) = send(&ledgers, from: 0, to: .room(0))
        deliver(&ledgers, payload, msgId: msgId, to: 0)
        deliver(&ledgers, payload, msgId: msgId, to: 1)
        deliver(&ledgers, payload, msgId: "forged", to: 2)
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(
            result.violations.first == [
                Violation(kind: .msgIdMismatch, detail: "u2 got messages of u0 with msgIds other than u0 was told")
            ])
    }

    @Test func aTextNoClientSentIsUnexpected() {
        var ledgers = ledgers()
        _ = ledgers[2].messageArrived(from: "human", room: naming.room(0), to: nil, msgId: "x", text: "hello all")
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(result.violations.counts == [.unexpected: 1])
    }

    @Test func theLogKeepsTheFirstViolationsAndCountsTheRest() {
        var log = ViolationLog()
        for index in 0..<100 { log.record(.loss, "lost \(index)") }
        #expect(log.total == 100)
        #expect(log.first.count == ViolationLog.keptDetails)
        #expect(log.first.last?.detail == "lost \(ViolationLog.keptDetails - 1)")
    }

    @Test func payloadsRoundTripAndForeignTextsDoNotParse() {
        let payload = LoadPayload(run: "ab3", sender: 12, seq: 7, sentAt: 123_456_789, target: .user(4))
        #expect(LoadPayload(parsing: payload.text(padding: 20)) == payload)
        #expect(LoadPayload(parsing: LoadPayload(run: "x", sender: 0, seq: 0, sentAt: 0, target: .room(2)).text())?.target == .room(2))
        #expect(LoadPayload(parsing: "hello") == nil)
        #expect(LoadPayload(parsing: "lt ab3 1 2 3 x4") == nil)
    }

    @Test func payloadFieldsThatAreNotPlainDecimalNumbersDoNotParse() {
        #expect(LoadPayload(parsing: "lt ab3 1 2 3 r4")?.target == .room(4))
        #expect(LoadPayload(parsing: "lt ab3 1 2 3 u4 ~~~")?.target == .user(4))
        for text in [
            "lt ab3 -1 2 3 r4", "lt ab3 1 2 3 r", "lt ab3 1 2 3", "lt  1 2 3 r4", "lt ab3 1 2x 3 r4",
            "lt ab3 1 2 99999999999999999999 r4", "xt ab3 1 2 3 r4", "lt ab3 1 2 3 r4x", "",
        ] {
            #expect(LoadPayload(parsing: text) == nil, "\(text)")
        }
    }

    @Test func aPublicMessageClaimingASenderOutsideTheRoomIsUnexpected() {
        var ledgers = ledgers()
        // Client 3 is in room 1; a message to room 0 naming it as sender cannot be real.
        let forged = LoadPayload(run: naming.run, sender: 3, seq: 0, sentAt: 1, target: .room(0))
        deliver(&ledgers, forged, msgId: "forged", to: 0)
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(result.violations.first == [Violation(kind: .unexpected, detail: "u0 got u3#0 in room 0, which u3 is not in")])
    }

    @Test func everyMemberOfABusyRoomIsCheckedOnItsOwnStream() {
        // Ten senders, each with several messages, delivered in an interleaved order: each
        // sender's stream is separate, so the run passes; dropping one delivery is a loss.
        let plan = LoadPlan(naming: naming, clients: 10, rooms: 1)
        var ledgers = (0..<10).map { ClientLedger(me: $0, plan: plan) }
        var sent: [(LoadPayload, String)] = []
        for round in 0..<5 {
            for sender in 0..<10 {
                let payload = ledgers[sender].willSend(to: .room(0), at: UInt64(round))
                let msgId = "m\(sender)-\(payload.seq)"
                ledgers[sender].confirmed(id: String(payload.seq), msgId: msgId)
                sent.append((payload, msgId))
            }
        }
        for (index, (payload, msgId)) in sent.enumerated() {
            for receiver in 0..<10 where !(receiver == 7 && index == 23) {
                _ = ledgers[receiver].messageArrived(
                    from: naming.nick(payload.sender), room: naming.room(0), to: nil,
                    msgId: msgId, text: payload.text())
            }
        }
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(result.deliveries == 50 * 10 - 1)
        #expect(result.violations.first == [Violation(kind: .loss, detail: "u7 never got u3#2 (to room 0)")])
    }

    @Test func namesMapBackToIndexesOnlyForTheirRun() {
        #expect(naming.clientIndex(ofNick: naming.nick(42)) == 42)
        #expect(naming.roomIndex(ofRoom: naming.room(3)) == 3)
        #expect(LoadNaming(run: "other").clientIndex(ofNick: naming.nick(1)) == nil)
        #expect(naming.clientIndex(ofNick: "ltt1u-1") == nil)
    }
}

extension DeliveryVerifierTests {
    @Test func aDeliveredMessageWithoutSentIsUnconfirmedNotAMismatch() {
        var ledgers = ledgers()
        let payload = ledgers[0].willSend(to: .room(0), at: 1)
        for member in plan.members[0] { deliver(&ledgers, payload, msgId: "m0-0", to: member) }
        let result = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(result.violations.counts == [.unconfirmed: 1])
    }
}

extension DeliveryVerifierTests {
    /// With faults, a refusal is retried until `sent`: a message answered `unavailable` and
    /// then confirmed passes, but one still without `sent` after the drain (a publish the
    /// server never answered) is a violation, not a tolerated fault.
    @Test func withFaultsARetriedMessagePassesButOneNeverAnsweredIsUnconfirmed() {
        var ledgers = ledgers()
        for index in ledgers.indices { ledgers[index].toleratesFaults = true }
        let retried = ledgers[0].willSend(to: .room(0), at: 1)
        let toRetry = ledgers[0].refused(id: String(retried.seq), code: "unavailable", message: "The broker is down.")
        #expect(toRetry)
        ledgers[0].confirmed(id: String(retried.seq), msgId: "m0-0")
        for member in plan.members[0] { deliver(&ledgers, retried, msgId: "m0-0", to: member) }
        let passing = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(passing.passed)
        #expect(passing.tolerated.unavailable == 1)

        _ = ledgers[1].willSend(to: .room(0), at: 2)
        let failing = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(failing.violations.counts == [.unconfirmed: 1])
        #expect(failing.unconfirmedTolerated == 1)
    }
}

extension DeliveryVerifierTests {
    /// The run is drained once every private message was reported delivered. A second receipt
    /// of one message (it came twice, so it was acked twice) is not one more: counted as one,
    /// it let a run stop with a receipt still on its way (seen in CI: "receipts 599/599" at the
    /// end, then "1 missing-receipt"). A receipt that came before its retry's `sent` counts once
    /// that `sent` comes.
    @Test func aSecondReceiptOfOneMessageIsNotCountedAsAnother() {
        var ledgers = ledgers()
        for index in ledgers.indices { ledgers[index].toleratesFaults = true }
        let (first, firstId) = send(&ledgers, from: 0, to: .user(1))
        deliver(&ledgers, first, msgId: firstId, to: 1)
        deliver(&ledgers, first, msgId: firstId, to: 1)
        let counted = ledgers[0].receiptArrived(msgId: firstId, to: naming.nick(1))
        let countedAgain = ledgers[0].receiptArrived(msgId: firstId, to: naming.nick(1))
        #expect(counted)
        #expect(!countedAgain)
        #expect(ledgers[0].receipts == 1)

        let early = ledgers[0].willSend(to: .user(2), at: 2)
        let countedEarly = ledgers[0].receiptArrived(msgId: "m0-early", to: naming.nick(2))
        #expect(!countedEarly)
        #expect(ledgers[0].receipts == 1)
        ledgers[0].confirmed(id: String(early.seq), msgId: "m0-early")
        #expect(ledgers[0].receipts == 2)
        deliver(&ledgers, early, msgId: "m0-early", to: 2)
        let verdict = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        #expect(verdict.passed)
        #expect(verdict.receipts == 2)
    }
}

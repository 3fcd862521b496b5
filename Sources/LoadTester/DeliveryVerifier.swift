/// Joins the ledgers of every client of a run and checks the guarantees that need both ends:
/// every confirmed public message reached every member of its room exactly once, every
/// confirmed private message reached its addressee, every private message got `delivered`
/// back, every message was confirmed, and each arrived with the msgId its sender was told.
/// The per-client checks (leaks, wrong `from`, duplicates, misorder) were made on arrival and
/// are merged in. Pure: the same ledgers always give the same verdict.
enum DeliveryVerifier {
    struct Result: Sendable, Equatable {
        var violations: ViolationLog
        /// Messages sent, confirmed, refused.
        var sent = 0
        var confirmed = 0
        var refused = 0
        /// Deliveries expected by the plan for confirmed messages, and those that arrived.
        var expectedDeliveries = 0
        var deliveries = 0
        /// Private messages confirmed, and those whose `delivered` came back.
        var privateConfirmed = 0
        var receipts = 0
        /// Fault-tolerant runs: messages never confirmed (each also a violation: refusals are
        /// retried until `sent`), and what the clients counted instead of recording violations.
        var unconfirmedTolerated = 0
        var tolerated = ToleratedFaults()
        /// `--resume-drops` runs: drops, resumes and what came back through them.
        var resume = ResumeFigures()

        var passed: Bool { violations.isEmpty }
    }

    static func verify(plan: LoadPlan, ledgers: [ClientLedger]) -> Result {
        precondition(ledgers.count == plan.clientCount, "one ledger per client")
        var result = Result(violations: ViolationLog())
        var expectedDigest: [Int: [ClientLedger.StreamKey: UInt64]] = [:]
        var lossyStreams: Set<[Int32]> = []

        let toleratesFaults = ledgers.contains { $0.toleratesFaults }
        for ledger in ledgers {
            result.tolerated.add(ledger.tolerated)
            result.resume.add(ledger.resume)
            result.violations.merge(ledger.violations)
            // Duplicates (tolerated with faults) are not deliveries.
            result.deliveries += ledger.received - (ledger.retries ? ledger.tolerated.duplicatesDropped : 0)
            result.receipts += ledger.receipts
        }

        for sender in ledgers {
            let s = sender.me
            for (seq, message) in sender.outgoing.enumerated() {
                result.sent += 1
                let name = "u\(s)#\(seq)"
                let msgId: String
                switch message.state {
                case .pending where toleratesFaults:
                    // Never `sent`, nor refused at the end: it may or may not have reached
                    // anyone. Every `unavailable` is retried until `sent`, so a message still
                    // pending after the drain means the server left it unanswered (a publish
                    // that hung): a violation, even with faults.
                    result.unconfirmedTolerated += 1
                    result.violations.record(.unconfirmed, "\(name) (to \(message.target)) never got sent, nor an error to retry after")
                    markUncheckable(seq: seq, sender: s, target: message.target, plan: plan, ledgers: ledgers, into: &lossyStreams)
                    continue
                case .pending:
                    result.violations.record(.unconfirmed, "\(name) (to \(message.target)) never got sent")
                    markUncheckable(seq: seq, sender: s, target: message.target, plan: plan, ledgers: ledgers, into: &lossyStreams)
                    continue
                case .refused(let code):
                    result.refused += 1
                    result.violations.record(.refused, "\(name) (to \(message.target)) was refused with \(code)")
                    checkNotDelivered(name: name, seq: seq, sender: s, target: message.target, plan: plan, ledgers: ledgers, into: &result)
                    markUncheckable(seq: seq, sender: s, target: message.target, plan: plan, ledgers: ledgers, into: &lossyStreams)
                    continue
                case .confirmed(let id):
                    result.confirmed += 1
                    msgId = id
                }
                let recipients: [Int]
                let room: Int32
                switch message.target {
                case .room(let target):
                    recipients = plan.members.indices.contains(target) ? plan.members[target] : []
                    room = Int32(target)
                case .user(let addressee):
                    recipients = [addressee]
                    room = -1
                    result.privateConfirmed += 1
                    if !message.receipted {
                        result.violations.record(.missingReceipt, "\(name) (msgId \(msgId)) was never reported delivered to u\(addressee)")
                    }
                }
                let key = ClientLedger.StreamKey(sender: Int32(s), room: room)
                let element = ClientLedger.mix(seq: seq, msgId: msgId)
                for recipient in recipients {
                    result.expectedDeliveries += 1
                    if ledgers[recipient].incoming(key)?.contains(seq) != true {
                        result.violations.record(.loss, "u\(recipient) never got \(name) (to \(message.target))")
                        lossyStreams.insert([Int32(recipient), key.sender, key.room])
                    }
                    expectedDigest[recipient, default: [:]][key, default: 0] ^= element
                }
            }
        }

        // What arrived but was never sent, and msgIds that differ from the sender's.
        for receiver in ledgers {
            for (key, stream) in receiver.incomingStreams {
                let sender = ledgers[Int(key.sender)]
                if let last = stream.seqs.last, last >= sender.outgoing.count {
                    result.violations.record(.unexpected, "u\(receiver.me) got u\(key.sender)#\(last), which u\(key.sender) never sent")
                    continue
                }
                guard !lossyStreams.contains([Int32(receiver.me), key.sender, key.room]) else { continue }
                // A message published whose `sent` was lost with a connection may arrive unconfirmed.
                guard !toleratesFaults else { continue }
                if stream.digest != expectedDigest[receiver.me]?[key] ?? 0 {
                    result.violations.record(
                        .msgIdMismatch,
                        "u\(receiver.me) got messages of u\(key.sender) with msgIds other than u\(key.sender) was told"
                    )
                }
            }
        }
        return result
    }

    /// A stream that holds a message without a confirmed msgId cannot have its msgIds compared
    /// (the message is already reported as unconfirmed or refused).
    private static func markUncheckable(
        seq: Int,
        sender: Int,
        target: LoadTarget,
        plan: LoadPlan,
        ledgers: [ClientLedger],
        into streams: inout Set<[Int32]>
    ) {
        let room: Int32
        let recipients: [Int]
        switch target {
        case .room(let index):
            room = Int32(index)
            recipients = plan.members.indices.contains(index) ? plan.members[index] : []
        case .user(let addressee):
            room = -1
            recipients = [addressee]
        }
        let key = ClientLedger.StreamKey(sender: Int32(sender), room: room)
        for recipient in recipients where ledgers[recipient].incoming(key)?.contains(seq) == true {
            streams.insert([Int32(recipient), key.sender, key.room])
        }
    }

    /// A message that was not confirmed must not have reached anyone (refused means not accepted).
    private static func checkNotDelivered(
        name: String,
        seq: Int,
        sender: Int,
        target: LoadTarget,
        plan: LoadPlan,
        ledgers: [ClientLedger],
        into result: inout Result
    ) {
        let key: ClientLedger.StreamKey
        let recipients: [Int]
        switch target {
        case .room(let room):
            key = .init(sender: Int32(sender), room: Int32(room))
            recipients = plan.members.indices.contains(room) ? plan.members[room] : []
        case .user(let addressee):
            key = .init(sender: Int32(sender), room: -1)
            recipients = [addressee]
        }
        for recipient in recipients where ledgers[recipient].incoming(key)?.contains(seq) == true {
            result.violations.record(.unexpected, "u\(recipient) got \(name), which its sender was never told was sent")
            return
        }
    }
}

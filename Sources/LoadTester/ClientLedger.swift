/// Everything one simulated client sent and received, recorded as it happens, with the checks
/// that need nothing but the client itself (leaks, wrong `from`, duplicates, order) done on
/// arrival. A value type owned by the client's event loop; `DeliveryVerifier` joins all
/// ledgers at the end for the checks that need both sides (loss, receipts, msgIds).
struct ClientLedger: Sendable {
    /// One message this client sent, indexed by its sequence number (also its chat `id`).
    struct Outgoing: Sendable, Equatable {
        enum State: Sendable, Equatable {
            case pending
            case confirmed(msgId: String)
            case refused(code: String)
        }

        var target: LoadTarget
        var sentAt: UInt64
        var state: State = .pending
        var receipted = false
    }

    /// What arrived from one sender on one stream (a room, or privately).
    struct Incoming: Sendable, Equatable {
        var last = -1
        /// Seqs 0..<64 seen, one bit each, kept inline (a load run's senders rarely send more):
        /// a delivery touches this struct only, not a second allocation.
        var firstSeen: UInt64 = 0
        /// Seqs from 64 on, 64 per word.
        var moreSeen: [UInt64] = []
        var count = 0
        /// Order-independent digest of (seq, msgId) pairs, compared with the sender's side.
        var digest: UInt64 = 0

        /// Nothing arrived on this stream.
        var isEmpty: Bool { firstSeen == 0 && moreSeen.allSatisfy { $0 == 0 } }

        func contains(_ seq: Int) -> Bool {
            guard seq >= 64 else { return firstSeen & (1 << UInt64(seq)) != 0 }
            let word = (seq >> 6) - 1
            return word < moreSeen.count && moreSeen[word] & (1 << UInt64(seq & 63)) != 0
        }

        /// Marks `seq` seen; false when it already was.
        mutating func insert(_ seq: Int) -> Bool {
            let bit: UInt64 = 1 << UInt64(seq & 63)
            guard seq >= 64 else {
                guard firstSeen & bit == 0 else { return false }
                firstSeen |= bit
                return true
            }
            let word = (seq >> 6) - 1
            if word >= moreSeen.count { moreSeen.append(contentsOf: repeatElement(0, count: word - moreSeen.count + 1)) }
            guard moreSeen[word] & bit == 0 else { return false }
            moreSeen[word] |= bit
            return true
        }

        /// Records an arrival of `seq` with `msgId`: returns false for a duplicate, and, for a
        /// new one, whether it came after a later one of the same stream (`misordered`, with
        /// that later seq). In place: no copy of the stream per delivery.
        mutating func record(_ seq: Int, msgId: String) -> (new: Bool, after: Int?) {
            guard insert(seq) else { return (false, nil) }
            let after = seq < last ? last : nil
            last = max(last, seq)
            count += 1
            digest ^= ClientLedger.mix(seq: seq, msgId: msgId)
            return (true, after)
        }

        /// The sequence numbers seen, ascending.
        var seqs: [Int] {
            var result: [Int] = []
            for (word, bits) in ([firstSeen] + moreSeen).enumerated() where bits != 0 {
                for bit in 0..<64 where bits & (1 << UInt64(bit)) != 0 { result.append(word << 6 | bit) }
            }
            return result
        }
    }

    /// A stream of messages: a sender's messages to one room, or its private ones (`room` -1).
    struct StreamKey: Hashable, Sendable {
        var sender: Int32
        var room: Int32
    }

    /// What `messageArrived` found.
    enum Arrival: Equatable, Sendable {
        /// A message of this run; `sentAt` for the latency; `privateMsgId` to ack when it is private.
        case load(sentAt: UInt64, privateMsgId: String?)
        /// Something else (already recorded as a violation).
        case foreign
    }

    let me: Int
    let plan: LoadPlan
    private(set) var outgoing: [Outgoing] = []
    private(set) var privateSeqByMsgId: [String: Int] = [:]
    /// What arrived from each member of this client's room, by the sender's place in the room
    /// (``LoadPlan/slotInRoom``): a flat array, allocated on the first public arrival.
    private var roomIncoming: [Incoming] = []
    /// What arrived privately, by sender.
    private var privateIncoming: [Int32: Incoming] = [:]
    private(set) var violations = ViolationLog()
    private(set) var received = 0
    private(set) var receipts = 0
    /// Fault-tolerant mode (`--faults`): duplicates and reordering are counted, not violations;
    /// `unavailable` leaves a message pending for a retry with the same id.
    var toleratesFaults = false
    /// What the fault-tolerant mode counted instead of recording (see `LoadTester+Faults.swift`).
    var tolerated = ToleratedFaults()
    /// `--resume-drops`: the client drops and resumes. Public messages stay exactly once, in
    /// order, with no gap; private ones are at least once (the inbox redelivers what was not
    /// acked; duplicates are dropped by `msgId` and counted, like reordering); refusals that ask
    /// for a retry and receipts ahead of their `sent` are tolerated as with `--faults`.
    var resumes = false
    /// What `--resume-drops` counted (see `LoadTester+Resume.swift`).
    var resume = ResumeFigures()

    /// Refusals to retry and early receipts are tolerated (`--faults` or `--resume-drops`).
    var retries: Bool { toleratesFaults || resumes }

    init(me: Int, plan: LoadPlan) {
        self.me = me
        self.plan = plan
    }

    var myRoom: Int { plan.roomOf[me] }

    // MARK: Sending side

    /// Records a message about to be sent and returns its payload (the seq is its chat `id`).
    mutating func willSend(to target: LoadTarget, at sentAt: UInt64) -> LoadPayload {
        let seq = outgoing.count
        outgoing.append(Outgoing(target: target, sentAt: sentAt))
        return LoadPayload(run: plan.naming.run, sender: me, seq: seq, sentAt: sentAt, target: target)
    }

    /// `sent` arrived for chat `id`; returns the confirmed message, nil if the id is not ours.
    @discardableResult
    mutating func confirmed(id: String, msgId: String) -> Outgoing? {
        let me = self.me
        guard let seq = Int(id), outgoing.indices.contains(seq) else {
            violations.record(.unexpected, "u\(me) got sent for id \(id), which it never used")
            return nil
        }
        switch outgoing[seq].state {
        case .pending:
            outgoing[seq].state = .confirmed(msgId: msgId)
            if case .user = outgoing[seq].target {
                privateSeqByMsgId[msgId] = seq
                if let to = tolerated.earlyReceipts.removeValue(forKey: msgId) { receiptArrived(msgId: msgId, to: to) }
            }
            return outgoing[seq]
        case .confirmed(let earlier) where earlier == msgId:
            return nil
        case .confirmed(let earlier):
            violations.record(.msgIdMismatch, "u\(me)#\(seq) was confirmed as \(earlier) and again as \(msgId)")
            return nil
        case .refused(let code):
            violations.record(.unexpected, "u\(me)#\(seq) was refused (\(code)) and then confirmed")
            return nil
        }
    }

    /// An error frame arrived, with the `id` of the message it answers when it had one.
    /// Returns whether it refused one of this client's pending messages.
    @discardableResult
    mutating func refused(id: String?, code: String, message: String) -> Bool {
        let me = self.me
        guard let id, let seq = Int(id), outgoing.indices.contains(seq) else {
            violations.record(.unexpected, "u\(me) got error \(code): \(message)")
            return false
        }
        guard case .pending = outgoing[seq].state else { return false }
        if retries, code == "unavailable" || code == "rate_limited" {
            // Not accepted, to be sent again with the same id.
            if code == "unavailable" { tolerated.unavailable += 1 } else { tolerated.rateLimited += 1 }
            return true
        }
        outgoing[seq].state = .refused(code: code)
        return true
    }

    /// A SockJS message arrived that is not a chat frame.
    mutating func noteUnreadable(text: String, reason: String) {
        let me = self.me
        violations.record(.unexpected, "u\(me) got a message that is not a chat frame (\(reason)): \(text.prefix(60))")
    }

    /// The session closed while the run still needed it.
    mutating func noteDisconnected(code: Int, reason: String) {
        let me = self.me
        violations.record(.disconnected, "u\(me) was disconnected mid-run: \(code) \(reason)")
    }

    /// A `delivered` receipt arrived.
    /// Returns whether it reported one more message delivered: not for a second receipt of the
    /// same message (a message that came twice is acked twice), nor for one that came before
    /// its message's `sent` (``confirmed(id:msgId:)`` counts it then).
    @discardableResult
    mutating func receiptArrived(msgId: String, to: String) -> Bool {
        let me = self.me
        guard let seq = privateSeqByMsgId[msgId] else {
            if retries {
                // Its `sent` was lost with a connection; the retry's `sent` will claim it.
                tolerated.earlyReceipts[msgId] = to
                return false
            }
            violations.record(.unexpected, "u\(me) got delivered for \(msgId), not one of its private messages")
            return false
        }
        guard case .user(let addressee) = outgoing[seq].target, plan.nick(addressee) == to else {
            violations.record(.leak, "u\(me)#\(seq) was reported delivered to \(to), not to its addressee")
            return false
        }
        guard !outgoing[seq].receipted else { return false }
        receipts += 1
        outgoing[seq].receipted = true
        return true
    }

    // MARK: Receiving side

    /// A `message` frame arrived for this client.
    mutating func messageArrived(from: String, room: String?, to: String?, msgId: String, text: String) -> Arrival {
        let naming = plan.naming
        let me = self.me
        let myRoom = self.myRoom
        guard let payload = LoadPayload(parsing: text), payload.run == naming.run,
            payload.sender < plan.clientCount
        else {
            violations.record(.unexpected, "u\(me) got a message from \(from) that no client of this run sent: \(text.prefix(60))")
            return .foreign
        }
        let sender = payload.sender
        /// The message's name in a violation (made only then).
        func name() -> String { "u\(sender)#\(payload.seq)" }
        guard from == plan.nick(sender) else {
            violations.record(.wrongFrom, "u\(me) got \(name()) with from \(from)")
            return .foreign
        }
        let key: StreamKey
        let outcome: (new: Bool, after: Int?)
        switch payload.target {
        case .room(let target):
            guard room == plan.room(target), to == nil else {
                violations.record(.leak, "u\(me) got \(name()), sent to room \(target), as room \(room ?? "none") to \(to ?? "none")")
                return .foreign
            }
            guard target == myRoom else {
                violations.record(.leak, "u\(me) (room \(myRoom)) got \(name()), sent to room \(target)")
                return .foreign
            }
            guard plan.roomOf[sender] == myRoom else {
                violations.record(.unexpected, "u\(me) got \(name()) in room \(target), which u\(sender) is not in")
                return .foreign
            }
            key = StreamKey(sender: Int32(sender), room: Int32(target))
            if resumes, sender == me, outgoing.indices.contains(payload.seq), outgoing[payload.seq].state == .pending {
                // Its `sent` was lost with the dropped connection; the resume brought its copy.
                confirmed(id: String(payload.seq), msgId: msgId)
                resume.confirmedByOwnCopy += 1
            }
            if roomIncoming.isEmpty { roomIncoming = Array(repeating: Incoming(), count: plan.members[myRoom].count) }
            outcome = roomIncoming[plan.slotInRoom[sender]].record(payload.seq, msgId: msgId)
        case .user(let addressee):
            guard addressee == me else {
                violations.record(.leak, "u\(me) got \(name()), a private message for u\(addressee)")
                return .foreign
            }
            guard to == plan.nick(me), room == nil else {
                violations.record(.leak, "u\(me) got \(name()) addressed to \(to ?? "none") in room \(room ?? "none")")
                return .foreign
            }
            key = StreamKey(sender: Int32(sender), room: -1)
            outcome = privateIncoming[key.sender, default: Incoming()].record(payload.seq, msgId: msgId)
        }
        received += 1
        // With drops, private messages are at least once; public ones stay exactly once.
        let tolerant = toleratesFaults || (resumes && key.room == -1)
        if !outcome.new {
            if tolerant {
                tolerated.duplicatesDropped += 1
            } else {
                violations.record(.duplicate, "u\(me) got \(name()) again")
            }
        } else if let last = outcome.after {
            if tolerant {
                tolerated.reordered += 1
            } else {
                violations.record(.misorder, "u\(me) got \(name()) after u\(sender)#\(last)")
            }
        }
        if case .user = payload.target { return .load(sentAt: payload.sentAt, privateMsgId: msgId) }
        return .load(sentAt: payload.sentAt, privateMsgId: nil)
    }

    /// `--resume-drops`: the client's `ResumePositions` dropped a public message of its room as
    /// one it has. `allowed`: a `seq` a page of a resume listed that also came live (the spec
    /// lets a page list such a message again; the client keeps one copy per `seq`); anything
    /// else came twice from the server: a duplicate.
    mutating func repeatDropped(from: String, text: String, seq: Int64?, allowed: Bool) {
        let me = self.me
        if allowed {
            resume.pageRepeats += 1
            return
        }
        let name = LoadPayload(parsing: text).map { "u\($0.sender)#\($0.seq)" } ?? "a message from \(from)"
        violations.record(.duplicate, "u\(me) got \(name) (seq \(seq.map(String.init) ?? "none")) again, outside a resume's pages")
    }

    /// `--resume-drops`: a resume answered `gap`: the node no longer had all the client missed.
    mutating func gapArrived(room: String, after: Int64, next: Int64) {
        let me = self.me
        resume.gaps += 1
        violations.record(.gap, "u\(me) resumed \(room) after seq \(after) and got a gap: kept from seq \(next) on")
    }

    /// What arrived on one stream (a sender's messages to a room, or its private ones), nil
    /// when nothing did.
    func incoming(_ key: StreamKey) -> Incoming? {
        let sender = Int(key.sender)
        guard plan.roomOf.indices.contains(sender) else { return nil }
        if key.room == -1 { return privateIncoming[key.sender] }
        guard key.room == Int32(myRoom), plan.roomOf[sender] == myRoom, !roomIncoming.isEmpty else { return nil }
        let stream = roomIncoming[plan.slotInRoom[sender]]
        return stream.isEmpty ? nil : stream
    }

    /// Every stream on which something arrived.
    var incomingStreams: [(key: StreamKey, stream: Incoming)] {
        var result: [(key: StreamKey, stream: Incoming)] = []
        if !roomIncoming.isEmpty {
            for (slot, sender) in plan.members[myRoom].enumerated() where !roomIncoming[slot].isEmpty {
                result.append((StreamKey(sender: Int32(sender), room: Int32(myRoom)), roomIncoming[slot]))
            }
        }
        for (sender, stream) in privateIncoming { result.append((StreamKey(sender: sender, room: -1), stream)) }
        return result
    }

    /// FNV-1a over the msgId, mixed with the seq: the digest's element.
    static func mix(seq: Int, msgId: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(truncatingIfNeeded: seq) &* 0x9E37_79B9_7F4A_7C15
        var msgId = msgId
        msgId.withUTF8 { bytes in
            for byte in bytes {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01B3
            }
        }
        return hash
    }

    // MARK: Progress

    /// Messages sent and confirmed, not yet confirmed, refused.
    var outgoingCounts: (confirmed: Int, pending: Int, refused: Int) {
        var counts = (confirmed: 0, pending: 0, refused: 0)
        for message in outgoing {
            switch message.state {
            case .confirmed: counts.confirmed += 1
            case .pending: counts.pending += 1
            case .refused: counts.refused += 1
            }
        }
        return counts
    }
}

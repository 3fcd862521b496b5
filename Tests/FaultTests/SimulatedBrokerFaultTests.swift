import Chat
import InMemoryBroker
import ServerTestSupport
import Testing

/// The broker and node faults of `scripts/faults.sh`, on the simulator: alice (node a) and bob
/// (node b) exchange public and private messages, a fault strikes halfway, and every message
/// alice was told is `sent` reaches bob (duplicates dropped by msgId), every private one comes
/// back `delivered`, messages refused meanwhile got `unavailable` (retried with the same id
/// until `sent`), and both see each other online at the end.
@Suite("Faults on the simulator", .timeLimit(.minutes(5)))
struct SimulatedBrokerFaultTests {
    enum Fault: String, CaseIterable, CustomTestStringConvertible {
        /// Every connection dropped (`rabbitmqctl close_connection`).
        case dropConnections
        /// The broker unreachable for a while (`stop_app`, a few seconds, `start_app`).
        case goDownAndComeBack
        /// A broker restart: non-durable queues gone, durable ones and the stream kept.
        case restart
        /// Node a stops; alice rejoins on node b with her token.
        case nodeStops

        var testDescription: String { rawValue }
    }

    @Test("Nothing sent is lost, refusals are unavailable and retried, presence converges", arguments: Fault.allCases)
    func nothingSentIsLost(_ fault: Fault) async throws {
        try await withCluster(.inMemory) { chat in
            try await chat.startForFaults("a")
            try await chat.startForFaults("b")
            var alice = chat.client(on: "a")
            let token = try await alice.join("alice").token
            let bob = chat.client(on: "b")
            try await bob.join("bob")
            var ledger = Ledger()

            ledger.send(alice, count: 5, to: "bob")
            try await ledger.resendUntilSent(alice)

            switch fault {
            case .dropConnections:
                #expect(chat.simulator!.dropConnections() >= 2)
                ledger.send(alice, count: 5, to: "bob")
            case .goDownAndComeBack:
                chat.simulator!.goDown()
                try await eventually("both nodes to notice") { !chat.node("a").isBrokerConnected && !chat.node("b").isBrokerConnected }
                ledger.send(alice, count: 5, to: "bob")
                try await eventually("every message during the outage to be answered") {
                    ledger.pending(alice).allSatisfy { alice.refusals($0) > 0 }
                }
                chat.simulator!.comeBack()
            case .restart:
                chat.simulator!.restart()
                ledger.send(alice, count: 5, to: "bob")
            case .nodeStops:
                ledger.remember(alice)
                await chat.stop("a")
                try await eventually("bob to see alice go offline with her node") { bob.sees("alice", online: false) }
                alice = chat.client(on: "b")
                try await alice.join("alice", token: token)
                ledger.send(alice, count: 5, to: "bob")
            }
            try await eventually("node b to be connected") { chat.node("b").isBrokerConnected }
            try await ledger.resendUntilSent(alice, afterRejoin: fault == .nodeStops)
            if fault == .goDownAndComeBack {
                #expect(ledger.refused > 0, "messages sent while the broker was down are answered unavailable")
            }
            try await ledger.expectDelivered(to: bob, from: alice)
            try await eventually("alice and bob to see each other online") {
                bob.sees("alice", online: true) && alice.sees("bob", online: true)
            }
        }
    }

    @Test("A confirm that never comes is answered unavailable at the publish timeout; the retry is sent")
    func aLostConfirmIsUnavailableAndTheRetryIsSent() async throws {
        try await withCluster(.inMemory) { chat in
            let (alice, bob) = try await chat.faultPair(publishTimeout: .seconds(2))
            var ledger = Ledger()
            chat.simulator!.stallConfirms()
            ledger.send(alice, count: 4, to: "bob")
            try await eventually("every stalled publish to be answered unavailable") {
                ledger.pending(alice).allSatisfy { alice.refusals($0) > 0 }
            }
            #expect(ledger.pending(alice).count == 8, "no `sent` without a confirm")
            #expect(ledger.frames.allSatisfy { alice.unavailableCount($0.id) > 0 })
            chat.simulator!.releaseConfirms()
            try await ledger.resendUntilSent(alice)
            try await ledger.expectDelivered(to: bob, from: alice)
        }
    }

    @Test("A public message confirmed but never stored is answered unavailable, and its retry reaches the room")
    func aConfirmedButLostPublicMessageIsRetried() async throws {
        try await withCluster(.inMemory) { chat in
            let (alice, bob) = try await chat.faultPair(publishTimeout: .seconds(2))
            var ledger = Ledger()
            chat.simulator!.failPublishes(.confirmWithoutStoring)
            ledger.sendPublic(alice, count: 3)
            try await eventually("every lost message to be answered unavailable") {
                ledger.pending(alice).allSatisfy { alice.refusals($0) > 0 }
            }
            #expect(bob.messagesById.isEmpty)
            chat.simulator!.clearPublishFault()
            try await ledger.resendUntilSent(alice)
            try await ledger.expectDelivered(to: bob, from: alice)
        }
    }
}

extension SimulatedBrokerFaultTests {
    @Test("An ack whose receipt the broker refuses is answered unavailable, and the message comes again to be acked")
    func anAckThatCannotBeRecordedBringsTheMessageAgain() async throws {
        try await withCluster(.inMemory) { chat in
            let (alice, bob) = try await chat.faultPair()
            alice.send(.tell(TellRequest(id: "1", to: "bob", text: "ack me twice")))
            // A `tell` reaches bob's queue before its confirm reaches alice's node: wait for both.
            try await eventually("bob to get the message and alice its sent") {
                bob.messagesById.values.contains { $0.text == "ack me twice" } && alice.sentSoFar("1") != nil
            }
            let msgId = try #require(alice.sentSoFar("1")).msgId
            let copies = { bob.received.filter { if case .message(let m) = $0, m.msgId == msgId { true } else { false } }.count }
            let ackRefusals = { bob.received.filter { if case .error(let e) = $0, e.code == .unavailable, e.id == nil { true } else { false } }.count }

            chat.simulator!.failPublishes(.nack)
            bob.send(.ack(AckRequest(msgIds: [msgId])))
            try await eventually("bob's ack to be answered unavailable") { ackRefusals() == 1 }
            chat.simulator!.clearPublishFault()
            try await eventually("the message to come again") { copies() == 2 }
            #expect(!alice.receipts.contains(msgId))
            bob.send(.ack(AckRequest(msgIds: [msgId])))
            try await eventually("alice to get delivered") { alice.receipts.contains(msgId) }
        }
    }
}

/// What alice sent and was answered: frames by client id, resent on `unavailable` (or
/// `rate_limited`) with the same id until `sent`, at most 10 frames a second as a polite client.
struct Ledger {
    private(set) var frames: [(id: String, frame: ClientFrame)] = []
    /// The `sent` of each id, from whichever of alice's sessions got it.
    private var sentIds: [String: String] = [:]
    private var resentFor: [String: Int] = [:]
    /// `unavailable` answers seen while resending.
    private(set) var refused = 0

    mutating func send(_ client: TestClient, count: Int, to addressee: String) {
        for _ in 0..<count {
            let id = String(frames.count)
            add(client, id: id, .say(SayRequest(id: id, room: nil, text: "public \(id)")))
            let privateId = String(frames.count)
            add(client, id: privateId, .tell(TellRequest(id: privateId, to: addressee, text: "private \(privateId)")))
        }
    }

    mutating func sendPublic(_ client: TestClient, count: Int) {
        for _ in 0..<count {
            let id = String(frames.count)
            add(client, id: id, .say(SayRequest(id: id, room: nil, text: "public \(id)")))
        }
    }

    private mutating func add(_ client: TestClient, id: String, _ frame: ClientFrame) {
        frames.append((id, frame))
        client.send(frame)
    }

    /// The ids `client` has not seen `sent` for (nor an earlier session of alice's).
    func pending(_ client: TestClient) -> [String] {
        frames.map(\.id).filter { sentIds[$0] == nil && client.sentSoFar($0) == nil }
    }

    /// The msgId alice was told for `id`.
    func msgId(_ id: String, _ client: TestClient) -> String? {
        sentIds[id] ?? client.sentSoFar(id)?.msgId
    }

    /// Notes what `client` (alice's session before a rejoin) was told.
    mutating func remember(_ client: TestClient) {
        for (id, _) in frames { if let sent = client.sentSoFar(id) { sentIds[id] = sent.msgId } }
    }

    /// Resends each message refused (`unavailable`, `rate_limited`) once per refusal, as
    /// clients are told to, until every message is `sent`. With `afterRejoin`, every pending
    /// message is sent once first (a new session has seen none of them).
    mutating func resendUntilSent(_ client: TestClient, afterRejoin: Bool = false) async throws {
        var queue: [(id: String, frame: ClientFrame)] = afterRejoin ? frames.filter { pending(client).contains($0.id) } : []
        let deadline = ContinuousClock.now + TestPatience.wait
        while ContinuousClock.now < deadline {
            let pendingNow = Set(pending(client))
            if pendingNow.isEmpty { return }
            for (id, frame) in frames where pendingNow.contains(id) {
                let refusals = client.refusals(id)
                if refusals > resentFor[id, default: 0] {
                    refused += client.unavailableCount(id) > 0 ? 1 : 0
                    resentFor[id] = refusals
                    if !queue.contains(where: { $0.id == id }) { queue.append((id, frame)) }
                }
            }
            if !queue.isEmpty { client.send(queue.removeFirst().frame) }
            try await Task.sleep(for: .milliseconds(100))
        }
        let stillPending = pending(client)
        let answers = client.received.compactMap { frame -> String? in
            if case .error(let error) = frame, let id = error.id, stillPending.contains(id) { "\(id): \(error.code.rawValue)" } else { nil }
        }
        throw TimedOut("Messages \(stillPending) never got sent; their last answers: \(answers.suffix(10)).")
    }

    /// Every message is at bob once (by msgId, as the sender was told), bob acks the private
    /// ones, and each comes back to alice as `delivered`.
    func expectDelivered(to bob: TestClient, from alice: TestClient) async throws {
        let sent = frames.map { (frame: $0.frame, msgId: msgId($0.id, alice)!) }
        try await eventually("bob to get every sent message") {
            let atBob = bob.messagesById
            return sent.allSatisfy { atBob[$0.msgId] != nil }
        }
        let privateIds = sent.compactMap { if case .tell = $0.frame { $0.msgId } else { nil } }
        #expect(bob.messagesById.values.filter { $0.to != nil }.count == privateIds.count)
        bob.send(.ack(AckRequest(msgIds: privateIds)))
        try await eventually("alice to get delivered for every private message") {
            alice.receipts.isSuperset(of: privateIds)
        }
    }
}

extension ChatCluster {
    /// A node as the fault tests run it: other nodes' users expire after 2 s of silence, a
    /// take-over waits at most 5 s, and the node logs only what is critical (the faults are on
    /// purpose).
    @discardableResult
    func startForFaults(_ nodeId: String, publishTimeout: Duration? = nil) async throws -> ChatNode {
        try await start(
            nodeId, secretCheckWindow: .milliseconds(100), presenceExpiry: .seconds(2), takeoverTimeout: .seconds(5),
            publishTimeout: publishTimeout, logLevel: .critical)
    }

    /// Nodes `a` and `b` started for faults, `alice` joined on `a` and `bob` on `b`.
    func faultPair(publishTimeout: Duration? = nil) async throws -> (alice: TestClient, bob: TestClient) {
        try await startForFaults("a", publishTimeout: publishTimeout)
        try await startForFaults("b", publishTimeout: publishTimeout)
        return (try await joined("alice", on: "a"), try await joined("bob", on: "b"))
    }
}

extension TestClient {
    /// How many `unavailable` errors answered client id `id`.
    func unavailableCount(_ id: String) -> Int {
        errors.filter { $0.code == .unavailable && $0.id == id }.count
    }

    /// How many `unavailable` or `rate_limited` errors (not accepted, to be retried) answered id `id`.
    func refusals(_ id: String) -> Int {
        errors.filter { ($0.code == .unavailable || $0.code == .rateLimited) && $0.id == id }.count
    }

    /// Every message received, by `msgId` (duplicates dropped, as clients are told to).
    var messagesById: [String: ChatMessage] {
        var byId: [String: ChatMessage] = [:]
        for message in messages { byId[message.msgId] = message }
        return byId
    }

    /// The msgIds that came back as `delivered`.
    var receipts: Set<String> {
        Set(received.compactMap { if case .delivered(let delivered) = $0 { delivered.msgId } else { nil } })
    }

    /// Whether this client's latest word on `nick` (welcome roster or `presence`) says `online`.
    func sees(_ nick: String, online: Bool) -> Bool {
        var state: Bool?
        for frame in received {
            switch frame {
            case .welcome(let welcome): state = welcome.users.first { $0.nick == nick }?.online ?? state
            case .presence(let presence): state = presence.status(of: nick) ?? state
            default: break
            }
        }
        return state == online
    }
}

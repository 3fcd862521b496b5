import Testing

@testable import Chat

/// Drives a ``ClaimsMachine`` as the node's executor does, without a broker, tasks or sleeps:
/// it keeps the timers the machine started (as values), fires the due ones when the manual
/// clock is moved, records the claims published and the answers given.
struct ClaimsHarness {
    typealias Machine = ClaimsMachine<ManualInstant>

    static let timeout = Duration.seconds(5)

    var machine = Machine(claimTimeout: Self.timeout)
    var now = ManualInstant(offset: .zero)
    var timers: [String: ManualInstant] = [:]
    /// Every claim record published, in order: what the stream will carry.
    var published: [(nick: String, marker: String, claimant: String?)] = []
    /// Each waiting join's answer, by waiter.
    var answers: [UInt64: Machine.Outcome] = [:]
    var claimsChanged = 0

    mutating func note(_ actions: [Machine.Action]) {
        for action in actions {
            switch action {
            case .publishClaim(let nick, let marker, let claimant): published.append((nick, marker, claimant))
            case .startTimer(let timer): timers[timer.marker] = timer.deadline
            case .cancelTimer(let marker): timers.removeValue(forKey: marker)
            case .answer(let waiter, let outcome):
                #expect(answers[waiter] == nil, "a join is answered once")
                answers[waiter] = outcome
            case .claimsChanged: claimsChanged += 1
            }
        }
    }

    mutating func claim(_ nick: String, claimant: String? = nil, queueExists: Bool? = false, marker: String, waiter: UInt64) {
        note(machine.claim(nick, claimant: claimant, queueExists: queueExists, marker: marker, waiter: waiter, now: now))
    }

    /// The node reads a claim record from the stream.
    mutating func read(_ nick: String, marker: String, claimant: String? = nil) {
        note(machine.record(nick: nick, marker: marker, claimant: claimant))
    }

    /// Moves the manual clock and fires every timer now due.
    mutating func advance(by duration: Duration) {
        now = now.advanced(by: duration)
        for (marker, deadline) in timers.sorted(by: { $0.value < $1.value }) where deadline <= now {
            timers.removeValue(forKey: marker)
            note(machine.timerFired(marker))
        }
    }
}

/// The claim guarantees of Specs/chat-protocol.md on ``ClaimsMachine`` alone: no broker, no
/// tasks, a manual clock, no sleeps.
@Suite("ClaimsMachine")
struct ClaimsMachineTests {
    typealias Machine = ClaimsHarness.Machine

    @Test func aJoinClaimsAFreeNick() throws {
        var node = ClaimsHarness()
        node.machine.streamBegins(at: 0)
        // The stream holds every claim ever made: no queue check.
        #expect(node.machine.admission(of: "alice", token: .absent, claimant: nil) == .claim(checkQueue: false))
        node.claim("alice", marker: "a/claim/1", waiter: 7)
        #expect(node.published.map(\.marker) == ["a/claim/1"])
        #expect(node.timers["a/claim/1"] == ManualInstant(offset: ClaimsHarness.timeout))
        // Short of its deadline and before its record: no answer yet.
        node.advance(by: .seconds(4))
        #expect(node.answers.isEmpty)
        node.read("alice", marker: "a/claim/1")
        #expect(node.answers == [7: .won])
        #expect(node.timers.isEmpty)
        #expect(node.claimsChanged == 1)
        #expect(node.machine.claimsInFlight == 0)
        #expect(node.machine.claims["alice"]?.marker == "a/claim/1")
    }

    @Test func aSecondJoinOfAClaimedNickWithoutItsClaimantIsNickTaken() {
        var node = ClaimsHarness()
        node.machine.streamBegins(at: 0)
        node.claim("alice", claimant: "c1", marker: "a/claim/1", waiter: 1)
        node.read("alice", marker: "a/claim/1", claimant: "c1")
        #expect(node.machine.admission(of: "alice", token: .absent, claimant: nil) == .taken)
        #expect(node.machine.admission(of: "alice", token: .absent, claimant: "c2") == .taken)
        #expect(node.machine.admission(of: "alice", token: .invalid, claimant: nil) == .badToken)
        // The token, or the nonce of the join whose claim won (its answer was lost), gets it.
        #expect(node.machine.admission(of: "alice", token: .valid, claimant: nil) == .granted)
        #expect(node.machine.admission(of: "alice", token: .absent, claimant: "c1") == .granted)
        // A valid token for a nick without a record here records a claim, and goes on.
        #expect(node.machine.admission(of: "bob", token: .valid, claimant: nil) == .grantedRecordingClaim)
        #expect(node.machine.admission(of: "bob", token: .invalid, claimant: nil) == .badToken)
    }

    @Test func aClaimRaceIsDecidedByTheFirstRecordOnEveryNode() {
        var nodeA = ClaimsHarness()
        var nodeB = ClaimsHarness()
        nodeA.machine.streamBegins(at: 0)
        nodeB.machine.streamBegins(at: 0)
        nodeA.claim("carol", marker: "a/claim/1", waiter: 1)
        nodeB.claim("carol", marker: "b/claim/1", waiter: 1)
        // The stream holds b's record first; every node reads it in that order.
        let stream = nodeB.published + nodeA.published
        for record in stream {
            nodeA.read(record.nick, marker: record.marker, claimant: record.claimant)
            nodeB.read(record.nick, marker: record.marker, claimant: record.claimant)
        }
        #expect(nodeB.answers == [1: .won])
        #expect(nodeA.answers == [1: .taken])
        #expect(nodeA.machine.claims == nodeB.machine.claims)
        #expect(nodeA.machine.claims["carol"]?.marker == "b/claim/1")
        // The later record changed nothing.
        #expect(nodeA.claimsChanged == 1)
    }

    @Test func aRetryWithTheSameNonceWinsWhenItsEarlierClaimCameFirst() {
        var node = ClaimsHarness()
        node.machine.streamBegins(at: 0)
        // The first attempt (on another node) made its record; this node has not read it yet.
        node.claim("erin", claimant: "nonce-erin", marker: "a/claim/2", waiter: 3)
        node.claim("erin", claimant: "stranger", marker: "a/claim/3", waiter: 4)
        node.read("erin", marker: "b/claim/9", claimant: "nonce-erin")
        node.read("erin", marker: "a/claim/2", claimant: "nonce-erin")
        node.read("erin", marker: "a/claim/3", claimant: "stranger")
        #expect(node.answers == [3: .won, 4: .taken])
    }

    @Test func aClaimWhoseRecordDoesNotComeBackIsUnavailableAtItsDeadline() {
        var node = ClaimsHarness()
        node.machine.streamBegins(at: 0)
        node.claim("dave", claimant: "n1", marker: "a/claim/1", waiter: 5)
        node.advance(by: ClaimsHarness.timeout)
        #expect(node.answers == [5: .unavailable])
        // The record comes late: the claim stands (a retry with the nonce gets the nick), the
        // join was answered once.
        node.read("dave", marker: "a/claim/1", claimant: "n1")
        #expect(node.answers == [5: .unavailable])
        #expect(node.machine.admission(of: "dave", token: .absent, claimant: "n1") == .granted)
    }

    @Test func aLostLinkAnswersEveryWaitingClaimUnavailable() {
        var node = ClaimsHarness()
        node.machine.streamBegins(at: 0)
        node.claim("x", marker: "a/claim/1", waiter: 1)
        node.claim("y", marker: "a/claim/2", waiter: 2)
        node.note(node.machine.linkLost())
        #expect(node.answers == [1: .unavailable, 2: .unavailable])
        #expect(node.timers.isEmpty)
        #expect(node.machine.claimsInFlight == 0)
        node.note(node.machine.linkLost())
        #expect(node.answers.count == 2)
    }

    @Test func aNickWithAQueueButNoRecordLeftInTheStreamIsTaken() {
        var node = ClaimsHarness()
        // The stream no longer begins at offset 0: a claim may have aged out of it.
        node.machine.streamBegins(at: 40)
        #expect(node.machine.admission(of: "alice", token: .absent, claimant: nil) == .claim(checkQueue: true))
        // The queue exists: taken at once without a nonce, nothing published.
        node.claim("alice", queueExists: true, marker: "a/claim/1", waiter: 1)
        #expect(node.answers == [1: .taken])
        #expect(node.published.isEmpty)
        // The broker could not say: unavailable.
        node.claim("alice", queueExists: nil, marker: "a/claim/2", waiter: 2)
        #expect(node.answers[2] == .unavailable)
        // With a nonce it claims, to find its earlier record; being first means the queue is
        // someone else's whose record aged out.
        node.claim("alice", claimant: "n", queueExists: true, marker: "a/claim/3", waiter: 3)
        node.read("alice", marker: "a/claim/3", claimant: "n")
        #expect(node.answers[3] == .taken)
        // No queue: the claim wins as usual.
        node.claim("bob", queueExists: false, marker: "a/claim/4", waiter: 4)
        node.read("bob", marker: "a/claim/4")
        #expect(node.answers[4] == .won)
    }

    @Test func theWelcomeRosterListsTheOnlineThenTheMostRecentlySeen() {
        var node = ClaimsHarness()
        for (index, nick) in ["ann", "ben", "cat", "dan", "eve"].enumerated() {
            node.read(nick, marker: "m\(index)")
        }
        let online: Set<String> = ["dan"]
        // Under the cap: everyone, sorted.
        #expect(node.machine.welcomeRosterUsers(cap: 5) { online.contains($0) }.map(\.nick) == ["ann", "ben", "cat", "dan", "eve"])
        // Over it: online first, then the most recently seen (claimed, came online or went
        // offline), sorted by nick.
        #expect(node.machine.welcomeRosterUsers(cap: 3) { online.contains($0) }.map(\.nick) == ["cat", "dan", "eve"])
        node.machine.seen("ann")
        node.machine.seen("nobody")
        #expect(node.machine.claims["nobody"] == nil)
        #expect(node.machine.welcomeRosterUsers(cap: 3) { online.contains($0) }.map(\.nick) == ["ann", "dan", "eve"])
        let users = node.machine.welcomeRosterUsers(cap: 2) { online.contains($0) }
        #expect(users.map(\.nick) == ["ann", "dan"])
        #expect(users.map(\.online) == [false, true])
        #expect(node.machine.welcomeRosterUsers(cap: 0) { _ in true }.isEmpty)
    }

    @Test func usersFindsClaimedNicksByPrefixSortedAndBounded() {
        var node = ClaimsHarness()
        for nick in ["bob", "alice", "alina", "al", "zed"] { node.read(nick, marker: "m-\(nick)") }
        let found = node.machine.findUsers(prefix: "al", limit: 2) { $0 == "alina" }
        #expect(found.users.map(\.nick) == ["al", "alice"])
        #expect(found.more)
        let all = node.machine.findUsers(prefix: "al", limit: 3) { $0 == "alina" }
        #expect(all.users.map(\.nick) == ["al", "alice", "alina"])
        #expect(all.users.map(\.online) == [false, false, true])
        #expect(!all.more)
        #expect(node.machine.findUsers(prefix: "q", limit: 5) { _ in false }.users.isEmpty)
        // A nick claimed since the last lookup is found (the sorted list is rebuilt).
        node.read("alf", marker: "m-alf")
        #expect(node.machine.findUsers(prefix: "", limit: 10) { _ in false }.users.map(\.nick) == ["al", "alf", "alice", "alina", "bob", "zed"])
    }
}

import OrderedCollections
import Testing

@testable import Chat

/// Drives one ``JoinMachine`` as the node's executor does, without a broker, tasks or sleeps:
/// each step's result is a value the test gives, and every action the machine returned is kept
/// in order.
struct JoinHarness {
    typealias Machine = JoinMachine<ManualInstant>
    typealias Sessions = SessionsMachine<TestSession>

    static let secret = Array("join machine tests secret".utf8)
    static let tokens = NickToken(secret: secret)
    static let messageIds = MessageIDs(secret: secret)

    var machine: Machine
    /// Every action returned, in order.
    var steps: [Machine.Action] = []

    init(_ request: JoinRequest, limits: ChatLimits = ChatLimits()) {
        machine = Machine(request: request, nodeId: "a", tokens: Self.tokens, messageIds: Self.messageIds, limits: limits)
    }

    /// Records `action` and returns it.
    @discardableResult
    mutating func did(_ action: Machine.Action) -> Machine.Action {
        steps.append(action)
        return action
    }

    /// Starts the join and brings it through the catch-up and the gate to its admission check.
    mutating func throughTheGate() -> Machine.Action {
        #expect(did(machine.start(Sessions.JoinStart.go)) == .waitUntilCaughtUp)
        #expect(did(machine.caughtUp(true)) == .enterGate)
        return did(machine.enteredGate())
    }

    /// A device of a valid session token (``JoinMachine/DeviceGrant/existing(id:session:)``).
    static let device = Machine.DeviceGrant.existing(id: "d7f3a1c09b2e", session: "BwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSY")
    /// The new device the executor records when asked (``JoinMachine/Action/recordDevice(nick:label:)``).
    static let newDevice = Machine.DeviceSession(id: "e9b2c4f01a7d", session: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")

    /// From a won nick through its new device (recorded when the join asks), the queue, the
    /// nick's and the inbox's take-over to the admission.
    mutating func fromDeclareToAdmit(_ first: Machine.Action) -> Machine.Action {
        let nick = machine.nick
        var declare = first
        if case .recordDevice(nick, _) = first { declare = did(machine.deviceRecorded(Self.newDevice)) }
        #expect(declare == .declareQueue(nick: nick))
        #expect(did(machine.queueDeclared(true, sessionClosed: false)) == .takeOverNick(nick: nick))
        #expect(did(machine.tookOverNick()) == .takeInbox(nick: nick))
        return did(machine.inboxTaken(Machine.Standing(ownsNick: true, isClosed: false, isJoined: false)))
    }

    static func unavailable() -> ChatProtocolError {
        ChatProtocolError(.unavailable, "The chat cannot reach its message broker right now: try again in a moment.")
    }

    static func taken(_ nick: String) -> ChatProtocolError {
        ChatProtocolError(.authFailed, "The nick \(nick) is taken: join with its token, or pick another nick.")
    }

    static let inboxHeld = ChatProtocolError(
        .unavailable, "Your nick is still held by another connection or the broker is down: join again in a moment.")
}

/// The join's sequence and every way it fails (Specs/chat-protocol.md, "Joining" and the error
/// table) on ``JoinMachine`` alone: no broker, no tasks, no clock, no sleeps.
@Suite("JoinMachine")
struct JoinMachineTests {
    typealias Machine = JoinHarness.Machine

    static func message(_ n: Int, room: String, text: String? = nil) -> ChatMessage {
        ChatMessage(msgId: "m\(n)", from: "bob", room: room, text: text ?? "text \(n)", ts: Int64(n), seq: Int64(n))
    }

    @Test func aJoinOfAFreeNickClaimsItTakesItsQueueNickAndInboxThenWelcomes() throws {
        var join = JoinHarness(JoinRequest(nick: "alice", rooms: ["lobby", "dev"], nonce: "0123456789abcdef0123456789abcdef"))
        let claimant = JoinHarness.tokens.claimant(for: "alice", nonce: "0123456789abcdef0123456789abcdef")
        #expect(join.throughTheGate() == .checkAdmission(nick: "alice", token: .absent, claimant: claimant))
        #expect(join.machine.holdsGate && join.machine.started && !join.machine.isDone)
        #expect(join.did(join.machine.admission(.claim(checkQueue: true))) == .claim(nick: "alice", claimant: claimant, checkQueue: true))
        let admit = join.fromDeclareToAdmit(join.did(join.machine.claimed(.won)))
        #expect(admit == .admit(nick: "alice", rooms: ["lobby", "dev"]))

        var history = RoomHistory(capacity: 10)
        history.append(Self.message(1, room: "lobby"), room: "lobby")
        history.append(Self.message(2, room: "news"), room: "news")
        let roster = RosterSnapshot(users: [UserStatus(nick: "bob", online: true)])
        let welcomeAction = join.did(join.machine.admitted(history: history, roster: roster))
        guard case .welcome(let welcome, let frame, let followUp) = welcomeAction, followUp.isEmpty else {
            Issue.record("expected a welcome, got \(welcomeAction)")
            return
        }
        #expect(welcomeAction.isTerminal && join.machine.isDone)
        #expect(welcome.nick == "alice" && welcome.token == JoinHarness.tokens.token(for: "alice"))
        #expect(welcome.entered == ["lobby", "dev"] && welcome.rooms == ["lobby", "news"])
        #expect(welcome.history["lobby"]?.map(\.msgId) == ["m1"] && welcome.history["dev"] == [])
        #expect(welcome.moreHistory.isEmpty && welcome.pending == nil)
        guard case .welcome(let decoded) = try ChatFrameCodec.decodeServerFrame(frame) else {
            Issue.record("the frame is not a welcome: \(frame)")
            return
        }
        #expect(decoded.users == [UserStatus(nick: "alice", online: true), UserStatus(nick: "bob", online: true)])
        #expect(decoded.history == welcome.history && decoded.token == welcome.token)
        #expect(welcome.session == JoinHarness.newDevice.session && welcome.device == JoinHarness.newDevice.id, "a new device")
        #expect(decoded.session == welcome.session && decoded.device == welcome.device)
        #expect(join.steps.contains(.recordDevice(nick: "alice", label: nil)))
        #expect(join.steps.filter(\.isTerminal).count == 1)
    }

    @Test func aNewDeviceIsRecordedOnceTheNickIsTheJoinsAndASessionTokensDeviceIsNot() {
        var byPassword = JoinHarness(JoinRequest(nick: "alice", password: "correct horse", device: "Firefox on laptop"))
        _ = byPassword.throughTheGate()
        #expect(byPassword.did(byPassword.machine.admission(.granted)) == .recordDevice(nick: "alice", label: "Firefox on laptop"))
        #expect(byPassword.machine.deviceRecorded(nil) == .fail(JoinHarness.unavailable(), disown: nil), "not stored, or not read back in time")
        #expect(byPassword.machine.isDone)

        var bySession = JoinHarness(JoinRequest(nick: "alice", session: "BwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSY"))
        _ = bySession.throughTheGate()
        let admit = bySession.fromDeclareToAdmit(bySession.did(bySession.machine.admission(.granted, device: JoinHarness.device)))
        #expect(admit == .admit(nick: "alice", rooms: ["lobby"]))
        #expect(!bySession.steps.contains { if case .recordDevice = $0 { true } else { false } })
        guard case .welcome(let welcome, _, _) = bySession.machine.admitted(history: RoomHistory(capacity: 1), roster: RosterSnapshot(users: [])) else {
            Issue.record("expected a welcome")
            return
        }
        #expect(welcome.session == "BwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSY" && welcome.device == "d7f3a1c09b2e", "the same session")
    }

    @Test func aJoinWithoutRoomsEntersTheLobbyAndAValidTokenGoesStraightToTheQueue() {
        let token = JoinHarness.tokens.token(for: "alice")
        var join = JoinHarness(JoinRequest(nick: "alice", token: token))
        #expect(join.throughTheGate() == .checkAdmission(nick: "alice", token: .valid, claimant: nil))
        #expect(join.fromDeclareToAdmit(join.did(join.machine.admission(.granted))) == .admit(nick: "alice", rooms: ["lobby"]))
    }

    @Test func aValidTokenForANickWithoutAClaimRecordRecordsTheClaimFirst() {
        var join = JoinHarness(JoinRequest(nick: "alice", token: JoinHarness.tokens.token(for: "alice")))
        _ = join.throughTheGate()
        #expect(join.did(join.machine.admission(.grantedRecordingClaim)) == .recordClaim(nick: "alice", marker: "token/a"))
        #expect(join.fromDeclareToAdmit(join.did(join.machine.claimRecorded())) == .admit(nick: "alice", rooms: ["lobby"]))
    }

    @Test func aSecondJoinOnOneConnectionIsBadRequestAndStartsNothing() {
        var again = JoinHarness(JoinRequest(nick: "bob"))
        #expect(
            again.machine.start(JoinHarness.Sessions.JoinStart.alreadyJoined(nick: "alice"))
                == .fail(ChatProtocolError(.badRequest, "You already joined as alice: open a new connection to join as someone else."), disown: nil))
        #expect(again.machine.isDone && !again.machine.started && !again.machine.holdsGate)
        var twice = JoinHarness(JoinRequest(nick: "bob"))
        #expect(
            twice.machine.start(JoinHarness.Sessions.JoinStart.underWay)
                == .fail(ChatProtocolError(.badRequest, "A join is already under way on this connection: wait for its welcome."), disown: nil))
        #expect(twice.machine.isDone && !twice.machine.started && !twice.machine.holdsGate)
    }

    @Test func aJoinTheNodeCannotServeYetIsUnavailableBeforeTheGate() {
        var join = JoinHarness(JoinRequest(nick: "alice"))
        #expect(join.did(join.machine.start(JoinHarness.Sessions.JoinStart.go)) == .waitUntilCaughtUp)
        #expect(join.did(join.machine.caughtUp(false)) == .fail(JoinHarness.unavailable(), disown: nil))
        #expect(join.machine.isDone && join.machine.started && !join.machine.holdsGate)
    }

    @Test func aWrongTokenIsAuthFailedAndAClaimedNickWithoutItIsTaken() {
        var wrong = JoinHarness(JoinRequest(nick: "alice", token: JoinHarness.tokens.token(for: "bob")))
        #expect(wrong.throughTheGate() == .checkAdmission(nick: "alice", token: .invalid, claimant: nil))
        #expect(
            wrong.machine.admission(.badToken)
                == .fail(
                    ChatProtocolError(
                        .authFailed,
                        "This token is not valid for the nick alice: join with the token you got in its first welcome, or pick another nick."),
                    disown: nil))
        #expect(wrong.machine.isDone && wrong.machine.holdsGate)
        var taken = JoinHarness(JoinRequest(nick: "alice"))
        _ = taken.throughTheGate()
        #expect(taken.machine.admission(.taken) == .fail(JoinHarness.taken("alice"), disown: nil))
    }

    @Test func aLostClaimRaceIsTakenAndAClaimNotDecidedInTimeIsUnavailable() {
        var lost = JoinHarness(JoinRequest(nick: "alice", nonce: "0123456789abcdef"))
        _ = lost.throughTheGate()
        _ = lost.machine.admission(.claim(checkQueue: false))
        #expect(lost.machine.claimed(.taken) == .fail(JoinHarness.taken("alice"), disown: nil))
        var late = JoinHarness(JoinRequest(nick: "alice", nonce: "0123456789abcdef"))
        _ = late.throughTheGate()
        _ = late.machine.admission(.claim(checkQueue: false))
        #expect(late.machine.claimed(.unavailable) == .fail(JoinHarness.unavailable(), disown: nil))
        #expect(late.machine.isDone && late.machine.holdsGate && late.machine.started)
    }

    @Test func aBrokerFailingMidJoinIsUnavailable() {
        var join = JoinHarness(JoinRequest(nick: "alice"))
        _ = join.throughTheGate()
        #expect(join.did(join.machine.admission(.granted, device: JoinHarness.device)) == .declareQueue(nick: "alice"))
        #expect(join.machine.queueDeclared(false, sessionClosed: false) == .fail(JoinHarness.unavailable(), disown: nil))
        #expect(join.machine.isDone)
    }

    @Test func anInboxStillHeldAfterTheTakeoverTimeoutIsUnavailableAndFreesTheNick() {
        var join = JoinHarness(JoinRequest(nick: "alice"))
        _ = join.throughTheGate()
        _ = join.machine.admission(.granted, device: JoinHarness.device)
        _ = join.machine.queueDeclared(true, sessionClosed: false)
        _ = join.machine.tookOverNick()
        #expect(join.machine.inboxTaken(nil) == .fail(JoinHarness.inboxHeld, disown: "alice"))
        #expect(join.machine.isDone)
    }

    @Test func aSessionClosedMidJoinEndsItSilentlyAndGivesBackAnInboxItTook() {
        var beforeQueue = JoinHarness(JoinRequest(nick: "alice"))
        _ = beforeQueue.throughTheGate()
        _ = beforeQueue.machine.admission(.granted, device: JoinHarness.device)
        #expect(beforeQueue.machine.queueDeclared(true, sessionClosed: true) == .finish)
        #expect(beforeQueue.machine.isDone)
        let standings = [
            Machine.Standing(ownsNick: true, isClosed: true, isJoined: false),
            Machine.Standing(ownsNick: false, isClosed: false, isJoined: false),
            Machine.Standing(ownsNick: true, isClosed: false, isJoined: true),
        ]
        for standing in standings {
            var join = JoinHarness(JoinRequest(nick: "alice"))
            _ = join.throughTheGate()
            _ = join.machine.admission(.granted, device: JoinHarness.device)
            _ = join.machine.queueDeclared(true, sessionClosed: false)
            _ = join.machine.tookOverNick()
            #expect(join.machine.inboxTaken(standing) == .releaseInbox, "\(standing)")
            #expect(join.machine.isDone)
        }
    }

    /// A node stopping (its link lost) answers each waiting step as the broker being
    /// unavailable: the catch-up, the claim, the inbox's take-over.
    @Test func aNodeStoppingMidJoinAnswersEveryWaitingStepUnavailable() {
        var atCatchUp = JoinHarness(JoinRequest(nick: "alice"))
        _ = atCatchUp.machine.start(JoinHarness.Sessions.JoinStart.go)
        #expect(atCatchUp.machine.caughtUp(false) == .fail(JoinHarness.unavailable(), disown: nil))
        var atClaim = JoinHarness(JoinRequest(nick: "alice"))
        _ = atClaim.throughTheGate()
        _ = atClaim.machine.admission(.claim(checkQueue: true))
        #expect(atClaim.machine.claimed(.unavailable) == .fail(JoinHarness.unavailable(), disown: nil))
        var atInbox = JoinHarness(JoinRequest(nick: "alice", token: JoinHarness.tokens.token(for: "alice")))
        _ = atInbox.throughTheGate()
        _ = atInbox.machine.admission(.granted, device: JoinHarness.device)
        _ = atInbox.machine.queueDeclared(true, sessionClosed: false)
        _ = atInbox.machine.tookOverNick()
        #expect(atInbox.machine.inboxTaken(nil) == .fail(JoinHarness.inboxHeld, disown: "alice"))
        for join in [atCatchUp, atClaim, atInbox] { #expect(join.machine.isDone) }
    }

    @Test func theWelcomeSharesItsHistoryBytesAmongItsRoomsSaysWhereThereIsMoreAndNamesThePendingMsgIds() {
        var limits = ChatLimits(historyOnJoin: 3)
        limits.welcomeRooms = 2
        var history = RoomHistory(capacity: 100)
        for n in 1...5 { history.append(Self.message(n, room: "lobby"), room: "lobby") }
        history.append(Self.message(6, room: "dev"), room: "dev")
        history.append(Self.message(7, room: "old"), room: "old")
        history.append(Self.message(8, room: "zoo"), room: "zoo")
        let (welcome, followUp) = Machine.welcome(
            nick: "alice", rooms: ["zoo", "lobby", "dev"], request: JoinRequest(nick: "alice", pending: ["c1", "c2", "c1"]), history: history,
            limits: limits, tokens: JoinHarness.tokens, messageIds: JoinHarness.messageIds)
        #expect(followUp.isEmpty)
        #expect(welcome.history["lobby"]?.map(\.msgId) == ["m3", "m4", "m5"])
        #expect(welcome.history["dev"]?.map(\.msgId) == ["m6"] && welcome.history["zoo"]?.map(\.msgId) == ["m8"])
        #expect(welcome.moreHistory == ["lobby"])
        #expect(welcome.entered == ["zoo", "lobby", "dev"])
        #expect(welcome.rooms == history.recentRoomNames(limit: 2) && welcome.rooms.count == 2)
        #expect(
            welcome.pending == [
                "c1": JoinHarness.messageIds.messageId(sender: "alice", clientId: "c1"),
                "c2": JoinHarness.messageIds.messageId(sender: "alice", clientId: "c2"),
            ])

        // The bytes are shared: two rooms of 3 messages each, a budget of 4 messages in all.
        var tight = ChatLimits(historyOnJoin: 100)
        tight.welcomeHistoryBytes = RoomHistory.cost(of: Self.message(1, room: "a", text: String(repeating: "x", count: 100))) * 4
        var two = RoomHistory(capacity: 100)
        for n in 1...3 {
            two.append(Self.message(n, room: "a", text: String(repeating: "x", count: 100)), room: "a")
            two.append(Self.message(3 + n, room: "b", text: String(repeating: "x", count: 100)), room: "b")
        }
        let (shared, _) = Machine.welcome(
            nick: "alice", rooms: ["a", "b"], request: JoinRequest(nick: "alice"), history: two, limits: tight, tokens: JoinHarness.tokens,
            messageIds: JoinHarness.messageIds)
        #expect(shared.history["a"]?.map(\.msgId) == ["m2", "m3"] && shared.history["b"]?.map(\.msgId) == ["m5", "m6"])
        #expect(shared.moreHistory == ["a", "b"] && shared.pending == nil)
    }
}

extension JoinMachineTests {
    /// A room the join resumes is left out of the welcome's history; the frames that follow the
    /// welcome carry what it missed after its `seq` (a `gap` first when the node no longer
    /// holds all of it).
    @Test func aResumedRoomIsLeftOutOfTheWelcomeAndWhatItMissedFollows() {
        var history = RoomHistory(capacity: 100)
        for n in 1...5 { history.append(Self.message(n, room: "lobby"), room: "lobby") }
        history.append(Self.message(6, room: "dev"), room: "dev")
        let request = JoinRequest(nick: "alice", rooms: ["lobby", "dev"], resume: JoinResume(rooms: ["lobby": 2]))
        let (welcome, followUp) = Machine.welcome(
            nick: "alice", rooms: ["lobby", "dev"], request: request, history: history, limits: ChatLimits(), tokens: JoinHarness.tokens,
            messageIds: JoinHarness.messageIds)
        #expect(welcome.history["lobby"] == nil && welcome.history["dev"]?.map(\.msgId) == ["m6"])
        #expect(followUp.count == 1)
        guard case .history(let page)? = followUp.last else {
            Issue.record("expected a history page after the welcome, got \(followUp)")
            return
        }
        #expect(page.room == "lobby" && page.after == 2 && page.messages.map(\.msgId) == ["m3", "m4", "m5"])
    }
}

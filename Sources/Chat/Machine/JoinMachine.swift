import OrderedCollections

/// One `join`, as a value that decides and an executor that acts (the shape of postgres-nio's
/// `PoolStateMachine`, like ``SessionsMachine``).
///
/// The node makes one per `join` frame. Each event (the result of the step before) returns the
/// next ``Action``: wait until the node caught up, take a turn at the join gate, ask the claims
/// machine whether the nick may be had, record or claim it, declare the user queue, take the
/// nick over from older sessions, take the inbox over, then welcome the session, or fail with
/// the error frame of Specs/chat-protocol.md ("Joining"). It builds the welcome from the
/// history, the roster and the request. `ChatNodeExecutor` (ChatNodeExecutor+Join.swift) only
/// performs each step and feeds its result back; it ends the join after a terminal action
/// (``Action/isTerminal``), leaving the gate if ``holdsGate`` and finishing the sessions
/// machine's join if ``started``.
///
/// No broker, no tasks, no clock: tests drive it with values (Specs/chat-protocol.md,
/// "Delivery guarantees": `JoinMachineTests`).
struct JoinMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    typealias Claims = ClaimsMachine<Instant>

    enum Action: Sendable, Hashable {
        /// Wait until the node caught up (``CatchUpMachine``), then ``caughtUp(_:)``.
        case waitUntilCaughtUp
        /// Take a turn at the join gate (``SessionsMachine/enterGate(_:)``), then ``enteredGate()``.
        case enterGate
        /// Ask ``ClaimsMachine/admission(of:token:claimant:)``, then ``admission(_:)``.
        case checkAdmission(nick: String, token: Claims.Token, claimant: String?)
        /// A valid token for a nick without a claim record: record the claim (best effort),
        /// then ``claimRecorded()``.
        case recordClaim(nick: String, marker: String)
        /// Claim the nick and wait for its outcome (``ClaimsMachine/claim(_:claimant:queueExists:marker:waiter:now:)``),
        /// then ``claimed(_:)``.
        case claim(nick: String, claimant: String?, checkQueue: Bool)
        /// Record a new device of the nick (labelled `label`, or the default label): draw its id
        /// and session token, publish its `device` record and wait until the node read it back
        /// (``AccountsMachine/awaitDevice(nick:id:job:)``), then ``deviceRecorded(_:)``.
        case recordDevice(nick: String, label: String?)
        /// Declare `user.<nick>` (with the inbox caps) and bind it, then ``queueDeclared(_:sessionClosed:)``.
        case declareQueue(nick: String)
        /// Replace any older local session of the nick (``SessionsMachine/takeOver(_:by:)``), own
        /// the nick, tell the cluster (a `takeover` record, best effort), then ``tookOverNick()``.
        case takeOverNick(nick: String)
        /// Take the user queue over (``InboxMachine/takeOver(session:nick:now:)``), then
        /// ``inboxTaken(_:)``.
        case takeInbox(nick: String)
        /// The session is joined now (``SessionsMachine/joined(_:_:)``) in `rooms`; then
        /// ``admitted(history:roster:)``.
        case admit(nick: String, rooms: OrderedSet<String>)
        /// Terminal: send `frame` (the encoded `welcome`), then `followUp` (per resumed room a
        /// `gap` when needed and a `history` with `after`), announce the nick online, start the
        /// inbox taken (its held deliveries follow the welcome).
        case welcome(Welcome, frame: String, followUp: [ServerFrame])
        /// Terminal: send `error`'s frame; when `disown` names the nick, the session first stops
        /// holding it (``SessionsMachine/disown(_:by:)``).
        case fail(ChatProtocolError, disown: String?)
        /// Terminal: the inbox taken is released (everything it held goes back): the session
        /// lost the nick, closed or joined meanwhile. Nothing is sent.
        case releaseInbox
        /// Terminal: nothing more to do (the session closed). Nothing is sent.
        case finish

        /// Whether the join is over after this action.
        var isTerminal: Bool {
            switch self {
            case .welcome, .fail, .releaseInbox, .finish: true
            default: false
            }
        }
    }

    /// What the executor knows of the session once the inbox was taken.
    struct Standing: Sendable, Hashable {
        /// The session still holds the nick on this node.
        var ownsNick: Bool
        var isClosed: Bool
        /// The session is joined already (it cannot be, unless something went wrong).
        var isJoined: Bool
    }

    /// The device a join signs in on (``admission(_:device:)``).
    enum DeviceGrant: Sendable, Hashable {
        /// A new device (a password sign-in, a free nick, a valid HMAC token): recorded once the
        /// nick is the join's, before its queue is declared.
        case new
        /// The device of the join's valid session token.
        case existing(id: String, session: String)
    }

    /// A device and its session token, as the welcome names them.
    struct DeviceSession: Sendable, Hashable {
        var id: String
        var session: String
    }

    private enum State: Sendable, Hashable {
        case new, catchingUp, atGate, admitting, recordingClaim, claiming, recordingDevice, declaring, takingOverNick, takingInbox, welcoming, done
    }

    let request: JoinRequest
    let nodeId: String
    let tokens: NickToken
    let messageIds: MessageIDs
    let limits: ChatLimits
    private var state = State.new
    /// The sessions machine's join started (``SessionsMachine/startJoin(_:)`` said `.go`):
    /// the executor pairs it with ``SessionsMachine/joinFinished(_:)``.
    private(set) var started = false
    /// The join took a turn at the gate: the executor leaves it at the end.
    private(set) var holdsGate = false
    private var rooms: OrderedSet<String> = []
    /// The claimant of a tokenless join with a nonce (``NickToken/claimant(for:nonce:)``).
    private var claimant: String?
    /// This join's device, once known (an existing one from the admission, a new one once recorded).
    private(set) var device: DeviceSession?

    init(request: JoinRequest, nodeId: String, tokens: NickToken, messageIds: MessageIDs, limits: ChatLimits) {
        self.request = request
        self.nodeId = nodeId
        self.tokens = tokens
        self.messageIds = messageIds
        self.limits = limits
    }

    var nick: String { request.nick }
    var isDone: Bool { state == .done }

    // MARK: Events

    /// The sessions machine's answer to the `join` frame (``SessionsMachine/startJoin(_:)``).
    mutating func start<Entry: JoinedSession>(_ start: SessionsMachine<Entry>.JoinStart) -> Action {
        precondition(state == .new, "a join starts once")
        switch start {
        case .go:
            started = true
            state = .catchingUp
            return .waitUntilCaughtUp
        case .alreadyJoined(let nick):
            return fail(ChatProtocolError(.badRequest, "You already joined as \(nick): open a new connection to join as someone else."))
        case .underWay:
            return fail(ChatProtocolError(.badRequest, "A join is already under way on this connection: wait for its welcome."))
        }
    }

    /// Whether the node caught up (false: the broker is down or it took too long).
    mutating func caughtUp(_ caughtUp: Bool) -> Action {
        precondition(state == .catchingUp)
        guard caughtUp else { return fail(Self.unavailable()) }
        state = .atGate
        return .enterGate
    }

    /// The join may make its broker calls (they queue on the node's one connection).
    mutating func enteredGate() -> Action {
        precondition(state == .atGate)
        holdsGate = true
        state = .admitting
        claimant = request.nonce.map { tokens.claimant(for: nick, nonce: $0) }
        let token: Claims.Token = request.token.map { tokens.verify($0, for: nick) ? .valid : .invalid } ?? .absent
        return .checkAdmission(nick: nick, token: token, claimant: claimant)
    }

    /// The claims machine's answer.
    /// The nick's account refused the join before its claim was looked at (a wrong or missing
    /// password, over a password limit, registration closed: ``AccountsMachine``).
    mutating func refused(_ error: ChatProtocolError) -> Action {
        precondition(state == .admitting)
        return fail(error)
    }

    /// `device`: ``DeviceGrant/existing(id:session:)`` when the join's session token was valid.
    mutating func admission(_ admission: Claims.Admission, device grant: DeviceGrant = .new) -> Action {
        precondition(state == .admitting)
        if case .existing(let id, let session) = grant { device = DeviceSession(id: id, session: session) }
        switch admission {
        case .granted:
            return declare()
        case .grantedRecordingClaim:
            state = .recordingClaim
            return .recordClaim(nick: nick, marker: "token/\(nodeId)")
        case .badToken:
            return fail(
                ChatProtocolError(
                    .authFailed, "This token is not valid for the nick \(nick): join with the token you got in its first welcome, or pick another nick."))
        case .taken:
            return fail(Self.nickTaken(nick))
        case .claim(let checkQueue):
            state = .claiming
            return .claim(nick: nick, claimant: claimant, checkQueue: checkQueue)
        }
    }

    /// The claim record of a valid token went out (or could not: it is best effort).
    mutating func claimRecorded() -> Action {
        precondition(state == .recordingClaim)
        return declare()
    }

    /// The claim's outcome: won, lost the race (`taken`), or not decided in time or without
    /// a link (`unavailable`).
    mutating func claimed(_ outcome: Claims.Outcome) -> Action {
        precondition(state == .claiming)
        switch outcome {
        case .won: return declare()
        case .taken: return fail(Self.nickTaken(nick))
        case .unavailable: return fail(Self.unavailable())
        }
    }

    /// The new device was recorded and read back (nil: the broker failed, or the record did not
    /// come back in time).
    mutating func deviceRecorded(_ recorded: DeviceSession?) -> Action {
        precondition(state == .recordingDevice)
        guard let recorded else { return fail(Self.unavailable()) }
        device = recorded
        return declare()
    }

    /// The user queue was declared and bound (`declared`), and whether the session closed
    /// meanwhile.
    mutating func queueDeclared(_ declared: Bool, sessionClosed: Bool) -> Action {
        precondition(state == .declaring)
        guard declared else { return fail(Self.unavailable()) }
        guard !sessionClosed else { return finish(.finish) }
        state = .takingOverNick
        return .takeOverNick(nick: nick)
    }

    /// The session holds the nick on this node now; the cluster was told.
    mutating func tookOverNick() -> Action {
        precondition(state == .takingOverNick)
        state = .takingInbox
        return .takeInbox(nick: nick)
    }

    /// The take-over of the user queue ended: with the inbox (`standing` says what became of
    /// the session meanwhile), or without (nil: still held elsewhere after the takeover
    /// timeout, or the broker failed).
    mutating func inboxTaken(_ standing: Standing?) -> Action {
        precondition(state == .takingInbox)
        guard let standing else {
            return fail(
                ChatProtocolError(.unavailable, "Your nick is still held by another connection or the broker is down: join again in a moment."), disown: nick)
        }
        guard standing.ownsNick, !standing.isClosed, !standing.isJoined else { return finish(.releaseInbox) }
        rooms = OrderedSet(request.rooms ?? [ChatName.lobby])
        state = .welcoming
        return .admit(nick: nick, rooms: rooms)
    }

    /// The session is joined: the welcome, from the node's history and the roster as the
    /// sessions were last told (``PresenceMachine/welcomeRoster()``; the changes since, this
    /// join's included, come in the next `presence` frame).
    mutating func admitted(history: RoomHistory, roster: RosterSnapshot, readState: ReadState? = nil) -> Action {
        precondition(state == .welcoming)
        var (welcome, followUp) = Self.welcome(
            nick: nick, rooms: rooms, request: request, history: history, limits: limits, tokens: tokens, messageIds: messageIds)
        welcome.session = device?.session
        welcome.device = device?.id
        welcome.read = readState?.read
        welcome.unread = readState?.unread
        welcome.privateReceipts = readState?.privateReceipts
        let frame = ChatFrameCodec.encodeWelcome(welcome, usersJSON: roster.json(withOnline: nick)) { roster.users(withOnline: nick) }
        return finish(.welcome(welcome, frame: frame, followUp: followUp))
    }

    // MARK: The welcome

    /// The welcome's read state (``ReadStateMachine/welcome(of:history:)``).
    struct ReadState: Sendable, Hashable {
        var read: ConversationCounts
        var unread: ConversationCounts
        var privateReceipts: Bool
    }

    /// The welcome of `nick` in `rooms` without its `users` (they are encoded from the roster
    /// snapshot): the token, the most recently active rooms, each entered room's newest
    /// history (the welcome's history bytes shared evenly among them) and whether older is
    /// kept, the `msgId` of each `pending` id. A room the join resumes (`resume.rooms`) is left
    /// out of the history; the frames that follow the welcome resume it instead
    /// (``RoomHistory/welcome(rooms:resume:limit:maxBytes:)``).
    static func welcome(
        nick: String, rooms: OrderedSet<String>, request: JoinRequest, history: RoomHistory, limits: ChatLimits, tokens: NickToken,
        messageIds: MessageIDs
    ) -> (Welcome, followUp: [ServerFrame]) {
        let pages = history.welcome(
            rooms: rooms, resume: request.resume?.rooms ?? [:], limit: limits.historyOnJoin, maxBytes: limits.welcomeHistoryBytes / max(1, rooms.count))
        let welcome = Welcome(
            nick: nick, token: tokens.token(for: nick), users: [], rooms: history.recentRoomNames(limit: limits.welcomeRooms),
            entered: Array(rooms), history: pages.history, moreHistory: pages.moreHistory,
            pending: request.pending.map { ids in
                Dictionary(ids.map { ($0, messageIds.messageId(sender: nick, clientId: $0)) }, uniquingKeysWith: { first, _ in first })
            })
        return (welcome, pages.followUp)
    }

    // MARK: Errors

    static func unavailable(id: String? = nil) -> ChatProtocolError {
        ChatProtocolError(.unavailable, "The chat cannot reach its message broker right now: try again in a moment.", id: id)
    }

    static func nickTaken(_ nick: String) -> ChatProtocolError {
        ChatProtocolError(.authFailed, "The nick \(nick) is taken: join with its token, or pick another nick.")
    }

    // MARK: Steps

    private mutating func declare() -> Action {
        if device == nil {
            state = .recordingDevice
            return .recordDevice(nick: nick, label: request.device)
        }
        state = .declaring
        return .declareQueue(nick: nick)
    }

    private mutating func fail(_ error: ChatProtocolError, disown: String? = nil) -> Action {
        finish(.fail(error, disown: disown))
    }

    private mutating func finish(_ action: Action) -> Action {
        state = .done
        return action
    }
}

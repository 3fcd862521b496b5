import OrderedCollections

/// A session's rooms, in the order it entered them.
typealias SessionRooms = OrderedSet<String>

/// What ``SessionsMachine`` needs of a joined session. The node's entry carries more (its
/// inbox, the deliveries the client has not acked, its typing limiter); the machine only reads
/// the nick and the outlet and keeps the rooms.
protocol JoinedSession: Sendable {
    associatedtype Outlet: Sendable
    /// The instant of the machine's deadlines (the join timeout): the node's continuous clock,
    /// a manual one in tests.
    associatedtype Instant: InstantProtocol where Instant.Duration == Duration
    var nick: String { get }
    var rooms: SessionRooms { get set }
    var outlet: Outlet { get }
}

/// The node's sessions and rooms, as a value that decides and an executor that acts (the shape
/// of postgres-nio's `PoolStateMachine`, like ``PublishMachine``).
///
/// It owns which sessions joined and which have a join under way, which local session holds
/// each nick, each room's local members (and their outlets, cached for the fan-out), and the
/// ``JoinGate`` through which joins take turns making their broker calls. It decides who is
/// replaced when a nick joins again, what a session's end leaves behind, and whether a room can
/// be entered. `ChatNodeExecutor` carries out the ``Action``s it returns, in order: resume a join
/// let through the gate, close a replaced session, forget an ended one's publishes, announce a
/// nick offline, release an ended session's inbox. It also keeps each attached connection's
/// join deadline and decides, when it passes, whether the connection is closed
/// (``JoinTimerAction``, carried out by ChatNodeExecutor+JoinTimeout.swift).
///
/// No broker, no tasks, no clock (the events that need the time carry it): tests drive it with
/// values (Specs/chat-protocol.md, "Delivery guarantees": the machine's tests).
struct SessionsMachine<Entry: JoinedSession>: Sendable {
    typealias Outlet = Entry.Outlet
    typealias Instant = Entry.Instant

    enum Action: Sendable {
        /// A join waiting at the gate goes on now.
        case letIn(waiter: UInt64)
        /// The nick joined again elsewhere: the session gets `replaced` and is closed (4001).
        case close(session: UInt64, entry: Entry)
        /// The session is no longer joined: what the node holds for it (its held public
        /// messages, the joined-sessions gauge) is dropped.
        case ended(session: UInt64)
        /// The nick's last local session ended: it goes offline.
        case offline(nick: String)
        /// The ended session's inbox is released (what its client did not ack goes back).
        case releaseInbox(session: UInt64)
    }

    /// A connection's join deadline: the executor fires ``joinTimerFired(_:)`` with its session
    /// once `deadline` has passed, unless an action cancelled it first.
    struct JoinTimer: Sendable, Hashable {
        var session: UInt64
        var deadline: Instant
    }

    /// What the join timeout asks of the executor, in order.
    enum JoinTimerAction: Sendable, Hashable {
        case startTimer(JoinTimer)
        case cancelTimer(session: UInt64)
        /// The connection neither joined nor is joining by its deadline: it is closed with
        /// `ChatCloseCode.joinTimeout` (4004), unless it closed already.
        case closeForJoinTimeout(session: UInt64)
    }

    /// How a `join` frame may start.
    enum JoinStart: Sendable, Hashable {
        case go
        /// The session joined already, as this nick.
        case alreadyJoined(nick: String)
        /// The session has a join under way.
        case underWay
    }

    /// How an `enter` frame is answered.
    enum Enter: Sendable, Hashable {
        /// Entered now, or was in the room already.
        case entered
        /// The session is in `count` rooms, the most at once.
        case tooManyRooms(count: Int)
        case notJoined
    }

    /// Every joined session. The executor may change an entry's own fields (its inbox and
    /// pending deliveries); the nick and the rooms change only through this machine's events.
    var sessions: [UInt64: Entry] = [:]
    /// Sessions whose join is under way.
    private(set) var joining: Set<UInt64> = []
    /// The local session that holds each nick (during a join, before it is in ``sessions``).
    private(set) var nickOwner: [String: UInt64] = [:]
    /// Each room's local members, in the order they entered.
    private(set) var roomMembers: [String: OrderedDictionary<UInt64, Outlet>] = [:]
    /// ``outlets(inRoom:)`` as last computed; dropped when the room's members change.
    private var roomOutlets: [String: [Outlet]] = [:]
    private(set) var gate: JoinGate
    /// The join deadline of each attached connection, until it passes or the connection ends
    /// (one per connection, and connections are bounded).
    private(set) var joinDeadlines: [UInt64: Instant] = [:]
    private let roomsPerSession: Int
    private let joinTimeout: Duration

    /// - Parameters:
    ///   - joinsInFlight: joins let through the gate at once (``JoinGate``).
    ///   - roomsPerSession: the rooms a session may be in at once.
    ///   - joinTimeout: how long a connection may stay attached without joining.
    init(joinsInFlight: Int, roomsPerSession: Int, joinTimeout: Duration) {
        gate = JoinGate(capacity: joinsInFlight)
        self.roomsPerSession = roomsPerSession
        self.joinTimeout = joinTimeout
    }

    /// Whether session `id` joined or has a join under way (the join timeout spares it).
    func hasJoinedOrIsJoining(_ id: UInt64) -> Bool {
        sessions[id] != nil || joining.contains(id)
    }

    /// Whether `session` holds `nick` on this node.
    func owns(_ nick: String, _ session: UInt64) -> Bool {
        nickOwner[nick] == session
    }

    // MARK: The join timeout

    /// A connection was attached as session `session`: it has until the join timeout to join
    /// (an idle stranger holds no session for long).
    mutating func attached(_ session: UInt64, now: Instant) -> [JoinTimerAction] {
        let deadline = now.advanced(by: joinTimeout)
        joinDeadlines[session] = deadline
        return [.startTimer(JoinTimer(session: session, deadline: deadline))]
    }

    /// The join deadline of `session` passed: the connection is closed unless it joined or has
    /// a join under way (that join's own outcome decides).
    mutating func joinTimerFired(_ session: UInt64) -> [JoinTimerAction] {
        guard joinDeadlines.removeValue(forKey: session) != nil, !hasJoinedOrIsJoining(session) else { return [] }
        return [.closeForJoinTimeout(session: session)]
    }

    /// The connection of `session` ended (joined or not): its join deadline, if still pending,
    /// is dropped.
    mutating func detached(_ session: UInt64) -> [JoinTimerAction] {
        guard joinDeadlines.removeValue(forKey: session) != nil else { return [] }
        return [.cancelTimer(session: session)]
    }

    // MARK: Joining

    /// A `join` frame comes: one join per session, and none after a welcome. Every `.go` is
    /// paired with ``joinFinished(_:)``.
    mutating func startJoin(_ session: UInt64) -> JoinStart {
        if let entry = sessions[session] { return .alreadyJoined(nick: entry.nick) }
        guard joining.insert(session).inserted else { return .underWay }
        return .go
    }

    /// The join of `session` is over (welcomed or refused).
    mutating func joinFinished(_ session: UInt64) {
        joining.remove(session)
    }

    /// Join `waiter` arrives at the gate: ``Action/letIn(waiter:)`` at once when a place is
    /// free and nobody waits; else later, from ``leaveGate()``, in arrival order.
    mutating func enterGate(_ waiter: UInt64) -> [Action] {
        gate.arrive(waiter) ? [.letIn(waiter: waiter)] : []
    }

    /// A join let through the gate made its broker calls: the oldest waiting one goes on.
    mutating func leaveGate() -> [Action] {
        gate.leave().map { [.letIn(waiter: $0)] } ?? []
    }

    /// `session` won or holds `nick`, and its user queue is ready: any older local session of
    /// the nick is replaced, without announcing the nick offline (it stays online). The
    /// executor carries that out, then calls ``own(_:by:)``.
    mutating func takeOver(_ nick: String, by session: UInt64) -> [Action] {
        guard let older = nickOwner[nick], older != session else { return [] }
        return replace(older, announce: false)
    }

    /// `session` holds `nick` on this node from now on.
    mutating func own(_ nick: String, by session: UInt64) {
        nickOwner[nick] = session
    }

    /// The join of `session` could not take the nick's inbox: it no longer holds the nick.
    mutating func disown(_ nick: String, by session: UInt64) {
        if nickOwner[nick] == session { nickOwner.removeValue(forKey: nick) }
    }

    /// The join of `session` is welcomed: it is joined, in its rooms.
    mutating func joined(_ session: UInt64, _ entry: Entry) {
        sessions[session] = entry
        for room in entry.rooms { addMember(session, outlet: entry.outlet, to: room) }
    }

    // MARK: Rooms

    /// `enter`: a session in as many rooms as it may be in enters no other.
    mutating func enter(_ room: String, session: UInt64) -> Enter {
        guard let entry = sessions[session] else { return .notJoined }
        if entry.rooms.contains(room) { return .entered }
        guard entry.rooms.count < roomsPerSession else { return .tooManyRooms(count: entry.rooms.count) }
        sessions[session]?.rooms.append(room)
        addMember(session, outlet: entry.outlet, to: room)
        return .entered
    }

    /// `leave`: out of the room (nothing to do when it was not in it).
    mutating func leave(_ room: String, session: UInt64) {
        guard sessions[session]?.rooms.remove(room) != nil else { return }
        removeMember(session, from: room)
    }

    /// The outlets of a room's local members, in the order they entered (cached until the
    /// members change).
    mutating func outlets(inRoom room: String) -> [Outlet] {
        if let cached = roomOutlets[room] { return cached }
        let outlets = roomMembers[room].map { Array($0.values) } ?? []
        roomOutlets[room] = outlets
        return outlets
    }

    // MARK: Events from other nodes

    /// Who gets a `typing` from `from`: the room's local members but its sender, or the local
    /// session holding `to` (Specs/chat-protocol.md: typing reaches the room's others or the
    /// addressee only).
    func typingRecipients(from: String, room: String?, to: String?) -> [Outlet] {
        if let room {
            return (roomMembers[room] ?? [:]).compactMap { id, outlet in sessions[id]?.nick == from ? nil : outlet }
        }
        guard let to, let session = nickOwner[to], let entry = sessions[session] else { return [] }
        return [entry.outlet]
    }

    /// Another node (`node`, not `localNode`) took `nick` over: the local session holding it,
    /// if any, is to be replaced (``replace(_:announce:)``).
    func sessionReplacedByTakeover(of nick: String, node: String, localNode: String) -> UInt64? {
        guard node != localNode else { return nil }
        return nickOwner[nick]
    }

    // MARK: Ending

    /// Another session took the nick (on this node or, told by a `takeover` record, on
    /// another): this one is closed and ends. A session that holds the nick but has not been
    /// welcomed yet only loses the nick (its join then fails).
    /// - Parameter announce: false when a new local session of the nick takes over at once,
    ///   so the nick does not flap offline and online.
    mutating func replace(_ session: UInt64, announce: Bool = true) -> [Action] {
        guard let entry = sessions[session] else {
            nickOwner = nickOwner.filter { $0.value != session }
            return []
        }
        return [.close(session: session, entry: entry)] + end(session, announce: announce)
    }

    /// The client went away or was replaced: it leaves its rooms and frees its nick; the nick
    /// goes offline unless another local session holds it (or `announce` is false); its inbox
    /// is released last.
    mutating func end(_ session: UInt64, announce: Bool = true) -> [Action] {
        guard let entry = sessions.removeValue(forKey: session) else { return [] }
        var actions: [Action] = [.ended(session: session)]
        if nickOwner[entry.nick] == session { nickOwner.removeValue(forKey: entry.nick) }
        for room in entry.rooms { removeMember(session, from: room) }
        if announce, nickOwner[entry.nick] == nil { actions.append(.offline(nick: entry.nick)) }
        actions.append(.releaseInbox(session: session))
        return actions
    }

    private mutating func addMember(_ session: UInt64, outlet: Outlet, to room: String) {
        roomMembers[room, default: [:]][session] = outlet
        roomOutlets.removeValue(forKey: room)
    }

    private mutating func removeMember(_ session: UInt64, from room: String) {
        roomMembers[room]?.removeValue(forKey: session)
        if roomMembers[room]?.isEmpty == true { roomMembers.removeValue(forKey: room) }
        roomOutlets.removeValue(forKey: room)
    }
}

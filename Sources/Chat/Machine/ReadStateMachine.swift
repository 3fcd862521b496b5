/// The users' read positions and settings (issue 16, point 5), as a value that decides and an
/// executor that acts (like ``AccountsMachine``).
///
/// Every node reads `read` and `settings` records from `chat.state` in the same order, so every
/// node folds the same state: per user and conversation a read position, the maximum of every
/// `read` record (order and repeats do not matter); per user the `settings` record with the
/// newest `ts` (on a tie the one read last). A user keeps at most ``maxConversations`` read
/// positions: one more read forgets the position moved least recently, in stream order, so every
/// node forgets the same one.
///
/// It decides each `read` frame of a session (``requestRead(session:nick:conversation:upTo:lastOffset:now:)``):
/// capped at what the node read of `chat.history`, at most one record per conversation per
/// ``throttleInterval`` per session; a faster one is deferred (the newest `upTo` is kept and
/// published when the interval is over), and past ``maxDeferred`` deferred conversations of a
/// session it is refused. The executor publishes and runs the timers.
struct ReadStateMachine<Session: Sendable & Hashable>: Sendable {
    /// A room, or (later, with the private stream) a private conversation by the other nick.
    enum Conversation: Sendable, Hashable {
        case room(String)
        case direct(with: String)
    }

    /// A record of the `chat.state` stream this machine folds.
    enum Record: Sendable, Hashable {
        /// `nick` read `conversation` up to `upTo`; `origin` names the session that sent it
        /// (``origin(node:session:)``), so it is not told its own read again.
        case read(nick: String, conversation: Conversation, upTo: Int64, origin: String?)
        case settings(nick: String, privateReceipts: Bool, ts: Int64, origin: String?)

        var nick: String {
            switch self {
            case .read(let nick, _, _, _), .settings(let nick, _, _, _): nick
            }
        }
    }

    enum Action: Sendable, Hashable {
        /// Send `frame` to every live session of `nick` on this node except the one named `origin`.
        case tell(nick: String, frame: ServerFrame, exceptOrigin: String?)
    }

    /// How a `read` frame goes on.
    enum ReadDecision: Sendable, Hashable {
        /// Nothing to do: the position is there already, or the node has read no history yet.
        case ignore
        /// Publish this record (confirmed).
        case publish(Record)
        /// Deferred: start the session's timer for this conversation, to fire at `deadline`
        /// (milliseconds), then ``throttleFired(session:conversation:)``.
        case deferUntil(deadline: Int64)
        /// Deferred, and a timer for it runs already.
        case deferred
        case refused(ChatProtocolError)
    }

    struct Position: Sendable, Hashable {
        var upTo: Int64
        /// The stream order of the record that last moved it (for the overflow rule).
        var moved: UInt64
    }

    struct UserSettings: Sendable, Hashable {
        var privateReceipts: Bool
        var ts: Int64
    }

    private struct Throttle: Sendable, Hashable {
        /// When a record was last published per conversation (milliseconds).
        var sent: [Conversation: Int64] = [:]
        /// The newest deferred `upTo` per conversation.
        var deferred: [Conversation: Int64] = [:]
        var nick: String
        /// The session's ``ReadStateMachine/origin(node:session:)``.
        var origin: String
    }

    /// The most read positions a user keeps (Specs/bounds.md).
    static var maxConversations: Int { 500 }
    /// A session publishes at most one `read` per conversation this often (milliseconds).
    static var throttleInterval: Int64 { 1000 }
    /// The most conversations with a deferred `read` per session.
    static var maxDeferred: Int { 64 }
    /// The welcome's `unread` counts at most this many per conversation.
    static var unreadCap: Int { 1000 }

    let maxConversations: Int
    private(set) var positions: [String: [Conversation: Position]] = [:]
    private(set) var settings: [String: UserSettings] = [:]
    private var throttles: [Session: Throttle] = [:]
    private var order: UInt64 = 0

    init(maxConversations: Int = Self.maxConversations) {
        self.maxConversations = maxConversations
    }

    /// The `origin` of a record sent by `session` of node `node`.
    static func origin(node: String, session: some CustomStringConvertible) -> String {
        "\(node)/\(session)"
    }

    // MARK: The stream

    /// The node read `record` from `chat.state`.
    @discardableResult
    mutating func read(_ record: Record) -> [Action] {
        order += 1
        switch record {
        case .read(let nick, let conversation, let upTo, let origin):
            var held = positions[nick] ?? [:]
            if let current = held[conversation], current.upTo >= upTo { return [] }
            held[conversation] = Position(upTo: upTo, moved: order)
            if held.count > maxConversations, let stalest = held.min(by: { $0.value.moved < $1.value.moved })?.key {
                held.removeValue(forKey: stalest)
            }
            positions[nick] = held
            guard held[conversation] != nil else { return [] }
            return [.tell(nick: nick, frame: .read(Self.frame(conversation, upTo: upTo)), exceptOrigin: origin)]
        case .settings(let nick, let privateReceipts, let ts, let origin):
            if let current = settings[nick], current.ts > ts { return [] }
            let changed = settings[nick]?.privateReceipts ?? true != privateReceipts
            settings[nick] = UserSettings(privateReceipts: privateReceipts, ts: ts)
            return changed ? [.tell(nick: nick, frame: .settings(Settings(privateReceipts: privateReceipts)), exceptOrigin: origin)] : []
        }
    }

    static func frame(_ conversation: Conversation, upTo: Int64) -> ReadPosition {
        switch conversation {
        case .room(let room): ReadPosition(room: room, upTo: upTo)
        case .direct(let with): ReadPosition(with: with, upTo: upTo)
        }
    }

    /// `nick`'s read position of `conversation`, if it has one.
    func position(of nick: String, in conversation: Conversation) -> Int64? {
        positions[nick]?[conversation]?.upTo
    }

    /// Whether peers see `seen` from `nick` (true unless a `settings` record said false).
    func privateReceipts(of nick: String) -> Bool {
        settings[nick]?.privateReceipts ?? true
    }

    // MARK: Frames

    /// A `read` frame of `session` (joined as `nick`, named `origin` in its records): `upTo` is
    /// capped at `lastOffset`, the last record the node read of `chat.history` (nil: none yet).
    mutating func requestRead(
        session: Session, origin: String, nick: String, conversation: Conversation, upTo: Int64, lastOffset: Int64?, now: Int64
    ) -> ReadDecision {
        guard let lastOffset else { return .ignore }
        let target = min(upTo, lastOffset)
        if let current = position(of: nick, in: conversation), current >= target { return .ignore }
        var throttle = throttles[session] ?? Throttle(nick: nick, origin: origin)
        if let deferred = throttle.deferred[conversation] {
            throttle.deferred[conversation] = max(deferred, target)
            throttles[session] = throttle
            return .deferred
        }
        if let sent = throttle.sent[conversation], now - sent < Self.throttleInterval {
            guard throttle.deferred.count < Self.maxDeferred else {
                return .refused(
                    ChatProtocolError(.rateLimited, "You marked too many conversations read within a second: mark this one again in a second."))
            }
            throttle.deferred[conversation] = target
            throttles[session] = throttle
            return .deferUntil(deadline: sent + Self.throttleInterval)
        }
        // Entries older than the interval bound nothing any more: keep the map small.
        throttle.sent = throttle.sent.filter { now - $0.value < Self.throttleInterval }
        throttle.sent[conversation] = now
        throttles[session] = throttle
        return .publish(.read(nick: nick, conversation: conversation, upTo: target, origin: origin))
    }

    /// The session's deferred `read` of `conversation` is due: its record, unless the position
    /// got there meanwhile.
    mutating func throttleFired(session: Session, conversation: Conversation, now: Int64) -> Record? {
        guard var throttle = throttles[session], let upTo = throttle.deferred.removeValue(forKey: conversation) else { return nil }
        throttle.sent[conversation] = now
        throttles[session] = throttle
        if let current = position(of: throttle.nick, in: conversation), current >= upTo { return nil }
        return .read(nick: throttle.nick, conversation: conversation, upTo: upTo, origin: throttle.origin)
    }

    /// The session ended: its deferred reads are published now (the records), its throttle forgotten.
    mutating func sessionEnded(_ session: Session) -> [Record] {
        guard let throttle = throttles.removeValue(forKey: session) else { return [] }
        return throttle.deferred.sorted { "\($0.key)" < "\($1.key)" }.compactMap { conversation, upTo in
            if let current = position(of: throttle.nick, in: conversation), current >= upTo { return nil }
            return .read(nick: throttle.nick, conversation: conversation, upTo: upTo, origin: throttle.origin)
        }
    }

    /// How many conversations of `session` wait for their deferred `read` (for tests and bounds).
    func deferredCount(of session: Session) -> Int {
        throttles[session]?.deferred.count ?? 0
    }

    // MARK: The welcome

    /// The welcome's `read` and `unread` of `nick`: every room with a read position, and per
    /// such room how many messages of others after it `history` holds (at most ``unreadCap``).
    func welcome(of nick: String, history: RoomHistory) -> (read: ConversationCounts, unread: ConversationCounts) {
        var read: [String: Int64] = [:]
        var unread: [String: Int64] = [:]
        for (conversation, position) in positions[nick] ?? [:] {
            guard case .room(let room) = conversation else { continue }
            read[room] = position.upTo
            unread[room] = Int64(history.count(in: room, after: position.upTo, cap: Self.unreadCap, excluding: nick))
        }
        return (ConversationCounts(rooms: read), ConversationCounts(rooms: unread))
    }

    // MARK: Retention

    /// The records that carry `nick`'s read state now (for a checkpoint,
    /// ``StateRetentionMachine``): one per read position, and the settings.
    func records(of nick: String) -> [Record] {
        var records: [Record] = (positions[nick] ?? [:]).sorted { $0.value.moved < $1.value.moved }.map {
            .read(nick: nick, conversation: $0.key, upTo: $0.value.upTo, origin: nil)
        }
        if let settings = settings[nick] {
            records.append(.settings(nick: nick, privateReceipts: settings.privateReceipts, ts: settings.ts, origin: nil))
        }
        return records
    }
}

/// Who is online, as a value that decides and an executor that acts (the shape of
/// ``PublishMachine``: events in, actions out, timers as values).
///
/// It owns the cluster's ``PresenceTable``, the ``PresenceBatch`` of changes the sessions have
/// not been told yet and the flush that tells them (one `presence` frame after
/// `presenceBatchInterval`), whether the welcome roster snapshot is stale, the announcements of
/// the local roster to the other nodes (never two at once; a change during one is announced
/// right after it), the announce loop (a timer every `presenceInterval` while the node has a
/// broker link: announce, expire silent nodes) and the nodes this node has heard from (a new one
/// makes it announce at once, so a starting node learns every roster without waiting).
///
/// No clock is read here: events carry the instant for timers (`now`) and the chat clock's
/// milliseconds for the table and the frames' `ts` (`ms`), so tests move both by hand
/// (Specs/chat-protocol.md, "Presence": the machine's tests).
struct PresenceMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    struct Timings: Sendable, Hashable {
        /// How long changes gather before one `presence` frame tells them.
        var batchInterval: Duration
        /// How often the local roster is announced and silent nodes expire.
        var announceInterval: Duration
        /// How long a node's roster lives after its last announcement, in milliseconds.
        var expiryMilliseconds: Int64
    }

    enum TimerKind: Sendable, Hashable {
        /// The batched changes are due to the sessions.
        case flush
        /// The announce loop's next turn on broker link `generation`.
        case announce(generation: Int)
    }

    /// The executor calls ``timerFired(_:now:ms:localRoster:)`` with `kind` once `deadline`
    /// has passed, unless an action cancelled it first.
    struct Timer: Sendable, Hashable {
        var kind: TimerKind
        var deadline: Instant
    }

    enum Action: Sendable, Hashable {
        case startTimer(Timer)
        case cancelTimer(TimerKind)
        /// Send this frame, the same bytes, to every joined session of the node.
        case sendPresence(Presence)
        /// Nicks came online or went offline (the claims note when each was last seen).
        case changed([PresenceTable.Change])
        /// Build the welcome roster snapshot now and hand it to ``snapshotTaken(_:)``.
        case takeRosterSnapshot
        /// Publish this node's roster (these nicks) on the presence exchange, then call
        /// ``announceFinished(published:localRoster:)``.
        case publishRoster(Set<String>)
        /// The announce loop's turn: the executor's other periodic chores may run too.
        case tick
    }

    let nodeId: String
    let timings: Timings
    /// Who is online in the cluster.
    private(set) var table: PresenceTable
    private var batch = PresenceBatch()
    private var flushScheduled = false
    /// The local roster changed since it was last announced to the other nodes.
    private(set) var localRosterChanged = false
    /// The welcome roster as of the last flush, and whether anything changed since.
    private(set) var rosterSnapshot: RosterSnapshot?
    private(set) var rosterSnapshotStale = true
    /// An announcement is being published; `rosterDirty`: another is due right after it.
    private(set) var announcing = false
    private var rosterDirty = false
    /// Nodes this node has heard from (with a non-empty roster).
    private(set) var knownNodes: Set<String> = []
    /// The broker link the announce loop runs on, nil while there is none.
    private var linkGeneration: Int?
    /// A graceful stop began: the node's last word to the others is its empty roster.
    private(set) var stopped = false

    init(nodeId: String, timings: Timings) {
        self.nodeId = nodeId
        self.timings = timings
        table = PresenceTable(expiryMilliseconds: timings.expiryMilliseconds)
    }

    /// Changes waiting for the next flush (for tests).
    var pendingChanges: Int { batch.count }

    // MARK: Events

    /// A local session joined (`online`), or the last local session of `nick` ended. The table
    /// changes at once; the sessions and the other nodes hear of it at the next flush.
    mutating func localPresence(nick: String, online: Bool, now: Instant, ms: Int64) -> [Action] {
        var actions = queue(table.update(node: nodeId, nick: nick, online: online, now: ms), now: now)
        localRosterChanged = true
        actions += scheduleFlush(now: now)
        return actions
    }

    /// A roster announcement of another node (empty when it leaves). A node heard of for the
    /// first time makes this node announce at once.
    mutating func rosterReceived(from node: String, nicks: Set<String>, now: Instant, ms: Int64, localRoster: Set<String>) -> [Action] {
        guard node != nodeId else { return [] }
        var actions = queue(table.apply(node: node, nicks: nicks, now: ms), now: now)
        if nicks.isEmpty {
            knownNodes.remove(node)
        } else if knownNodes.insert(node).inserted {
            actions += announce(localRoster: localRoster, now: now, ms: ms)
        }
        return actions
    }

    /// A nick was claimed: the welcome roster must list it from now on.
    mutating func claimsChanged() {
        rosterSnapshotStale = true
    }

    /// The welcome roster to copy: the snapshot of the last flush while changes since then
    /// wait in the batch (the new session gets them with everyone else in the next frame); nil
    /// when a fresh one must be taken now and handed to ``snapshotTaken(_:)``: nothing waits,
    /// so only claims changed, and no frame would tell them.
    mutating func welcomeRoster() -> RosterSnapshot? {
        if let rosterSnapshot, !rosterSnapshotStale || !batch.isEmpty { return rosterSnapshot }
        rosterSnapshotStale = false
        return nil
    }

    /// The executor built the snapshot asked for (``Action/takeRosterSnapshot`` or a nil
    /// ``welcomeRoster()``), of the roster as it was when asked.
    mutating func snapshotTaken(_ snapshot: RosterSnapshot) {
        rosterSnapshot = snapshot
    }

    /// The node has a broker link: the local roster is announced now and every
    /// `announceInterval` from now on, until ``linkLost()``.
    mutating func linkUp(generation: Int, now: Instant, ms: Int64, localRoster: Set<String>) -> [Action] {
        guard !stopped else { return [] }
        var actions: [Action] = []
        if let old = linkGeneration { actions.append(.cancelTimer(.announce(generation: old))) }
        linkGeneration = generation
        actions += announce(localRoster: localRoster, now: now, ms: ms)
        actions.append(.startTimer(Timer(kind: .announce(generation: generation), deadline: now.advanced(by: timings.announceInterval))))
        return actions
    }

    /// The broker link is gone: the announce loop stops until the next one.
    mutating func linkLost() -> [Action] {
        guard let old = linkGeneration else { return [] }
        linkGeneration = nil
        return [.cancelTimer(.announce(generation: old))]
    }

    /// A graceful stop began: the node announces its empty roster itself; no announcement of
    /// its sessions may follow it, so the loop ends and nothing more is announced.
    mutating func stop() -> [Action] {
        stopped = true
        guard let old = linkGeneration else { return [] }
        linkGeneration = nil
        return [.cancelTimer(.announce(generation: old))]
    }

    mutating func timerFired(_ kind: TimerKind, now: Instant, ms: Int64, localRoster: Set<String>) -> [Action] {
        switch kind {
        case .flush:
            return flush(now: now, ms: ms, localRoster: localRoster)
        case .announce(let generation):
            guard generation == linkGeneration else { return [] }
            var actions = announce(localRoster: localRoster, now: now, ms: ms)
            actions += queue(table.expire(now: ms), now: now)
            actions.append(.tick)
            actions.append(.startTimer(Timer(kind: kind, deadline: now.advanced(by: timings.announceInterval))))
            return actions
        }
    }

    /// The announcement asked for by ``Action/publishRoster(_:)`` went out (or failed: then the
    /// loop stops, and the next announcement starts it again). A change meanwhile is announced
    /// right after it.
    mutating func announceFinished(published: Bool, localRoster: Set<String>) -> [Action] {
        guard published, rosterDirty, !stopped else {
            announcing = false
            return []
        }
        rosterDirty = false
        return [.publishRoster(localRoster)]
    }

    // MARK: Decisions

    /// Applies the local roster at once and announces it to the other nodes.
    private mutating func announce(localRoster: Set<String>, now: Instant, ms: Int64) -> [Action] {
        localRosterChanged = false
        var actions = queue(table.apply(node: nodeId, nicks: localRoster, now: ms), now: now)
        if stopped {
            return actions
        } else if announcing {
            rosterDirty = true
        } else {
            announcing = true
            rosterDirty = false
            actions.append(.publishRoster(localRoster))
        }
        return actions
    }

    /// Queues changes for the next `presence` frame.
    private mutating func queue(_ changes: [PresenceTable.Change], now: Instant) -> [Action] {
        guard !changes.isEmpty else { return [] }
        batch.add(changes)
        rosterSnapshotStale = true
        return [.changed(changes)] + scheduleFlush(now: now)
    }

    /// A flush after `batchInterval`, unless one is due already.
    private mutating func scheduleFlush(now: Instant) -> [Action] {
        guard !flushScheduled else { return [] }
        flushScheduled = true
        return [.startTimer(Timer(kind: .flush, deadline: now.advanced(by: timings.batchInterval)))]
    }

    /// Tells the batched changes as one frame; takes the welcome roster snapshot of what the
    /// sessions now know; announces the local roster if it changed.
    private mutating func flush(now: Instant, ms: Int64, localRoster: Set<String>) -> [Action] {
        flushScheduled = false
        var actions: [Action] = []
        if let frame = batch.take(ts: ms) { actions.append(.sendPresence(frame)) }
        if rosterSnapshotStale {
            rosterSnapshotStale = false
            actions.append(.takeRosterSnapshot)
        }
        if localRosterChanged { actions += announce(localRoster: localRoster, now: now, ms: ms) }
        return actions
    }
}

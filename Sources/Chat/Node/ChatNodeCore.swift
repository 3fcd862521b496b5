import Broker
import Logging
import OrderedCollections
import Synchronization

/// The state of one node, owned by an actor: sessions, rooms, the history index, claims,
/// presence and dedup windows. Broker calls are awaited from here; every method re-checks
/// what it relies on after each `await` (actors are reentrant).
actor ChatNodeCore {
    /// The live broker connection and the channel publishes go through.
    struct Link: Sendable {
        var connection: any BrokerConnection
        var publish: any BrokerChannel
        var generation: Int
    }

    /// The channel that carries every inbox consumer of the node, and the sink all their
    /// deliveries come to; reopened (and every inbox taken again) after a channel error or a
    /// reconnect.
    struct InboxChannel: Sendable {
        var channel: any BrokerChannel
        var sink: DeliverySink
        var serial: Int
        var generation: Int
    }

    /// A nick's first claim record: every node reads the same one, so it decides the claim.
    struct Claim: Sendable, Hashable {
        var marker: String
        /// ``NickToken/claimant(for:nonce:)`` of the join that made it, when it had a nonce.
        var claimant: String?
        /// When this node last saw the nick claimed, come online or go offline, in
        /// ``ChatNodeCore/seenCounter`` ticks: the welcome lists the most recent ones.
        var seen: UInt64 = 0
    }

    /// A joined session.
    struct SessionEntry {
        let session: ChatSession
        var nick: String
        var rooms: OrderedSet<String>
        /// `typing` frames over it are dropped silently.
        var typingLimiter: RateLimiter
    }

    nonisolated let configuration: ChatConfiguration
    nonisolated let topology: ChatTopology
    nonisolated let logger: Logger
    nonisolated let broadcaster: any ChatBroadcaster
    nonisolated let tokens: NickToken
    nonisolated let messageIds: MessageIDs
    nonisolated let metrics = ChatMetrics()
    nonisolated let connected = Atomic<Bool>(false)
    nonisolated let sessionCount = Atomic<Int>(0)
    /// Client frames accepted by sessions and not yet done with (for `/metrics`).
    nonisolated let inboundFrames = Atomic<Int>(0)

    var link: Link?
    var generation = 0
    /// The claims stream was read up to this node's sync marker: every earlier claim is known.
    var claimsCaughtUp = false
    /// The history stream was read up to the offset it ended at when the node (re)connected.
    var historyCaughtUp = false
    var syncMarker: String?
    var historyTarget: Int64?
    var lastStreamOffset: Int64?
    var lastClaimsOffset: Int64?
    /// The claims stream began at offset 0 when this node first read it (nothing had aged out),
    /// so a nick without a claim record has no user queue either (`claim` skips its check).
    var claimsStreamComplete = false
    /// History records read since the node started (to show that a start reads a bounded part).
    var historyRecordsRead = 0
    var caughtUp: Bool { claimsCaughtUp && historyCaughtUp && secretChecked }
    /// This node's ``SecretFingerprint``, said in its `hello` and `fingerprint` records.
    nonisolated let fingerprint: String
    /// The secret check is over and found no node with another secret (Specs/amqp-topology.md,
    /// "Every node uses the same secret"); joins wait for it. Stays true across reconnects.
    var secretChecked = false
    /// The same, readable from any thread (for the banner and `isReady`).
    nonisolated let secretConfirmed = Atomic<Bool>(false)
    /// A node heard during the check whose fingerprint differs from this node's.
    var secretMismatch: (node: String, fingerprint: String)?
    /// The sentence saying why the node refused to start; set once, then the node stops.
    nonisolated let refusal = Mutex<String?>(nil)
    var history: RoomHistory
    /// The first claim record of every claimed nick, as read from the stream.
    var claims: [String: Claim] = [:]
    var presence: PresenceTable
    /// Nodes this node has heard from; a new one makes it announce at once, so a starting
    /// node learns every roster without waiting for the next interval.
    var knownNodes: Set<String> = []
    var sessions: [UInt64: SessionEntry] = [:]
    var joining: Set<UInt64> = []
    var nickOwner: [String: UInt64] = [:]
    var roomMembers: [String: OrderedDictionary<UInt64, any ChatOutlet>] = [:]
    var roomOutlets: [String: [any ChatOutlet]] = [:]
    /// The channel of every inbox consumer for the current link, once one was needed.
    var inboxChannel: InboxChannel?
    /// Every inbox channel whose sink is still read (the current one, and closed ones until
    /// their last consumer's `ended`), by serial, with how many consumers it has.
    var inboxChannels: [Int: (channel: InboxChannel, consumers: Int)] = [:]
    var nextInboxSerial = 1
    /// Inbox routes, held deliveries, what each session holds unacked, inboxes being released,
    /// acks awaiting their receipts' confirms and the opening of the inbox channel
    /// (ChatNodeCore+Inbox.swift).
    var inboxes: Inboxes
    /// Sessions waiting for an inbox release to finish, by inbox serial.
    var inboxReleaseWaiters: [Int: [UInt64]] = [:]
    /// The running timers of the inbox machine (an ack's deadline, a take-over's next try),
    /// by ticket.
    var inboxTimers: [Inboxes.Ticket: Task<Void, Never>] = [:]
    /// The channel each ack's receipts went on, closed if its deadline passes.
    var receiptChannels: [Inboxes.Ticket: any BrokerChannel] = [:]
    /// Sessions waiting for their ack to be answered, by token.
    var ackResumers: [UInt64: CheckedContinuation<Void, Never>] = [:]
    /// Joins and reattaches waiting for their take-over of a user queue, by ticket.
    var takeoverResumers: [Inboxes.Ticket: CheckedContinuation<Inbox?, Never>] = [:]
    /// Every `say`/`tell` in flight, the dedup windows, the receipts that overtook a confirm
    /// and the public messages held for a sender until its `sent` (ChatNodeCore+Publish.swift).
    var publishes: Publishes
    /// The running deadline of each publish in flight, by ticket (cancelled when answered).
    var publishTimers: [Publishes.Ticket: Task<Void, Never>] = [:]
    /// The channel each publish in flight went on, closed if its deadline passes.
    var publishChannels: [Publishes.Ticket: any BrokerChannel] = [:]
    /// Sessions waiting for their `say`/`tell` to be answered, by ``PublishMachine/Submission/token``.
    var publishResumers: [UInt64: CheckedContinuation<Void, Never>] = [:]
    /// The graceful stop waiting for the publishes in flight (``PublishMachine/Action/drained``).
    var stopWaiter: UInt64?
    var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    var caughtUpWaiters: [UInt64] = []
    var claimWaiters: [String: UInt64] = [:]
    /// Joins making their broker calls, and those waiting for their turn (ChatNodeCore+JoinGate.swift).
    var joinGate: JoinGate
    var joinGateWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    var nextWaiter: UInt64 = 1
    var nextMarker: UInt64 = 1
    /// The graceful stop in progress, if one began.
    var shutdownRun: Task<Void, Never>?
    var announcing = false
    var rosterDirty = false
    /// Presence changes not yet told to the sessions, and whether a flush is due.
    var presenceBatch = PresenceBatch()
    var presenceFlushScheduled = false
    /// The local roster changed since it was last announced to the other nodes.
    var localRosterChanged = false
    /// The welcome roster as of the last flush, and whether anything changed since.
    var rosterSnapshot: RosterSnapshot?
    var rosterSnapshotStale = true
    /// Nicks whose inbox was declared without this node's caps (ChatNodeCore+InboxCaps.swift),
    /// oldest first; at most `legacyInboxMemory`.
    var legacyInboxes: OrderedSet<String> = []
    /// Ticks of ``Claim/seen``.
    var seenCounter: UInt64 = 0
    /// Every claimed nick, sorted, for `users` requests; nil after claims changed.
    var sortedNicksCache: [String]?

    init(configuration: ChatConfiguration, logger: Logger, broadcaster: any ChatBroadcaster) {
        self.configuration = configuration
        self.topology = configuration.topology
        self.logger = logger
        self.broadcaster = broadcaster
        tokens = NickToken(secret: configuration.secret)
        fingerprint = SecretFingerprint.of(configuration.secret)
        messageIds = MessageIDs(secret: configuration.secret)
        history = RoomHistory(capacity: configuration.limits.historyKept, maxRoomBytes: configuration.limits.historyKeptBytes,
                              maxTotalBytes: configuration.limits.historyTotalBytes, maxRooms: configuration.limits.historyRooms)
        presence = PresenceTable(expiryMilliseconds: configuration.presenceExpiry.milliseconds)
        joinGate = JoinGate(capacity: configuration.limits.joinsInFlight)
        publishes = Publishes(limits: Self.publishLimits(configuration))
        inboxes = Inboxes(limits: Self.inboxLimits(configuration))
    }

    var now: Int64 { configuration.clock.nowMilliseconds() }
    nonisolated var nodeId: String { configuration.nodeId }

    nonisolated func refused() {
        metrics.framesRefused.increment()
    }

    // MARK: Waiting with a timeout

    /// Suspends until `resume(waiter:with:)` is called for the returned id, or `timeout` passes
    /// (then false). `register` runs first, with the id, on the actor.
    func wait(timeout: Duration, register: (UInt64) -> Void) async -> Bool {
        let id = nextWaiter
        nextWaiter += 1
        register(id)
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.resume(waiter: id, with: false)
        }
        let result = await withCheckedContinuation { continuation in
            waiters[id] = continuation
        }
        timer.cancel()
        return result
    }

    func resume(waiter id: UInt64, with value: Bool) {
        waiters.removeValue(forKey: id)?.resume(returning: value)
    }

    /// Waits until the history stream was read up to this node's sync marker, so claims and
    /// history are complete; false when the broker is down or it takes too long.
    func waitUntilCaughtUp() async -> Bool {
        if caughtUp { return true }
        guard link != nil else { return false }
        return await wait(timeout: configuration.takeoverTimeout) { caughtUpWaiters.append($0) }
    }

    // MARK: Channels

    /// The publish channel, reopened when a channel error closed it.
    func publisher() async throws(BrokerError) -> any BrokerChannel {
        guard var link else { throw BrokerError.connectionClosed("The node is not connected to the broker.") }
        if link.publish.closeReason == nil { return link.publish }
        let channel = try await link.connection.openChannel()
        link.publish = channel
        if self.link?.generation == link.generation { self.link = link }
        return channel
    }

    /// Runs `body` on a channel of its own, closed afterwards (for declares that may fail with
    /// a channel error without harming the shared channels).
    func withTemporaryChannel<T: Sendable>(_ body: (any BrokerChannel) async throws(BrokerError) -> T) async throws(BrokerError) -> T {
        guard let link else { throw BrokerError.connectionClosed("The node is not connected to the broker.") }
        let channel = try await link.connection.openChannel()
        do {
            let result = try await body(channel)
            await channel.close()
            return result
        } catch {
            await channel.close()
            throw error
        }
    }

    // MARK: Sending

    func send(_ frame: ServerFrame, to sessionId: UInt64) {
        sessions[sessionId]?.session.send(frame)
    }

    func outlets(inRoom room: String) -> [any ChatOutlet] {
        if let cached = roomOutlets[room] { return cached }
        let outlets = roomMembers[room].map { Array($0.values) } ?? []
        roomOutlets[room] = outlets
        return outlets
    }

    func addMember(_ sessionId: UInt64, outlet: any ChatOutlet, to room: String) {
        roomMembers[room, default: [:]][sessionId] = outlet
        roomOutlets.removeValue(forKey: room)
    }

    func removeMember(_ sessionId: UInt64, from room: String) {
        roomMembers[room]?.removeValue(forKey: sessionId)
        if roomMembers[room]?.isEmpty == true { roomMembers.removeValue(forKey: room) }
        roomOutlets.removeValue(forKey: room)
    }
}

import Broker
import Logging
import OrderedCollections
import Synchronization

/// The state of one node, owned by an actor: sessions, rooms, the history index, claims,
/// presence and dedup windows. Broker calls are awaited from here; every method re-checks
/// what it relies on after each `await` (actors are reentrant).
actor ChatNodeExecutor {
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

    /// A nick's first claim record (``ClaimsMachine/Claim``).
    typealias Claim = ClaimsMachine<ContinuousClock.Instant>.Claim

    /// A joined session.
    struct SessionEntry: JoinedSession {
        let session: ChatSession
        var nick: String
        /// The device this session signed in on (``AccountsMachine``): a `revoke` of it closes the session (4005).
        var device: String?
        var rooms: OrderedSet<String>
        /// `typing` frames over it are dropped silently.
        var typingLimiter: RateLimiter

        typealias Instant = ContinuousClock.Instant
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
    var lastClaimsOffset: Int64?
    /// Where the `chat.state` stream was read up to, and from (what retention left at the start).
    var lastStateOffset: Int64?
    var firstStateOffset: Int64?
    /// The accounts read from `chat.state` and the password derivations (ChatNodeExecutor+Accounts.swift).
    var accountsMachine = Accounts()
    /// Derivations waiting for their turn, by waiter id (``AccountsMachine/Action``).
    var derivationResumers: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    /// Joins waiting for their new device's record to come back through `chat.state`, by waiter id.
    var deviceResumers: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    /// Their deadlines (the claim timeout), by waiter id.
    var deviceTimers = MachineTimers<UInt64>()
    /// Read positions and settings, the `read` throttle (ChatNodeExecutor+ReadState.swift).
    var readState = ReadStates()
    /// The deferred `read` of each session and conversation, by key.
    var readTimers = MachineTimers<ReadTimerKey>()
    /// Who checkpoints which user's state, and when (``StateRetentionMachine``).
    var retention: StateRetentionMachine
    /// `checkpoint` records this node published (for tests and the log).
    var checkpointsPublished = 0
    /// Sessions whose `signOut` awaits its confirm (they close after their `signedOut`).
    var signingOut: Set<UInt64> = []
    /// This node's ``SecretFingerprint``, said in its `hello` and `fingerprint` records.
    nonisolated let fingerprint: String
    /// The secret check is over and found no node with another secret (``CatchUpMachine``),
    /// readable from any thread (for the banner and `isReady`).
    nonisolated let secretConfirmed = Atomic<Bool>(false)
    /// The sentence saying why the node refused to start; set once, then the node stops.
    nonisolated let refusal = Mutex<String?>(nil)
    /// The history index, where the history stream was read up to, the end probe
    /// (ChatNodeExecutor+Link.swift).
    var historyMachine: Histories
    /// The end probe's deadline, while it runs (keyed by the probe's id).
    var historyProbeTimer = MachineTimers<Int>()
    /// The link's start waiting for the end probe's answer, with the probe's id.
    var historyProbeResumer: (probe: Int, continuation: CheckedContinuation<Int64?, Never>)?
    /// Presence: the table, the batched flush, the roster snapshot, the announcements
    /// (ChatNodeExecutor+Presence.swift).
    var presenceMachine: Presences
    var presenceTimers = MachineTimers<Presences.TimerKind>()
    /// The roster announcement being published, if one is (``PresenceMachine`` allows one at a time).
    var rosterAnnouncement: Task<Void, Never>?
    /// Whether joins may be served: the link's catch-up and the secret check (ChatNodeExecutor+CatchUp.swift).
    var catchUp: CatchUps
    var catchUpTimers = MachineTimers<CatchUps.TimerKind>()
    /// Joins waiting to catch up, by waiter id.
    var catchUpResumers: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    /// The claims, this node's claims waiting for their record, the roster lookups
    /// (ChatNodeExecutor+Join.swift, +Roster.swift).
    var claimsMachine: Claims
    /// Joins waiting for their claim's outcome, by waiter id.
    var claimResumers: [UInt64: CheckedContinuation<ClaimOutcome, Never>] = [:]
    /// The running deadline of each claim waiting for its record, by marker.
    var claimTimers = MachineTimers<String>()
    /// Joined and joining sessions, nick owners, room members, the join gate, the join deadlines
    /// (ChatNodeExecutor+Join.swift, +JoinGate.swift, +JoinTimeout.swift).
    var sessionsMachine: Sessions
    /// The running join deadline of each attached connection, by session id.
    var joinTimers = MachineTimers<UInt64>()
    /// The channel of every inbox consumer for the current link, once one was needed.
    var inboxChannel: InboxChannel?
    /// Every inbox channel whose sink is still read (the current one, and closed ones until
    /// their last consumer's `ended`), by serial, with how many consumers it has.
    var inboxChannels: [Int: (channel: InboxChannel, consumers: Int)] = [:]
    var nextInboxSerial = 1
    /// Inbox routes, held deliveries, what each session holds unacked, inboxes being released,
    /// acks awaiting their receipts' confirms and the opening of the inbox channel
    /// (ChatNodeExecutor+Inbox.swift).
    var inboxes: Inboxes
    /// Callers waiting for an inbox release to finish or for the inbox channel's opening, by
    /// waiter id (``InboxMachine/Wait``).
    var inboxWaitResumers: [UInt64: CheckedContinuation<Void, Never>] = [:]
    /// The running timers of the inbox machine (an ack's deadline, a take-over's or reattach's
    /// next try, a wait's deadline), by ticket.
    var inboxTimers = MachineTimers<Inboxes.Ticket>()
    /// The channel each ack's receipts went on, closed if its deadline passes.
    var receiptChannels: [Inboxes.Ticket: any BrokerChannel] = [:]
    /// Sessions waiting for their ack to be answered, by token.
    var ackResumers: [UInt64: CheckedContinuation<Void, Never>] = [:]
    /// Joins and reattaches waiting for their take-over of a user queue, by ticket.
    var takeoverResumers: [Inboxes.Ticket: CheckedContinuation<Inbox?, Never>] = [:]
    /// Every `say`/`tell` in flight, the dedup windows, the receipts that overtook a confirm
    /// and the public messages held for a sender until its `sent` (ChatNodeExecutor+Publish.swift).
    var publishes: Publishes
    /// The running deadline of each publish in flight, by ticket (cancelled when answered).
    var publishTimers = MachineTimers<Publishes.Ticket>()
    /// The channel each publish in flight went on, closed if its deadline passes.
    var publishChannels: [Publishes.Ticket: any BrokerChannel] = [:]
    /// Sessions waiting for their `say`/`tell` to be answered, by ``PublishMachine/Submission/token``.
    var publishResumers: [UInt64: CheckedContinuation<Void, Never>] = [:]
    /// The graceful stop waiting for the publishes in flight (``PublishMachine/Action/drained``).
    var stopDrained: CheckedContinuation<Void, Never>?
    /// The graceful stop's grace (``PublishMachine/Limits/stopGrace``), while it runs.
    var stopTimer = MachineTimers<Int>()
    /// Joins waiting for their turn at the join gate (ChatNodeExecutor+JoinGate.swift).
    var joinGateResumers: [UInt64: CheckedContinuation<Void, Never>] = [:]
    var nextWaiter: UInt64 = 1
    var nextMarker: UInt64 = 1
    /// The graceful stop in progress, if one began.
    var shutdownRun: Task<Void, Never>?
    /// Nicks whose inbox was declared without this node's caps (ChatNodeExecutor+InboxCaps.swift),
    /// oldest first; at most `legacyInboxMemory`.
    var legacyInboxes: OrderedSet<String> = []

    init(configuration: ChatConfiguration, logger: Logger, broadcaster: any ChatBroadcaster) {
        self.configuration = configuration
        self.topology = configuration.topology
        self.logger = logger
        self.broadcaster = broadcaster
        tokens = NickToken(secret: configuration.secret)
        let fingerprint = SecretFingerprint.of(configuration.secret)
        self.fingerprint = fingerprint
        messageIds = MessageIDs(secret: configuration.secret)
        historyMachine = Histories(
            history: RoomHistory(
                capacity: configuration.limits.historyKept, maxRoomBytes: configuration.limits.historyKeptBytes,
                maxTotalBytes: configuration.limits.historyTotalBytes, maxRooms: configuration.limits.historyRooms),
            probeTimeout: configuration.takeoverTimeout)
        presenceMachine = Presences(nodeId: configuration.nodeId, timings: Self.presenceTimings(configuration))
        catchUp = CatchUps(nodeId: configuration.nodeId, fingerprint: fingerprint, timings: Self.catchUpTimings(configuration))
        sessionsMachine = Sessions(
            joinsInFlight: configuration.limits.joinsInFlight, roomsPerSession: configuration.limits.roomsPerSession,
            joinTimeout: configuration.joinTimeout)
        claimsMachine = Claims(claimTimeout: configuration.claimTimeout)
        publishes = Publishes(limits: Self.publishLimits(configuration))
        inboxes = Inboxes(limits: Self.inboxLimits(configuration))
        retention = StateRetentionMachine(
            nodeId: configuration.nodeId, retainedBytes: Int64(configuration.limits.stateStreamBytes - configuration.limits.stateSegmentBytes))
    }

    deinit {
        // A node that went away leaves no timer sleeping.
        presenceTimers.cancelAll()
        catchUpTimers.cancelAll()
        inboxTimers.cancelAll()
        publishTimers.cancelAll()
        joinTimers.cancelAll()
        claimTimers.cancelAll()
        deviceTimers.cancelAll()
        readTimers.cancelAll()
        historyProbeTimer.cancelAll()
        stopTimer.cancelAll()
    }

    var now: Int64 { configuration.clock.nowMilliseconds() }
    nonisolated var nodeId: String { configuration.nodeId }

    nonisolated func refused() {
        metrics.framesRefused.increment()
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
}

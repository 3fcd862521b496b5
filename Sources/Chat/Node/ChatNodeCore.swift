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

    /// A user's inbox consumer, on the node's shared inbox channel (``InboxChannel``).
    ///
    /// Every user's consumer shares one channel, so a node is not capped by the broker's
    /// `channel_max` (RabbitMQ's default 2047), and one sink, read by one task, so an idle
    /// user costs no stream and no task. Ending an inbox is therefore not a channel close:
    /// the consumer is cancelled and exactly its own unacknowledged deliveries are nacked back
    /// to the queue (``ChatNodeCore/releaseInbox(_:pending:startDelivering:)``).
    struct Inbox: Sendable {
        var channel: any BrokerChannel
        /// ``InboxChannel/serial`` of the channel it consumes on.
        var channelSerial: Int
        var consumerTag: String
        /// Unique per consumer on this node: deliveries are matched to the inbox they came on.
        var serial: Int
        /// The broker link it was started on.
        var generation: Int

        var key: InboxKey { InboxKey(channel: channelSerial, tag: consumerTag) }
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

    /// An inbox consumer as its channel's sink names it.
    struct InboxKey: Hashable, Sendable {
        var channel: Int
        var tag: String
    }

    /// Where a consumer's deliveries go. Until the session was welcomed (``started``) they
    /// are held (at most `inboxPrefetch`), so private messages follow the welcome.
    struct InboxRoute: Sendable {
        var session: UInt64
        var inbox: Inbox
        var started = false
        var held: [Delivery] = []
    }

    /// An inbox being released: its consumer is cancelled, and the delivery tags to nack back
    /// once its last delivery was read (those the client did not ack, and any the broker
    /// sent between the cancel and its cancel-ok), in tag order.
    struct ClosingInbox: Sendable {
        var inbox: Inbox
        var tags: [UInt64]
    }

    /// A private message or receipt handed to the client and not yet acked by it.
    struct PendingDelivery: Sendable {
        var deliveryTag: UInt64
        /// The sender of a private message (its receipt goes to them); nil for a receipt.
        var from: String?
        /// ``Inbox/serial`` of the inbox it came on.
        var inbox: Int
    }

    /// A `delivered` receipt from a user's inbox, held until its message's publish is confirmed.
    struct HeldReceipt: Sendable {
        var delivery: Delivery
        var session: UInt64
        var inbox: Inbox
    }

    /// A nick's first claim record (``ClaimsMachine/Claim``).
    typealias Claim = ClaimsMachine<ContinuousClock.Instant>.Claim

    /// A joined session.
    struct SessionEntry: JoinedSession {
        let session: ChatSession
        var nick: String
        var rooms: OrderedSet<String>
        var inbox: Inbox?
        var pending: [String: [PendingDelivery]] = [:]
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
    var lastStreamOffset: Int64?
    var lastClaimsOffset: Int64?
    /// History records read since the node started (to show that a start reads a bounded part).
    var historyRecordsRead = 0
    /// This node's ``SecretFingerprint``, said in its `hello` and `fingerprint` records.
    nonisolated let fingerprint: String
    /// The secret check is over and found no node with another secret (``CatchUpMachine``),
    /// readable from any thread (for the banner and `isReady`).
    nonisolated let secretConfirmed = Atomic<Bool>(false)
    /// The sentence saying why the node refused to start; set once, then the node stops.
    nonisolated let refusal = Mutex<String?>(nil)
    var history: RoomHistory
    /// Presence: the table, the batched flush, the roster snapshot, the announcements
    /// (ChatNodeCore+Presence.swift).
    var presenceMachine: Presences
    var presenceTimers: [Presences.TimerKind: Task<Void, Never>] = [:]
    /// Whether joins may be served: the link's catch-up and the secret check (ChatNodeCore+CatchUp.swift).
    var catchUp: CatchUps
    var catchUpTimers: [CatchUps.TimerKind: Task<Void, Never>] = [:]
    /// Joins waiting to catch up, by waiter id.
    var catchUpResumers: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    /// The claims, this node's claims waiting for their record, the roster lookups
    /// (ChatNodeCore+Join.swift, +Roster.swift).
    var claimsMachine: Claims
    /// Joins waiting for their claim's outcome, by waiter id.
    var claimResumers: [UInt64: CheckedContinuation<ClaimOutcome, Never>] = [:]
    /// The running deadline of each claim waiting for its record, by marker.
    var claimTimers: [String: Task<Void, Never>] = [:]
    /// Joined and joining sessions, nick owners, room members, the join gate
    /// (ChatNodeCore+Join.swift, +JoinGate.swift).
    var sessionsMachine: Sessions
    /// The channel of every inbox consumer for the current link, once one was needed.
    var inboxChannel: InboxChannel?
    /// Every inbox channel whose sink is still read (the current one, and closed ones until
    /// their last consumer's `ended`), by serial, with how many consumers it has.
    var inboxChannels: [Int: (channel: InboxChannel, consumers: Int)] = [:]
    /// Every inbox consumer that has not ended, by channel and tag.
    var inboxRoutes: [InboxKey: InboxRoute] = [:]
    /// Sink events of consumers whose `consume` call has not returned yet (the sink's reader
    /// can run first); taken over when it returns.
    var unclaimedInboxEvents: [InboxKey: (deliveries: [Delivery], ended: Bool)] = [:]
    var nextInboxSerial = 1
    /// A call of ``sharedInboxChannel()`` is opening the inbox channel; others wait for it.
    var inboxChannelOpening = false
    var inboxChannelWaiters: [UInt64] = []
    /// Inboxes being released, by serial (see ``ClosingInbox``); one per ended session at most
    /// until its consumer's stream has finished.
    var closingInboxes: [Int: ClosingInbox] = [:]
    /// Sessions waiting for an inbox release to finish, by inbox serial.
    var inboxReleaseWaiters: [Int: [UInt64]] = [:]
    /// Acks under way per inbox serial (their `delivered` receipts await the broker's
    /// confirm). Their delivery tags are no longer pending, so releasing the inbox never
    /// requeues a message whose ack was answered with `delivered`.
    var acksInFlight: [Int: Int] = [:]
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
    /// Joins waiting for their turn at the join gate (ChatNodeCore+JoinGate.swift).
    var joinGateResumers: [UInt64: CheckedContinuation<Void, Never>] = [:]
    var nextWaiter: UInt64 = 1
    var nextMarker: UInt64 = 1
    /// The graceful stop in progress, if one began.
    var shutdownRun: Task<Void, Never>?
    /// Nicks whose inbox was declared without this node's caps (ChatNodeCore+InboxCaps.swift),
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
        history = RoomHistory(capacity: configuration.limits.historyKept, maxRoomBytes: configuration.limits.historyKeptBytes,
                              maxTotalBytes: configuration.limits.historyTotalBytes, maxRooms: configuration.limits.historyRooms)
        presenceMachine = Presences(nodeId: configuration.nodeId, timings: Self.presenceTimings(configuration))
        catchUp = CatchUps(nodeId: configuration.nodeId, fingerprint: fingerprint, timings: Self.catchUpTimings(configuration))
        sessionsMachine = Sessions(joinsInFlight: configuration.limits.joinsInFlight, roomsPerSession: configuration.limits.roomsPerSession)
        claimsMachine = Claims(claimTimeout: configuration.claimTimeout)
        publishes = Publishes(limits: Self.publishLimits(configuration))
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

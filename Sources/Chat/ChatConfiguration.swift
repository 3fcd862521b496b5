/// Everything a `ChatNode` needs to know besides its broker: who it is, the shared secret,
/// the limits it enforces and the timing of presence. Every node of one chat shares `secret`.
public struct ChatConfiguration: Sendable {
    /// Unique per running node; names its private queues and its presence announcements.
    public var nodeId: String
    /// The HMAC-SHA256 key that signs nick tokens and derives message ids. Shared by every node.
    public var secret: [UInt8]
    /// What a session may send and how much of it.
    public var limits: ChatLimits
    /// How often the node announces its local roster on `chat.presence`.
    public var presenceInterval: Duration
    /// How long a node gathers presence changes before it tells its sessions, in one `presence`
    /// frame for all of them (and announces its changed roster to the other nodes).
    public var presenceBatchInterval: Duration
    /// How long an announcement stays valid; a node silent for longer has its users shown
    /// offline. Must be at most 15 s to meet the presence guarantee.
    public var presenceExpiry: Duration
    /// First and last delay between reconnect attempts (doubling, with jitter).
    public var reconnectBackoff: ClosedRange<Duration>
    /// How long a join waits for the nick's inbox when another node still holds it, and for
    /// the node to catch up with the broker after it (re)connected.
    public var takeoverTimeout: Duration
    /// How long a join of a new nick waits for its claim to come back through the claims
    /// stream; after that it is answered `unavailable` (a retry with the same nonce gets the
    /// nick if the claim won meanwhile).
    public var claimTimeout: Duration
    /// The time source for timestamps, rate limits, dedup and presence expiry.
    public var clock: any ChatClock
    /// The names of the exchanges and queues; the default is the production topology.
    public var topology: ChatTopology
    /// How long a connection may stay without a successful `join`; then it is closed (4004).
    public var joinTimeout: Duration = .seconds(30)
    /// How long a `say`, `tell` or receipt may wait for the broker's confirm (and a `say` for
    /// its record to come back through the history stream) before it is answered `unavailable`
    /// and the publish channel is replaced. A broker that loses a confirm, or confirms a
    /// message it did not store, then costs one retry instead of a stuck session or a loss.
    public var publishTimeout: Duration = .seconds(10)
    /// How long a starting node listens for the running nodes' answers to its `hello` before
    /// it concludes that they share its secret (Specs/amqp-topology.md, "Every node uses the
    /// same secret"). Joins wait for it once per process start, not per reconnect.
    public var secretCheckWindow: Duration = .seconds(1)
    /// `--registration closed`: only nicks with an account made by an operator
    /// (`rabbitChat user add`) may join; others get `registration_closed`.
    public var registrationClosed = false
    /// scrypt's cost `N` for the passwords this node hashes (`setPassword`): 2^15 (Specs/chat-protocol.md,
    /// "Passwords"). A password is checked with the parameters stored with it. The tests use a
    /// small cost, so suites that run side by side in one process do not starve each other.
    public var passwordCost = 1 << 15

    public init(
        nodeId: String,
        secret: [UInt8],
        limits: ChatLimits = ChatLimits(),
        presenceInterval: Duration = .seconds(5),
        presenceExpiry: Duration = .seconds(12),
        presenceBatchInterval: Duration = .milliseconds(250),
        reconnectBackoff: ClosedRange<Duration> = .milliseconds(100) ... .seconds(5),
        takeoverTimeout: Duration = .seconds(5),
        claimTimeout: Duration = .seconds(5),
        clock: any ChatClock = SystemChatClock(),
        topology: ChatTopology = ChatTopology()
    ) {
        self.nodeId = nodeId
        self.secret = secret
        self.limits = limits
        self.presenceInterval = presenceInterval
        self.presenceExpiry = presenceExpiry
        self.presenceBatchInterval = presenceBatchInterval
        self.reconnectBackoff = reconnectBackoff
        self.takeoverTimeout = takeoverTimeout
        self.claimTimeout = claimTimeout
        self.clock = clock
        self.topology = topology
    }
}

/// The limits of DESIGN.md's chat protocol. Defaults are the documented ones.
public struct ChatLimits: Sendable, Hashable {
    /// Frames per second a session may send on average.
    public var ratePerSecond: Double
    /// Frames a session may send in a burst.
    public var burst: Double
    /// Frames refused for rate in a row after which the session is closed with 4003.
    public var floodStrikes: Int
    /// Maximum length of a message text, in Unicode scalar values.
    public var maxTextScalars: Int
    /// Maximum size of one client frame, in UTF-8 bytes.
    public var maxFrameBytes: Int
    /// Messages per room in the welcome and in `entered`.
    public var historyOnJoin: Int
    /// Messages per room that a node keeps in memory for `history` requests.
    public var historyKept: Int
    /// How many of the newest records of the history stream a starting node reads before it
    /// accepts joins: its start takes time in proportion to this, not to the stream's length.
    /// Rooms silent for longer than that many public messages show no history until they speak.
    public var historyReadOnStart: Int
    /// Ids per sender that the dedup window remembers.
    public var dedupCapacity: Int
    /// How long the dedup window remembers an id.
    public var dedupWindow: Duration
    /// Unacknowledged private messages a user's inbox consumer may hold (AMQP prefetch).
    public var inboxPrefetch: UInt16
    /// Client frames queued for one session while earlier ones wait for the broker.
    public var sessionInboundQueue: Int
    /// Joins of one node making their broker calls at once; later ones wait in arrival order
    /// (``JoinGate``), so that joins arriving together finish one after another instead of all
    /// at the end.
    public var joinsInFlight: Int
    /// `chat.state`'s `x-max-length-bytes` and `x-stream-max-segment-size-bytes`
    /// (Specs/amqp-topology.md, "Retention of chat.state"): every user's state is checkpointed
    /// before it could fall out of the newest `stateStreamBytes - stateSegmentBytes` bytes.
    public var stateStreamBytes: Int = 1 << 28
    public var stateSegmentBytes: Int = 1 << 24
    /// Messages a user's queue may hold waiting (`x-max-length`); over it a `tell` is
    /// `inbox_full` (Specs/amqp-topology.md, "Inbox caps").
    public var inboxMaxMessages: Int = 1000
    /// Bytes of message bodies a user's queue may hold waiting (`x-max-length-bytes`).
    public var inboxMaxBytes: Int = 4 * 1024 * 1024
    /// Entries of a welcome's `users`: every online nick, then the most recently seen others.
    public var welcomeRoster: Int = 500
    /// Rooms in a welcome's `rooms`: those with the most recent public message.
    public var welcomeRooms: Int = 200
    /// Rooms one session may be in at once; an `enter` beyond is `too_many_rooms`.
    public var roomsPerSession: Int = 100
    /// Bytes of messages a node keeps in memory per room for `history` (besides `historyKept`).
    public var historyKeptBytes: Int = 1024 * 1024
    /// Bytes of messages a node keeps in memory for all rooms together; past it the least
    /// recently active room loses its oldest messages first.
    public var historyTotalBytes: Int = 32 * 1024 * 1024
    /// Rooms whose history a node keeps in memory; past it the least recently active room's
    /// history is forgotten (it stays in the stream).
    public var historyRooms: Int = 1000
    /// `typing` frames a session may send per second on average, and in a burst; the excess
    /// is dropped silently.
    public var typingPerSecond: Double = 2
    public var typingBurst: Double = 5
    /// Bytes of history (as `RoomHistory.cost(of:)` counts them) in one `entered` or
    /// `history` answer: fewer, newest first, than `limit` when the messages are large; the
    /// client pages on with `before`. Far below the session's 1 MiB outbound cap, so that
    /// large messages in a room never make its answers close the session with 4002.
    public var historyBytesPerReply: Int = 256 * 1024
    /// Bytes of history in a welcome, shared evenly by its entered rooms (a room whose share
    /// is smaller than its newest message starts empty and is paged with `history`).
    public var welcomeHistoryBytes: Int = 384 * 1024
    /// Public messages held back for one sender while its `say` awaits its `sent`, so that its
    /// own copy comes after the `sent` (``PublishMachine/holdPublic(_:for:)``). Past it the
    /// hold ends and everything held goes out at once.
    public var heldPublicPerSession: Int = 1024

    public init(
        ratePerSecond: Double = 20, burst: Double = 50, floodStrikes: Int = 50,
        maxTextScalars: Int = 4000, maxFrameBytes: Int = 64 * 1024,
        historyOnJoin: Int = 100, historyKept: Int = 1000, historyReadOnStart: Int = 20_000,
        dedupCapacity: Int = 10_000, dedupWindow: Duration = .seconds(600),
        inboxPrefetch: UInt16 = 100, sessionInboundQueue: Int = 256, joinsInFlight: Int = 8
    ) {
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        self.floodStrikes = floodStrikes
        self.maxTextScalars = maxTextScalars
        self.maxFrameBytes = maxFrameBytes
        self.historyOnJoin = historyOnJoin
        self.historyKept = historyKept
        self.historyReadOnStart = historyReadOnStart
        self.dedupCapacity = dedupCapacity
        self.dedupWindow = dedupWindow
        self.inboxPrefetch = inboxPrefetch
        self.sessionInboundQueue = sessionInboundQueue
        self.joinsInFlight = joinsInFlight
    }
}

import DequeModule

/// Keeps every user's state inside `chat.state`'s retention without compaction
/// (Specs/amqp-topology.md, "Retention of chat.state"), as a value that decides.
///
/// Every node reads the same records in the same order and counts each as its body plus
/// ``overheadBytes``, so every node measures the same distances between records. Per nick it
/// keeps the position of its **base**: the first record of the nick read, or its newest
/// `checkpoint` (one record holding the nick's whole state). Everything the node knows of the
/// nick is in records at or after its base, so the nick is safe while its base is younger than
/// the stream's retention window.
///
/// When the oldest base falls ``refreshDistance`` behind the stream's end, a checkpoint is due;
/// the node that published the record whose reading made it due (its `node` field) is the
/// owner: it publishes a checkpoint of every nick whose base is more than half the refresh
/// distance behind (``Action/checkpoint(nicks:)``). Every node decides alike, so one node
/// publishes; it does not name a nick again while that nick's checkpoint is on its way. Should the owner die first, each further quarter of the refresh distance without
/// the checkpoint makes the then-reading record's node the owner (a record of the operator
/// tool or of an older node names none: the next step decides).
struct StateRetentionMachine: Sendable {
    enum Action: Sendable, Hashable {
        /// Publish a `checkpoint` record of each of these nicks (their whole state, one record
        /// each); report a nick with no state left with ``forget(_:)``.
        case checkpoint(nicks: [String])
    }

    /// What one record costs in the estimate beyond its body (RabbitMQ's per-entry header and
    /// message encoding, and what the built-in broker counts per record).
    static var overheadBytes: Int64 { 400 }

    let nodeId: String
    /// How far behind the stream's end the oldest base may fall before a checkpoint is due.
    let refreshDistance: Int64
    /// The bytes read so far (the position of the next record).
    private(set) var end: Int64 = 0
    private(set) var base: [String: Int64] = [:]
    /// Bases in stream order; an entry whose nick has a newer base is skipped when it comes first.
    private var queue: Deque<(nick: String, position: Int64)> = []
    /// The step of the due condition last acted on (0: not due).
    private var step: Int64 = 0
    /// Nicks whose checkpoint this node is publishing: not named again until read back (or failed).
    private(set) var inFlight: Set<String> = []

    /// - Parameters:
    ///   - retainedBytes: the bytes of records the stream keeps for certain (its
    ///     `x-max-length-bytes` less one segment, RabbitMQ dropping whole segments); the refresh
    ///     distance is half of it, so a checkpoint has the other half to land.
    init(nodeId: String, retainedBytes: Int64) {
        self.nodeId = nodeId
        refreshDistance = max(1, retainedBytes / 2)
    }

    /// The node read a record of `body` bytes: of `nick` (nil for a `sync` or an unreadable
    /// record), a `checkpoint` when `isCheckpoint`, published by node `origin` (nil: unknown).
    mutating func read(nick: String?, bytes: Int, isCheckpoint: Bool, origin: String?) -> [Action] {
        let position = end
        end += Int64(bytes) + Self.overheadBytes
        if let nick, isCheckpoint || base[nick] == nil {
            base[nick] = position
            queue.append((nick, position))
        }
        if let nick, isCheckpoint { inFlight.remove(nick) }
        return decide(origin: origin)
    }

    /// A nick's checkpoint found no state left: it is not kept any more.
    mutating func forget(_ nick: String) {
        base.removeValue(forKey: nick)
        inFlight.remove(nick)
    }

    /// This node's checkpoint of `nick` could not be published: the nick may be named again.
    mutating func checkpointFailed(_ nick: String) {
        inFlight.remove(nick)
    }

    /// The link was lost: no checkpoint of this node is on its way any more.
    mutating func linkLost() {
        inFlight = []
    }

    /// The position of the oldest base still valid.
    var oldestBase: Int64? {
        queue.first { base[$0.nick] == $0.position }?.position
    }

    private mutating func decide(origin: String?) -> [Action] {
        while let head = queue.first, base[head.nick] != head.position { queue.removeFirst() }
        guard let oldest = queue.first?.position, end - oldest >= refreshDistance else {
            step = 0
            return []
        }
        let current = 1 + (end - oldest - refreshDistance) / max(1, refreshDistance / 4)
        guard current > step else { return [] }
        step = current
        guard origin == nodeId else { return [] }
        let cut = end - refreshDistance / 2
        var nicks: [String] = []
        for entry in queue {
            guard entry.position < cut else { break }
            if base[entry.nick] == entry.position, !inFlight.contains(entry.nick) { nicks.append(entry.nick) }
        }
        guard !nicks.isEmpty else { return [] }
        inFlight.formUnion(nicks)
        return [.checkpoint(nicks: nicks)]
    }
}

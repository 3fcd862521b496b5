import OrderedCollections

/// The client ids one sender used recently and what became of them, so that a retried
/// `say`/`tell` is not published again. Bounded both ways: at most `capacity` ids and none
/// older than `window`; the oldest go first. An entry holds no `msgId`: that is derived from
/// the sender and the id (``MessageIDs``), and a full window holds tens of thousands of
/// entries, so each is kept small.
public struct DedupWindow: Sendable, Hashable {
    /// What the node did with an id.
    public struct Entry: Sendable, Hashable {
        /// When the first attempt was accepted: the `ts` of its message.
        public var ts: Int64
        /// True once the broker confirmed; until then a retry waits for the first attempt.
        public var confirmed: Bool

        public init(ts: Int64, confirmed: Bool) {
            self.ts = ts
            self.confirmed = confirmed
        }
    }

    public let capacity: Int
    public let windowMilliseconds: Int64
    private var entries: OrderedDictionary<String, Entry> = [:]

    public init(capacity: Int, windowMilliseconds: Int64) {
        self.capacity = max(1, capacity)
        self.windowMilliseconds = windowMilliseconds
    }

    public var count: Int { entries.count }

    /// The newest entry's time, to drop idle windows.
    public var newestTimestamp: Int64? { entries.values.last?.ts }

    /// The entry for `id`, if it is still inside the window at `now`.
    public mutating func lookup(_ id: String, now: Int64) -> Entry? {
        evictExpired(now: now)
        return entries[id]
    }

    /// Remembers `id` (the newest), evicting the oldest when full.
    public mutating func insert(_ id: String, _ entry: Entry, now: Int64) {
        evictExpired(now: now)
        entries.removeValue(forKey: id)
        entries[id] = entry
        if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
    }

    /// Marks `id` as confirmed by the broker.
    public mutating func confirm(_ id: String) {
        entries[id]?.confirmed = true
    }

    /// Forgets `id`: its publish failed, so a retry must publish again.
    public mutating func remove(_ id: String) {
        entries.removeValue(forKey: id)
    }

    private mutating func evictExpired(now: Int64) {
        var expired = 0
        for entry in entries.values {
            guard now - entry.ts > windowMilliseconds else { break }
            expired += 1
        }
        if expired > 0 { entries.removeFirst(expired) }
    }
}

import OrderedCollections

/// The presence changes a node has not told its sessions yet. Changes pile up between two
/// flushes and leave as one `presence` frame, encoded once and written to every session: 1,000
/// joins in one interval cost each session one frame, not 1,000. Pure: the node decides when
/// to flush.
///
/// Bounded by the number of distinct nicks in the cluster: a nick that changes again before a
/// flush replaces its earlier entry (the last state wins, which is the only one a client needs).
public struct PresenceBatch: Sendable, Hashable {
    private var pending: OrderedDictionary<String, Bool> = [:]

    public init() {}

    /// True when nothing waits to be told.
    public var isEmpty: Bool { pending.isEmpty }

    /// How many nicks wait to be told.
    public var count: Int { pending.count }

    /// Records changes; a nick's newest state replaces any earlier one in this batch.
    public mutating func add(_ changes: some Sequence<PresenceTable.Change>) {
        for change in changes { pending[change.nick] = change.online }
    }

    /// The frame that tells everything recorded since the last call (nicks sorted, so the same
    /// changes give the same bytes), or nil when there is nothing to tell. Empties the batch.
    public mutating func take(ts: Int64) -> Presence? {
        guard !pending.isEmpty else { return nil }
        var online: [String] = []
        var offline: [String] = []
        for (nick, isOnline) in pending {
            if isOnline { online.append(nick) } else { offline.append(nick) }
        }
        pending.removeAll()
        return Presence(online: online.sorted(), offline: offline.sorted(), ts: ts)
    }
}

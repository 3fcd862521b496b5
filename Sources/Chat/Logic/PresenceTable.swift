/// Who is online in the cluster, from the nodes' roster announcements. Each node's entry
/// lives until `expiry` after its last announcement; a nick is online while any live node
/// lists it. Pure: the caller gives the time and turns the changes into `presence` frames.
public struct PresenceTable: Sendable, Hashable {
    /// A nick that came online or went offline.
    public struct Change: Sendable, Hashable {
        public var nick: String
        public var online: Bool

        public init(nick: String, online: Bool) {
            self.nick = nick
            self.online = online
        }
    }

    private struct NodeEntry: Sendable, Hashable {
        var nicks: Set<String>
        var lastSeen: Int64
    }

    public let expiryMilliseconds: Int64
    private var nodes: [String: NodeEntry] = [:]
    private var counts: [String: Int] = [:]

    public init(expiryMilliseconds: Int64) {
        self.expiryMilliseconds = expiryMilliseconds
    }

    /// True while some live node lists `nick`.
    public func isOnline(_ nick: String) -> Bool { counts[nick, default: 0] > 0 }

    /// Every online nick.
    public var onlineNicks: Set<String> { Set(counts.keys) }

    /// Applies `node`'s announcement of its full local roster (empty when it leaves).
    public mutating func apply(node: String, nicks: Set<String>, now: Int64) -> [Change] {
        let old = nodes[node]?.nicks ?? []
        if nicks.isEmpty {
            nodes.removeValue(forKey: node)
        } else {
            nodes[node] = NodeEntry(nicks: nicks, lastSeen: now)
        }
        return replace(old: old, new: nicks)
    }

    /// Adds `nick` to or removes it from `node`'s roster, keeping the rest: what a node does for
    /// its own sessions as they join and leave, in time independent of the roster's size (a full
    /// ``apply(node:nicks:now:)`` per join would make a crowd of N joins cost N² work).
    public mutating func update(node: String, nick: String, online: Bool, now: Int64) -> [Change] {
        var entry = nodes[node] ?? NodeEntry(nicks: [], lastSeen: now)
        entry.lastSeen = now
        let changed = online ? entry.nicks.insert(nick).inserted : entry.nicks.remove(nick) != nil
        if entry.nicks.isEmpty { nodes.removeValue(forKey: node) } else { nodes[node] = entry }
        guard changed else { return [] }
        return online ? replace(old: [], new: [nick]) : replace(old: [nick], new: [])
    }

    /// The nicks `node` lists (for a node's own roster announcement).
    public func roster(of node: String) -> Set<String> { nodes[node]?.nicks ?? [] }

    /// Drops the nodes that have not announced within the expiry.
    public mutating func expire(now: Int64) -> [Change] {
        var changes: [Change] = []
        for (node, entry) in nodes where now - entry.lastSeen > expiryMilliseconds {
            nodes.removeValue(forKey: node)
            changes += replace(old: entry.nicks, new: [])
        }
        return changes
    }

    private mutating func replace(old: Set<String>, new: Set<String>) -> [Change] {
        var changes: [Change] = []
        for nick in old.subtracting(new).sorted() {
            let count = counts[nick, default: 0] - 1
            if count <= 0 {
                counts.removeValue(forKey: nick)
                changes.append(Change(nick: nick, online: false))
            } else {
                counts[nick] = count
            }
        }
        for nick in new.subtracting(old).sorted() {
            let count = counts[nick, default: 0] + 1
            counts[nick] = count
            if count == 1 { changes.append(Change(nick: nick, online: true)) }
        }
        return changes
    }
}

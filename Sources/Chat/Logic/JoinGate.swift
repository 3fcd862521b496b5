import DequeModule

/// How many joins of a node make their broker calls at once; the others wait their turn in
/// the order they came.
///
/// A join makes several broker calls one after the other (the claim, the user queue and its
/// binding, the inbox consumer), and all of a node's calls queue on its one broker connection.
/// Without a gate, n joins that arrive together interleave their calls and all finish at about
/// the same moment, after n joins' worth of calls: a join's wait grows with every join behind
/// it. Through the gate the first joins finish first. Pure: the node keeps the waiting
/// continuations and resumes the id that ``leave()`` returns.
///
/// Bounded: a waiting id is a session's one join under way, and sessions are bounded.
public struct JoinGate: Sendable, Hashable {
    /// Joins let in at once (at least 1).
    public let capacity: Int
    /// Joins let in and not yet done.
    public private(set) var inside = 0
    private var waiting: Deque<UInt64> = []

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Joins waiting to be let in.
    public var waitingCount: Int { waiting.count }

    /// Join `id` arrives: true when it goes on now; false when it waits, to be let in by a
    /// later ``leave()`` (never ahead of a join that came earlier).
    public mutating func arrive(_ id: UInt64) -> Bool {
        if inside < capacity && waiting.isEmpty {
            inside += 1
            return true
        }
        waiting.append(id)
        return false
    }

    /// A join that was let in is done. Returns the waiting join that takes its place (the
    /// oldest), or nil when none waits.
    public mutating func leave() -> UInt64? {
        precondition(inside > 0, "leave() without a join inside")
        if let next = waiting.popFirst() { return next }
        inside -= 1
        return nil
    }
}

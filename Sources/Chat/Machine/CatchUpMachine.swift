/// Whether a node may serve joins, as a value that decides and an executor that acts (the shape
/// of ``PublishMachine``: events in, actions out, timers as values).
///
/// A node serves joins once it has caught up (``caughtUp``): it read the claims stream up to
/// its own `sync` marker of the current link (every earlier claim is known), the history stream
/// up to the offset where it ended when the link came up, and its secret check is over without
/// finding a node with another secret (Specs/amqp-topology.md, "Every node uses the same
/// secret"). Joins wait for that, up to the takeover timeout (a timer per waiting join), and
/// are answered `unavailable` when it does not come or the link goes.
///
/// The secret check: once per link until it is over, the node says `hello` with its
/// fingerprint; `secretCheckWindow` after that went out, it ends: no differing fingerprint
/// heard (in an answer to this node, or in another starting node's `hello`) -> checked; one
/// heard -> the node refuses to start. A node whose check is over answers every `hello` with
/// its own fingerprint, and goes on whatever the newcomer's.
///
/// No clock is read here: every event that needs the time carries it (`now`).
struct CatchUpMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    struct Timings: Sendable, Hashable {
        /// How long a join waits for the node to catch up.
        var catchUpTimeout: Duration
        /// How long a starting node listens for other fingerprints after its `hello`.
        var secretCheckWindow: Duration
    }

    enum TimerKind: Sendable, Hashable {
        /// A join waiting to catch up gives up.
        case waiter(UInt64)
        /// The secret check of link `generation` ends.
        case secretCheck(generation: Int)
    }

    /// The executor calls ``timerFired(_:)`` with `kind` once `deadline` has passed, unless an
    /// action cancelled it first.
    struct Timer: Sendable, Hashable {
        var kind: TimerKind
        var deadline: Instant
    }

    /// A node whose secret's fingerprint differs from this node's.
    struct Mismatch: Sendable, Hashable {
        var node: String
        var fingerprint: String
    }

    /// A record of the secret check, as read from the node queue.
    enum SecretRecord: Sendable, Hashable {
        /// A starting node's `hello`.
        case hello(node: String, fingerprint: String)
        /// A running node's answer to a `hello` of node `to`.
        case fingerprint(node: String, to: String?, fingerprint: String)
    }

    enum Action: Sendable, Hashable {
        case startTimer(Timer)
        case cancelTimer(TimerKind)
        /// The join waiting as `waiter` goes on (true: caught up) or is `unavailable` (false).
        case resume(waiter: UInt64, caughtUp: Bool)
        /// Publish this node's `hello` on link `generation`'s channel, then call
        /// ``helloSent(generation:now:)``.
        case sayHello(generation: Int)
        /// Answer a starting node's `hello` with this node's fingerprint; `differing`: its
        /// fingerprint when it has another secret (worth a warning: it will refuse to start,
        /// this node goes on).
        case answerHello(to: String, differing: String?)
        /// The secret check is over and found no other secret (for `isReady`).
        case secretConfirmed
        /// This node's secret is not the chat's: refuse to start (say why, close the link).
        case refuse(Mismatch)
    }

    let nodeId: String
    /// This node's ``SecretFingerprint``.
    let fingerprint: String
    let timings: Timings

    /// The broker link the node has, nil while it has none.
    private(set) var generation: Int?
    /// The marker of this link's `sync` record in the claims stream.
    private(set) var syncMarker: String?
    /// Where the history stream ended when the link came up (nil: unknown, read it all).
    private(set) var historyTarget: Int64?
    /// The claims stream was read up to this link's sync marker: every earlier claim is known.
    private(set) var claimsCaughtUp = false
    /// The state stream was read up to this link's sync marker: every earlier account is known.
    /// Set at once by a link that does not read the state stream (``linkUp(generation:syncMarker:historyEnd:lastHistoryOffset:readsState:)``).
    private(set) var stateCaughtUp = false
    /// The history stream was read up to ``historyTarget``.
    private(set) var historyCaughtUp = false
    /// The secret check is over and found no node with another secret. Stays true across links.
    private(set) var secretChecked = false
    /// A node heard during the check whose fingerprint differs from this node's.
    private(set) var secretMismatch: Mismatch?
    /// The node refused to start; nothing more happens.
    private(set) var refused = false
    /// Joins waiting to catch up, in arrival order.
    private(set) var waiters: [UInt64] = []

    init(nodeId: String, fingerprint: String, timings: Timings) {
        self.nodeId = nodeId
        self.fingerprint = fingerprint
        self.timings = timings
    }

    /// Joins may be served.
    var caughtUp: Bool { claimsCaughtUp && stateCaughtUp && historyCaughtUp && secretChecked }

    // MARK: Events

    /// A link came up: its `sync` record goes into the claims stream with `syncMarker`, the
    /// history stream ended at `historyEnd` and was read up to `lastHistoryOffset` before.
    /// `readsState`: the same `sync` record goes into the state stream, and joins wait for it too.
    mutating func linkUp(generation: Int, syncMarker: String, historyEnd: Int64?, lastHistoryOffset: Int64?, readsState: Bool = false) -> [Action] {
        self.generation = generation
        self.syncMarker = syncMarker
        stateCaughtUp = !readsState
        historyTarget = historyEnd
        if let historyEnd {
            historyCaughtUp = (lastHistoryOffset ?? -1) >= historyEnd
        } else {
            historyCaughtUp = true
        }
        return resumeIfCaughtUp()
    }

    /// The link's `sync` record went out: the secret check starts, unless it is over.
    mutating func startSecretCheck() -> [Action] {
        guard !secretChecked, !refused, let generation else { return [] }
        return [.sayHello(generation: generation)]
    }

    /// The `hello` of link `generation` went out: the check ends `secretCheckWindow` from now.
    /// (When it could not go out, the link is going: the next one says it again.)
    mutating func helloSent(generation: Int, now: Instant) -> [Action] {
        guard !secretChecked, !refused, generation == self.generation else { return [] }
        return [.startTimer(Timer(kind: .secretCheck(generation: generation), deadline: now.advanced(by: timings.secretCheckWindow)))]
    }

    /// The node read a record of the history stream at `offset`.
    mutating func historyRead(offset: Int64) -> [Action] {
        guard !historyCaughtUp, let historyTarget, offset >= historyTarget else { return [] }
        historyCaughtUp = true
        return resumeIfCaughtUp()
    }

    /// The node read a `sync` record from the claims stream.
    mutating func syncRead(marker: String?) -> [Action] {
        guard marker == syncMarker, !claimsCaughtUp else { return [] }
        claimsCaughtUp = true
        return resumeIfCaughtUp()
    }

    /// The node read a `sync` record from the state stream.
    mutating func stateSyncRead(marker: String?) -> [Action] {
        guard marker == syncMarker, !stateCaughtUp else { return [] }
        stateCaughtUp = true
        return resumeIfCaughtUp()
    }

    /// A `hello` or `fingerprint` record from the node queue.
    mutating func secretRecord(_ record: SecretRecord) -> [Action] {
        switch record {
        case .hello(let node, let theirs):
            guard node != nodeId else { return [] }
            if secretChecked {
                // A running node answers, and goes on whatever the newcomer's secret is.
                return [.answerHello(to: node, differing: theirs != fingerprint ? theirs : nil)]
            }
            // Two nodes starting at once with different secrets: both refuse.
            noteMismatch(node: node, fingerprint: theirs)
        case .fingerprint(let node, let to, let theirs):
            guard node != nodeId, to == nodeId, !secretChecked else { return [] }
            noteMismatch(node: node, fingerprint: theirs)
        }
        return []
    }

    /// A join wants to be served: it goes on at once when the node is caught up, is
    /// `unavailable` at once without a link, else waits up to `catchUpTimeout`.
    mutating func wait(_ waiter: UInt64, now: Instant) -> [Action] {
        if caughtUp { return [.resume(waiter: waiter, caughtUp: true)] }
        guard generation != nil else { return [.resume(waiter: waiter, caughtUp: false)] }
        waiters.append(waiter)
        return [.startTimer(Timer(kind: .waiter(waiter), deadline: now.advanced(by: timings.catchUpTimeout)))]
    }

    mutating func timerFired(_ kind: TimerKind) -> [Action] {
        switch kind {
        case .waiter(let waiter):
            guard let index = waiters.firstIndex(of: waiter) else { return [] }
            waiters.remove(at: index)
            return [.resume(waiter: waiter, caughtUp: false)]
        case .secretCheck(let checked):
            guard !secretChecked, !refused, checked == generation else { return [] }
            if let secretMismatch {
                refused = true
                return [.refuse(secretMismatch)]
            }
            secretChecked = true
            return [.secretConfirmed] + resumeIfCaughtUp()
        }
    }

    /// The link is gone: the streams must be read up to the next link's marker and end, and
    /// every waiting join is `unavailable`.
    mutating func linkLost() -> [Action] {
        guard let lost = generation else { return [] }
        generation = nil
        claimsCaughtUp = false
        stateCaughtUp = false
        historyCaughtUp = false
        var actions: [Action] = [.cancelTimer(.secretCheck(generation: lost))]
        for waiter in waiters {
            actions.append(.cancelTimer(.waiter(waiter)))
            actions.append(.resume(waiter: waiter, caughtUp: false))
        }
        waiters.removeAll()
        return actions
    }

    // MARK: Decisions

    private mutating func noteMismatch(node: String, fingerprint theirs: String) {
        if theirs != fingerprint, secretMismatch == nil { secretMismatch = Mismatch(node: node, fingerprint: theirs) }
    }

    private mutating func resumeIfCaughtUp() -> [Action] {
        guard caughtUp, !waiters.isEmpty else { return [] }
        var actions: [Action] = []
        for waiter in waiters {
            actions.append(.cancelTimer(.waiter(waiter)))
            actions.append(.resume(waiter: waiter, caughtUp: true))
        }
        waiters.removeAll()
        return actions
    }
}

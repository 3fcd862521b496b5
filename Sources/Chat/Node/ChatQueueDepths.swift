/// What the node holds in its bounded queues at one moment (for `/metrics`).
public struct ChatQueueDepths: Sendable, Hashable {
    /// `say`/`tell` publishes waiting for the broker's confirm (their `sent` is not said yet).
    public var pendingMessageConfirms = 0
    /// Batches of `delivered` receipts (one per client `ack`) waiting for their confirm.
    public var pendingReceiptConfirms = 0
    /// Joined sessions that consume their user queue on this node.
    public var inboxes = 0
    /// Private messages and `delivered` receipts handed to clients and not acked by them yet,
    /// all inboxes together.
    public var unackedDeliveries = 0
    /// The most unacked deliveries of one inbox; the broker sends no more than
    /// ``inboxPrefetch`` to one inbox before acks.
    public var maxUnackedPerInbox = 0
    /// The prefetch of every inbox consumer (``ChatLimits/inboxPrefetch``).
    public var inboxPrefetch = 0
    /// Client frames accepted and not yet done with (waiting behind their session's earlier
    /// frames, or being processed), all sessions together; each session queues at most
    /// ``ChatLimits/sessionInboundQueue``.
    public var inboundFrames = 0

    public init() {}
}

extension ChatNode {
    /// The depths of the node's queues, read on the node's actor.
    public func queueDepths() async -> ChatQueueDepths {
        await executor.queueDepths()
    }
}

extension ChatNodeExecutor {
    func queueDepths() -> ChatQueueDepths {
        var depths = ChatQueueDepths()
        depths.pendingMessageConfirms = publishes.inFlight
        depths.pendingReceiptConfirms = inboxes.acksInFlight
        depths.inboxPrefetch = Int(configuration.limits.inboxPrefetch)
        for unacked in inboxes.unackedPerInbox {
            depths.inboxes += 1
            depths.unackedDeliveries += unacked
            depths.maxUnackedPerInbox = max(depths.maxUnackedPerInbox, unacked)
        }
        depths.inboundFrames = inboundFrames.load(ordering: .relaxed)
        return depths
    }
}

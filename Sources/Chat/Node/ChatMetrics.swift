import Metrics

/// The node's swift-metrics instruments, created once. The server bootstraps a backend
/// (Prometheus); without one they cost next to nothing.
struct ChatMetrics: Sendable {
    let framesIn: [String: Counter]
    let framesRefused: Counter
    /// `tell`s answered `inbox_full`, and receipts deferred by a full inbox.
    let inboxFull: Counter
    let receiptsDeferred: Counter
    let publicDeliveries: Counter
    let privateDeliveries: Counter
    let confirmSeconds: Timer
    let reconnects: Counter
    let publishTimeouts: Counter
    let joinedSessions: Gauge

    init() {
        var framesIn: [String: Counter] = [:]
        for kind in ["join", "enter", "leave", "say", "tell", "ack", "history", "typing", "setPassword"] {
            framesIn[kind] = Counter(label: "rabbitchat_messages_in_total", dimensions: [("kind", kind)])
        }
        self.framesIn = framesIn
        framesRefused = Counter(label: "rabbitchat_frames_refused_total")
        inboxFull = Counter(label: "rabbitchat_inbox_full_total")
        receiptsDeferred = Counter(label: "rabbitchat_receipts_deferred_total")
        publicDeliveries = Counter(label: "rabbitchat_deliveries_total", dimensions: [("kind", "public")])
        privateDeliveries = Counter(label: "rabbitchat_deliveries_total", dimensions: [("kind", "private")])
        confirmSeconds = Timer(label: "rabbitchat_confirm_seconds", preferredDisplayUnit: .seconds)
        reconnects = Counter(label: "rabbitchat_broker_reconnects_total")
        publishTimeouts = Counter(label: "rabbitchat_publish_timeouts_total")
        joinedSessions = Gauge(label: "rabbitchat_chat_joined_sessions")
    }
}

import Chat
import NIOCore
import Prometheus
import SockJS

/// The queue depths that only a snapshot can tell, as Prometheus gauges: set from
/// ``ChatNode/queueDepths()`` and ``SockJSServer/outboundQueueDepths()`` on every scrape of
/// `/metrics`, so they cost nothing between scrapes. `Specs/server.md` names each one.
struct QueueDepthGauges: Sendable {
    private let outboundMessagesSum: Gauge
    private let outboundMessagesMax: Gauge
    private let outboundBytesSum: Gauge
    private let outboundBytesMax: Gauge
    private let outboundWaitingSessions: Gauge
    private let outboundCapBytes: Gauge
    private let pendingMessageConfirms: Gauge
    private let pendingReceiptConfirms: Gauge
    private let inboxes: Gauge
    private let inboxUnackedSum: Gauge
    private let inboxUnackedMax: Gauge
    private let inboxPrefetch: Gauge
    private let inboundFrames: Gauge
    private let eventLoopLag: Gauge

    init(registry: PrometheusCollectorRegistry) {
        func gauge(_ name: String, _ unit: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: unit, helpText: help), labels: labels)
        }
        let outboundMessagesHelp = "Messages waiting in SockJS session outbound queues for their client (stat: sum over sessions, or the longest queue)."
        outboundMessagesSum = gauge("rabbitchat_sockjs_outbound_queue", "messages", outboundMessagesHelp, [("stat", "sum")])
        outboundMessagesMax = gauge("rabbitchat_sockjs_outbound_queue", "messages", outboundMessagesHelp, [("stat", "max")])
        let outboundBytesHelp =
            "Bytes waiting in SockJS session outbound queues (stat: sum over sessions, or the largest queue); a queue past the cap closes its session with 4002."
        outboundBytesSum = gauge("rabbitchat_sockjs_outbound_queue", "bytes", outboundBytesHelp, [("stat", "sum")])
        outboundBytesMax = gauge("rabbitchat_sockjs_outbound_queue", "bytes", outboundBytesHelp, [("stat", "max")])
        outboundWaitingSessions = gauge(
            "rabbitchat_sockjs_outbound_queue_waiting", "sessions",
            "SockJS sessions with at least one message waiting for their client.")
        outboundCapBytes = gauge(
            "rabbitchat_sockjs_outbound_queue_cap", "bytes",
            "The outbound queue cap of one /chat session.")
        let confirmsHelp =
            "Publishes waiting for the broker's confirm (kind: message = say/tell before their sent, receipt_batch = the delivered receipts of one client ack)."
        pendingMessageConfirms = gauge("rabbitchat_pending", "confirms", confirmsHelp, [("kind", "message")])
        pendingReceiptConfirms = gauge("rabbitchat_pending", "confirms", confirmsHelp, [("kind", "receipt_batch")])
        inboxes = gauge(
            "rabbitchat_inbox_consumers", "",
            "User queues consumed by this node (one per joined session).")
        let unackedHelp =
            "Private messages and delivered receipts handed to clients and not acked yet (stat: sum over inboxes, or the most of one inbox; at most the prefetch per inbox)."
        inboxUnackedSum = gauge("rabbitchat_inbox_unacked", "messages", unackedHelp, [("stat", "sum")])
        inboxUnackedMax = gauge("rabbitchat_inbox_unacked", "messages", unackedHelp, [("stat", "max")])
        inboxPrefetch = gauge(
            "rabbitchat_inbox_prefetch", "messages",
            "The AMQP prefetch of each user-queue consumer: the most unacked deliveries one inbox may hold.")
        eventLoopLag = gauge(
            "rabbitchat_event_loop_lag", "seconds",
            "How long a task just queued on the busiest SockJS event loop waited to run: the backlog of broadcast deliveries and other work ahead of it, as time."
        )
        inboundFrames = gauge(
            "rabbitchat_session_inbound_queue", "frames",
            "Client frames accepted and not yet done with (waiting behind their session's earlier frames, or being processed), all sessions together.")
    }

    /// Reads both snapshots and sets every gauge.
    func update(node: ChatNode, http: SockJSServer, outboundCap: Int) async {
        let lag = await Self.eventLoopLag(http.eventLoopGroup)
        let chat = await node.queueDepths()
        let sockJS = await http.outboundQueueDepths()
        eventLoopLag.set(lag)
        outboundMessagesSum.set(Int64(sockJS.messages))
        outboundMessagesMax.set(Int64(sockJS.maxMessages))
        outboundBytesSum.set(Int64(sockJS.bytes))
        outboundBytesMax.set(Int64(sockJS.maxBytes))
        outboundWaitingSessions.set(Int64(sockJS.waitingSessions))
        outboundCapBytes.set(Int64(outboundCap))
        pendingMessageConfirms.set(Int64(chat.pendingMessageConfirms))
        pendingReceiptConfirms.set(Int64(chat.pendingReceiptConfirms))
        inboxes.set(Int64(chat.inboxes))
        inboxUnackedSum.set(Int64(chat.unackedDeliveries))
        inboxUnackedMax.set(Int64(chat.maxUnackedPerInbox))
        inboxPrefetch.set(Int64(chat.inboxPrefetch))
        inboundFrames.set(Int64(chat.inboundFrames))
    }

    /// The longest wait, over the group's loops, between queuing a task and its start.
    static func eventLoopLag(_ group: any EventLoopGroup) async -> Double {
        var longest = Duration.zero
        for loop in group.makeIterator() {
            let queued = ContinuousClock.now
            guard let started = try? await loop.submit({ ContinuousClock.now }).get() else { continue }
            longest = max(longest, started - queued)
        }
        return Double(longest.components.seconds) + Double(longest.components.attoseconds) / 1e18
    }
}

import Metrics
import Prometheus

/// The process's metrics: swift-metrics bootstrapped onto a Prometheus registry, which
/// `/metrics` renders as Prometheus text. The chat library records its own instruments
/// (messages in by kind, deliveries, confirm latency, broker reconnects); the server adds the
/// ones only it can see: sessions by transport, frames out by kind, and the queue depths
/// (``QueueDepthGauges``) set on each scrape.
final class ServerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let queueDepths: QueueDepthGauges

    private let sessionGauges: [String: Metrics.Meter]
    private let framesOut: [String: Metrics.Counter]
    private let framesOutOther: Metrics.Counter

    /// The frame types the server sends (DESIGN.md, "Chat protocol").
    static let outboundKinds = [
        "welcome", "entered", "left", "message", "sent", "delivered", "presence", "typing", "history", "error",
    ]

    /// Bootstraps swift-metrics once per process; call before anything creates an instrument.
    static func bootstrap() -> ServerMetrics {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["rabbitchat_confirm_seconds"] = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(2.5), .seconds(5),
        ]
        MetricsSystem.bootstrap(factory)
        return ServerMetrics(registry: registry)
    }

    private init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        queueDepths = QueueDepthGauges(registry: registry)
        var gauges: [String: Metrics.Meter] = [:]
        for transport in ["websocket", "xhr-streaming", "xhr-polling", "eventsource", "htmlfile", "jsonp-polling", "rawwebsocket"] {
            gauges[transport] = Metrics.Meter(label: "rabbitchat_sessions", dimensions: [("transport", transport)])
        }
        sessionGauges = gauges
        var out: [String: Metrics.Counter] = [:]
        for kind in Self.outboundKinds {
            out[kind] = Metrics.Counter(label: "rabbitchat_messages_out_total", dimensions: [("kind", kind)])
        }
        framesOut = out
        framesOutOther = Metrics.Counter(label: "rabbitchat_messages_out_total", dimensions: [("kind", "other")])
    }

    /// The number of open SockJS sessions on `transport` changed by `delta`.
    func sessionsChanged(transport: String, by delta: Int) {
        guard let meter = sessionGauges[transport] else { return }
        if delta >= 0 { meter.increment(by: Double(delta)) } else { meter.decrement(by: Double(-delta)) }
    }

    /// `count` copies of a frame of this kind were handed to sessions.
    func framesSent(kind: String, count: Int = 1) {
        (framesOut[kind] ?? framesOutOther).increment(by: count)
    }

    /// The Prometheus text exposition of every instrument.
    func render() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        registry.emit(into: &buffer)
        return buffer
    }

    /// The `type` of an encoded server frame, read without decoding it: the value of the last
    /// `"type":"…"` in the text. The chat writes compact JSON with sorted keys, so the top-level
    /// `type` comes after every nested object that could hold one (only `users` follows it, in a
    /// welcome, and its entries have no `type`), and a `"type":"` inside a message text is escaped.
    /// The scan starts at the end, where `type` usually is.
    static func frameKind(_ text: String) -> String {
        var text = text
        return text.withUTF8 { bytes -> String in
            let needle = Array(#""type":""#.utf8)
            var start = bytes.count - needle.count
            while start >= 0 {
                if bytes[start] == needle[0], bytes[start + 1] == needle[1],
                    Array(bytes[start..<(start + needle.count)]) == needle
                {
                    let valueStart = start + needle.count
                    let limit = min(bytes.count, valueStart + 24)
                    guard let end = (valueStart..<limit).first(where: { bytes[$0] == UInt8(ascii: "\"") }) else { return "other" }
                    return String(decoding: bytes[valueStart..<end], as: UTF8.self)
                }
                start -= 1
            }
            return "other"
        }
    }
}

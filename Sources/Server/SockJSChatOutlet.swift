import Chat
import SockJS

/// One chat session's way out: a SockJS session. `send` never blocks (SockJS queues, bounded,
/// and closes a client that falls too far behind with 4002).
final class SockJSChatOutlet: ChatOutlet {
    let session: SockJSSession
    private let metrics: ServerMetrics

    init(session: SockJSSession, metrics: ServerMetrics) {
        self.session = session
        self.metrics = metrics
    }

    func send(_ text: String) {
        metrics.framesSent(kind: ServerMetrics.frameKind(text))
        session.send(text)
    }

    func close(code: Int, reason: String) {
        session.close(code: code, reason: reason)
    }
}

/// Hands one public frame to many sessions the SockJS way: encoded once per transport flavour
/// (a prepared message), written to every recipient, one flush per connection.
struct SockJSBroadcaster: ChatBroadcaster {
    let metrics: ServerMetrics

    func broadcast(_ text: String, to outlets: [any ChatOutlet]) {
        broadcast(batch: [text], to: outlets)
    }

    /// Several frames as one SockJS frame `a["f1","f2",...]`: one write per session per batch.
    func broadcast(batch texts: [String], to outlets: [any ChatOutlet]) {
        guard !texts.isEmpty else { return }
        var sessions: [SockJSSession] = []
        sessions.reserveCapacity(outlets.count)
        for outlet in outlets {
            if let sockJS = outlet as? SockJSChatOutlet {
                sessions.append(sockJS.session)
            } else {
                for text in texts { outlet.send(text) }
            }
        }
        guard !sessions.isEmpty else { return }
        for text in texts { metrics.framesSent(kind: ServerMetrics.frameKind(text), count: sessions.count) }
        SockJSServer.broadcast(texts.count == 1 ? SockJSPreparedMessage(texts[0]) : SockJSPreparedMessage(batch: texts), to: sessions)
    }
}

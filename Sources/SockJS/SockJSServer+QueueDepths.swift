import NIOCore

/// What waits in the sessions' outbound queues at one moment: messages the application sent
/// that no receiver has taken yet (a poll not yet back, a websocket that is not writable).
/// Each queue is capped by ``SockJSOptions/maxQueuedBytes``; past the cap its session is
/// closed with 4002, so every figure here is bounded by the cap times the session count.
public struct SockJSOutboundQueueDepths: Sendable, Hashable {
    /// Live sessions looked at.
    public var sessions = 0
    /// Sessions with at least one message waiting.
    public var waitingSessions = 0
    /// Messages waiting, all sessions together.
    public var messages = 0
    /// Bytes waiting (as counted against the cap), all sessions together.
    public var bytes = 0
    /// The longest queue, in messages.
    public var maxMessages = 0
    /// The largest queue, in bytes.
    public var maxBytes = 0

    public init() {}

    mutating func add(messages: Int, bytes: Int) {
        sessions += 1
        if messages > 0 { waitingSessions += 1 }
        self.messages += messages
        self.bytes += bytes
        maxMessages = max(maxMessages, messages)
        maxBytes = max(maxBytes, bytes)
    }

    mutating func merge(_ other: SockJSOutboundQueueDepths) {
        sessions += other.sessions
        waitingSessions += other.waitingSessions
        messages += other.messages
        bytes += other.bytes
        maxMessages = max(maxMessages, other.maxMessages)
        maxBytes = max(maxBytes, other.maxBytes)
    }
}

extension SockJSServer {
    /// The outbound queue depths of every live session, read on each session's event loop
    /// (one hop per loop, not per session). Meant for a metrics scrape.
    public func outboundQueueDepths() async -> SockJSOutboundQueueDepths {
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, sessions: [SockJSSession])] = [:]
        for session in registry.liveSessions {
            byLoop[ObjectIdentifier(session.eventLoop), default: (session.eventLoop, [])].sessions.append(session)
        }
        var total = SockJSOutboundQueueDepths()
        for (loop, sessions) in byLoop.values {
            let part = try? await loop.submit { () -> SockJSOutboundQueueDepths in
                var depths = SockJSOutboundQueueDepths()
                for session in sessions {
                    let backlog = session.outboundBacklog
                    depths.add(messages: backlog.messages, bytes: backlog.bytes)
                }
                return depths
            }.get()
            if let part { total.merge(part) }
        }
        return total
    }
}

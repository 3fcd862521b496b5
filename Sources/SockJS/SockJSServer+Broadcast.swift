import NIOCore

extension SockJSServer {
    /// Sends `message` to every session in `sessions`, the fast way.
    ///
    /// Sessions are grouped by event loop: one task per loop (not per session) writes the same
    /// pre-encoded bytes to each of its sessions, and each connection is flushed once (a burst of
    /// broadcasts shares one flush per connection).
    /// Sessions that are closed or not open are skipped; a session whose client does not read
    /// queues up to its cap and is then closed with 4002 (see ``SockJSOptions/maxQueuedBytes``).
    public static func broadcast(_ message: SockJSPreparedMessage, to sessions: [SockJSSession]) {
        // Non-generic on purpose: a generic entry point is not specialised across modules and
        // would copy every element through value witnesses.
        var groups: [(loop: any EventLoop, sessions: [SockJSSession])] = []
        for session in sessions {
            let loop = session.eventLoop
            if let i = groups.firstIndex(where: { $0.loop === loop }) {
                groups[i].sessions.append(session)
            } else {
                var members: [SockJSSession] = []
                members.reserveCapacity(sessions.count)
                members.append(session)
                groups.append((loop, members))
            }
        }
        for group in groups {
            let members = group.sessions
            if group.loop.inEventLoop {
                deliver(message, to: members)
            } else {
                group.loop.execute { deliver(message, to: members) }
            }
        }
    }

    /// Sends `message` to every session of any sequence; see ``broadcast(_:to:)-(_,[SockJSSession])``.
    public static func broadcast<Sessions: Sequence>(_ message: SockJSPreparedMessage, to sessions: Sessions)
    where Sessions.Element == SockJSSession {
        broadcast(message, to: Array(sessions))
    }

    /// Sends `message` to `sessions`; see the static ``broadcast(_:to:)``.
    public func broadcast(_ message: SockJSPreparedMessage, to sessions: [SockJSSession]) {
        Self.broadcast(message, to: sessions)
    }

    /// On one loop: write to every session without flushing; the loop's flush batch then
    /// flushes each touched connection once (shared with broadcasts queued right behind).
    private static func deliver(_ message: SockJSPreparedMessage, to sessions: [SockJSSession]) {
        for session in sessions where session.enqueue(message, flush: false) {
            session.flushBatch.add(session)
        }
    }
}

import NIOCore

extension SockJSServer {
    /// Sends `message` to every session in `sessions`, the fast way.
    ///
    /// Sessions are grouped by event loop: one task per loop (not per session) writes the same
    /// pre-encoded bytes to each of its sessions, and each connection is flushed once (a burst of
    /// broadcasts shares one flush per connection).
    /// Sessions that are closed or not open are skipped; a session whose client does not read
    /// queues up to its cap and is then closed with 4002 (see ``SockJSOptions/maxQueuedBytes``).
    public static func broadcast<Sessions: Sequence>(_ message: SockJSPreparedMessage, to sessions: Sessions)
    where Sessions.Element == SockJSSession {
        var groups: [ObjectIdentifier: (loop: any EventLoop, sessions: [SockJSSession])] = [:]
        for session in sessions {
            let key = ObjectIdentifier(session.eventLoop)
            if groups[key] == nil {
                groups[key] = (session.eventLoop, [session])
            } else {
                groups[key]!.sessions.append(session)
            }
        }
        for (_, group) in groups {
            let members = group.sessions
            if group.loop.inEventLoop {
                deliver(message, to: members)
            } else {
                group.loop.execute { deliver(message, to: members) }
            }
        }
    }

    /// Sends `message` to `sessions`; see ``broadcast(_:to:)``.
    public func broadcast<Sessions: Sequence>(_ message: SockJSPreparedMessage, to sessions: Sessions)
    where Sessions.Element == SockJSSession {
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

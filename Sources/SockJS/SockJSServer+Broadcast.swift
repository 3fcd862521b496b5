import NIOCore

extension SockJSServer {
    /// Sends `message` to every session in `sessions`, the fast way.
    ///
    /// Sessions are grouped by event loop: one task per loop (not per session) writes the same
    /// pre-encoded bytes to each of its sessions and then flushes each connection once.
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

    /// On one loop: write to every session without flushing, then flush each touched connection once.
    private static func deliver(_ message: SockJSPreparedMessage, to sessions: [SockJSSession]) {
        var toFlush: [any SockJSReceiver] = []
        toFlush.reserveCapacity(sessions.count)
        for session in sessions {
            if let receiver = session.enqueue(message, flush: false) {
                toFlush.append(receiver)
            }
        }
        for receiver in toFlush { receiver.flush() }
    }
}

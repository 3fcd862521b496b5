import NIOCore
import Synchronization

/// Coalesces flushes of broadcast writes on one event loop.
///
/// A broadcast writes to each session without flushing and adds the session here; one task per
/// loop then flushes every added connection once, `delay` after the first write. Broadcasts that
/// run on the loop before that task share it, so a burst of messages costs one flush (one `writev`) per connection instead of
/// one per message. The list is bounded by the loop's number of sessions: a session is added at
/// most once per pending flush.
///
/// Each server keeps one batch per event loop (`SockJSSessionRegistry.flushBatch(for:)`); every
/// session holds its loop's batch.
///
/// `@unchecked Sendable`: `sessions` and `scheduled` are only touched on `loop` (the broadcast
/// delivery task and the flush task both run there); `loop` is a `let`.
final class SockJSFlushBatch: @unchecked Sendable {
    let loop: any EventLoop
    /// How long the first unflushed write waits for more (``SockJSServerConfiguration/broadcastFlushDelay``).
    let delay: TimeAmount
    private var sessions: [SockJSSession] = []
    private var scheduled = false

    init(loop: any EventLoop, delay: TimeAmount = .zero) {
        self.loop = loop
        self.delay = delay
    }

    /// Marks `session` as having unflushed writes.
    func add(_ session: SockJSSession) {
        loop.assertInEventLoop()
        sessions.append(session)
        if !scheduled {
            scheduled = true
            if delay > .zero {
                loop.scheduleTask(in: delay) { self.flushAll() }
            } else {
                loop.execute { self.flushAll() }
            }
        }
    }

    private func flushAll() {
        scheduled = false
        var pending: [SockJSSession] = []
        swap(&pending, &sessions)
        for session in pending { session.flushPendingWrites() }
        pending.removeAll(keepingCapacity: true)
        if sessions.isEmpty { swap(&pending, &sessions) }
    }
}

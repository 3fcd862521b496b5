import NIOCore
import Testing

@testable import SockJS

@Suite("Session state machine")
struct SockJSSessionStateMachineTests {
    typealias Machine = SockJSSessionStateMachine
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let config = Machine.Configuration(heartbeatInterval: .seconds(25), disconnectDelay: .seconds(5), maxQueuedBytes: 100)

    func machine() -> Machine { Machine(configuration: config, now: t0) }

    @Test("the first poll opens the session and ends after 'o'")
    func firstPollOpens() {
        var m = machine()
        #expect(m.attachReceiver(.polling, now: t0) == [.sendOpen(end: true), .notifyOpened])
        #expect(m.phase == .open)
        #expect(m.receiver == nil)
        #expect(m.expiryDeadline == t0 + .seconds(5))
    }

    @Test("the disconnect delay counts from when a poll response was written, not from when it was decided")
    func pollAnsweredLateKeepsTheSession() {
        var m = machine()
        _ = m.attachReceiver(.polling, now: t0)
        #expect(m.attachReceiver(.polling, now: t0).isEmpty)
        #expect(m.send(SockJSPreparedMessage("x"), now: t0) == .writeNow(end: true))
        // The busy connection loop writes the response 4 s later; the client polls again 3 s after that.
        m.pollAnswered(now: t0 + .seconds(4))
        #expect(m.expiryDeadline == t0 + .seconds(9))
        #expect(m.tick(now: t0 + .seconds(7)).isEmpty)
        #expect(!m.isRemoved)
        #expect(m.attachReceiver(.polling, now: t0 + .seconds(7)).isEmpty)
        #expect(m.phase == .open)
    }

    @Test("a poll answered promptly never moves the expiry earlier, and a session that then goes silent expires")
    func pollAnsweredNeverShortens() {
        var m = machine()
        _ = m.attachReceiver(.polling, now: t0)
        m.pollAnswered(now: t0 - .seconds(1))
        #expect(m.expiryDeadline == t0 + .seconds(5))
        m.pollAnswered(now: t0 + .seconds(1))
        #expect(m.tick(now: t0 + .seconds(6)) == [.notifyClosed(.timedOut), .remove])
    }

    @Test("messages wait in the queue until the next poll takes them as one frame")
    func queueUntilPoll() {
        var m = machine()
        _ = m.attachReceiver(.polling, now: t0)
        let a = SockJSPreparedMessage("a")
        let b = SockJSPreparedMessage("b")
        #expect(m.send(a, now: t0) == .queued)
        #expect(m.send(b, now: t0) == .queued)
        #expect(m.attachReceiver(.polling, now: t0) == [.sendMessages([a, b], end: true)])
        #expect(m.queue.isEmpty && m.queuedBytes == 0)
    }

    @Test("a waiting poll takes the next message at once and ends")
    func waitingPoll() {
        var m = machine()
        _ = m.attachReceiver(.polling, now: t0)
        #expect(m.attachReceiver(.polling, now: t0).isEmpty)
        #expect(m.receiver == .polling)
        #expect(m.send(SockJSPreparedMessage("x"), now: t0) == .writeNow(end: true))
        #expect(m.receiver == nil)
    }

    @Test("a second receiving connection gets 2010 and the first keeps the session")
    func secondReceiverRejected() {
        var m = machine()
        _ = m.attachReceiver(.streaming(limit: 1000), now: t0)
        #expect(m.attachReceiver(.polling, now: t0) == [.rejectReceiver])
        #expect(m.receiver == .streaming(limit: 1000))
    }

    @Test("an idle receiver gets 'h' every heartbeat interval; a poll ends with it")
    func heartbeats() {
        var m = machine()
        _ = m.attachReceiver(.streaming(limit: 100_000), now: t0)
        #expect(m.nextDeadline == t0 + .seconds(25))
        #expect(m.tick(now: t0 + .seconds(24)).isEmpty)
        #expect(m.tick(now: t0 + .seconds(25)) == [.sendHeartbeat(end: false)])
        #expect(m.nextDeadline == t0 + .seconds(50))

        var p = machine()
        _ = p.attachReceiver(.polling, now: t0)
        _ = p.attachReceiver(.polling, now: t0)
        #expect(p.tick(now: t0 + .seconds(25)) == [.sendHeartbeat(end: true)])
        #expect(p.receiver == nil)
    }

    @Test("without a receiving connection the session times out after the disconnect delay")
    func timeout() {
        var m = machine()
        _ = m.attachReceiver(.polling, now: t0)
        #expect(m.tick(now: t0 + .seconds(4)).isEmpty)
        #expect(m.tick(now: t0 + .seconds(5)) == [.notifyClosed(.timedOut), .remove])
        #expect(m.isRemoved)
        #expect(m.send(SockJSPreparedMessage("late"), now: t0 + .seconds(6)) == .dropped)
    }

    @Test("a session never opened is forgotten silently after the delay")
    func neverOpened() {
        var m = machine()
        #expect(m.tick(now: t0 + .seconds(5)) == [.remove])
    }

    @Test("an attached receiver keeps the session alive past the disconnect delay")
    func receiverKeepsAlive() {
        var m = machine()
        _ = m.attachReceiver(.streaming(limit: 100_000), now: t0)
        #expect(m.expiryDeadline == nil)
        #expect(!m.tick(now: t0 + .seconds(25)).contains(.remove))
    }

    @Test("a closed session serves its close frame to every poll until it expires")
    func closedServesCloseFrame() {
        var m = machine()
        _ = m.attachReceiver(.polling, now: t0)
        #expect(m.close(.goAway, reason: .closedByServer(.goAway), now: t0) == [.notifyClosed(.closedByServer(.goAway))])
        #expect(m.attachReceiver(.polling, now: t0) == [.sendClose(.goAway)])
        #expect(m.attachReceiver(.streaming(limit: 10), now: t0 + .seconds(1)) == [.sendClose(.goAway)])
        #expect(m.tick(now: t0 + .seconds(5)) == [.remove])
    }

    @Test("closing with a receiver attached writes the close frame to it")
    func closeWithReceiver() {
        var m = machine()
        _ = m.attachReceiver(.streaming(limit: 1000), now: t0)
        #expect(m.close(.goAway, reason: .serverShutdown, now: t0) == [.sendClose(.goAway), .notifyClosed(.serverShutdown)])
        #expect(m.receiver == nil)
        #expect(m.close(.goAway, reason: .serverShutdown, now: t0).isEmpty)
    }

    @Test("a streaming response ends once it carried the response limit")
    func responseLimit() {
        var m = machine()
        _ = m.attachReceiver(.streaming(limit: 100), now: t0)
        #expect(m.receiverWrote(bytes: 60, now: t0).isEmpty)
        #expect(m.receiverWrote(bytes: 60, now: t0) == [.endReceiver])
        #expect(m.receiver == nil)
        #expect(m.phase == .open)
    }

    @Test("a poll or stream cut by the network closes the session with 1002")
    func interrupted() {
        var m = machine()
        _ = m.attachReceiver(.streaming(limit: 1000), now: t0)
        #expect(m.receiverLost(now: t0) == [.notifyClosed(.interrupted)])
        #expect(m.attachReceiver(.polling, now: t0) == [.sendClose(.connectionInterrupted)])
    }

    @Test("a websocket that goes away ends its session at once")
    func websocketLost() {
        var m = machine()
        _ = m.attachReceiver(.persistent, now: t0)
        #expect(m.receiverLost(now: t0) == [.notifyClosed(.clientClosed), .remove])
        #expect(m.isRemoved)
    }

    @Test("an unwritable websocket queues; writable again flushes the queue as one frame")
    func writability() {
        var m = machine()
        _ = m.attachReceiver(.persistent, now: t0)
        #expect(m.send(SockJSPreparedMessage("1"), now: t0) == .writeNow(end: false))
        #expect(m.receiverWritabilityChanged(false).isEmpty)
        let q = SockJSPreparedMessage("2")
        #expect(m.send(q, now: t0) == .queued)
        #expect(m.receiverWritabilityChanged(true) == [.sendMessages([q], end: false)])
    }

    @Test("a queue over its byte cap closes the session with 4002 too slow")
    func overflow() {
        var m = machine()
        _ = m.attachReceiver(.persistent, now: t0)
        _ = m.receiverWritabilityChanged(false)
        let big = SockJSPreparedMessage(String(repeating: "x", count: 40))
        #expect(m.send(big, now: t0) == .queued)
        #expect(m.send(big, now: t0) == .queued)
        #expect(m.send(big, now: t0) == .overflow([.sendClose(.tooSlow), .notifyClosed(.tooSlow), .remove]))
        #expect(m.phase == .closed(.tooSlow))
        #expect(m.queuedBytes == 0)
    }

    @Test("one frame larger than the cap closes the session with 4002, even with nothing queued")
    func aSingleFrameOverTheCapClosesTheSession() {
        var m = machine()
        _ = m.attachReceiver(.persistent, now: t0)
        let fits = SockJSPreparedMessage(String(repeating: "x", count: 40))
        #expect(m.send(fits, now: t0) == .writeNow(end: false))
        let huge = SockJSPreparedMessage(String(repeating: "x", count: 200))
        #expect(m.send(huge, now: t0) == .overflow([.sendClose(.tooSlow), .notifyClosed(.tooSlow), .remove]))
        #expect(m.phase == .closed(.tooSlow))
    }

    @Test("broken input on a websocket ends the session as a protocol error")
    func protocolError() {
        var m = machine()
        _ = m.attachReceiver(.persistent, now: t0)
        #expect(m.protocolError(now: t0) == [.notifyClosed(.protocolError), .remove])
        #expect(!m.acceptsMessages)
    }

    @Test("a websocket peer silent for two heartbeat intervals is dropped as interrupted (half-open connection)")
    func halfOpenWebSocket() {
        var m = machine()
        _ = m.attachReceiver(.persistent, now: t0, checksLiveness: true)
        #expect(m.tick(now: t0 + .seconds(25)) == [.sendHeartbeat(end: false)])
        #expect(m.tick(now: t0 + .seconds(50)) == [.dropReceiver, .notifyClosed(.interrupted), .remove])
        #expect(m.isRemoved)
    }

    @Test("a websocket peer that answers keeps its session across heartbeats")
    func liveWebSocket() {
        var m = machine()
        _ = m.attachReceiver(.persistent, now: t0, checksLiveness: true)
        for i in 1...10 {
            let now = t0 + .seconds(Int64(25 * i))
            #expect(m.tick(now: now) == [.sendHeartbeat(end: false)])
            m.clientActivity(now: now + .milliseconds(1))
        }
        #expect(!m.isRemoved)
    }

    @Test("without liveness checks (hixie-76, no pings) silence is not taken for death")
    func noLivenessChecks() {
        var m = machine()
        _ = m.attachReceiver(.persistent, now: t0)
        _ = m.tick(now: t0 + .seconds(25))
        #expect(m.tick(now: t0 + .seconds(50)) == [.sendHeartbeat(end: false)])
    }
}

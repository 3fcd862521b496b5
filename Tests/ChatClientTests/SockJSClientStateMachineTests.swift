import NIOCore
import Testing

@testable import ChatClient

@Suite struct SockJSClientStateMachineTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func machine(pipelines: Bool = false, maxQueued: Int = 10) -> SockJSClientStateMachine {
        SockJSClientStateMachine(
            configuration: .init(connectTimeout: .seconds(5), silenceTimeout: .seconds(30), maxQueuedMessages: maxQueued),
            pipelinesSends: pipelines,
            now: start
        )
    }

    @Test func queuesSendsUntilOpenThenTransmitsThemAsOnePayload() {
        var machine = machine()
        #expect(machine.send(["a"]) == .accepted([]))
        #expect(machine.send(["b"]) == .accepted([]))
        #expect(machine.frameReceived(.open, now: start) == [.deliverOpen, .transmit(["a", "b"])])
    }

    @Test func xhrSendsOneAtATimeAndCoalescesWhatQueuedMeanwhile() {
        var machine = machine()
        _ = machine.frameReceived(.open, now: start)
        #expect(machine.send(["1"]) == .accepted([.transmit(["1"])]))
        #expect(machine.send(["2"]) == .accepted([]))
        #expect(machine.send(["3"]) == .accepted([]))
        #expect(machine.transmitCompleted() == [.transmit(["2", "3"])])
        #expect(machine.transmitCompleted() == [])
        #expect(machine.send(["4"]) == .accepted([.transmit(["4"])]))
    }

    @Test func websocketTransmitsEverySendAtOnce() {
        var machine = machine(pipelines: true)
        _ = machine.frameReceived(.open, now: start)
        #expect(machine.send(["1"]) == .accepted([.transmit(["1"])]))
        #expect(machine.send(["2"]) == .accepted([.transmit(["2"])]))
    }

    @Test func refusesSendsOverTheQueueCapWithoutDroppingQueuedOnes() {
        var machine = machine(maxQueued: 2)
        #expect(machine.send(["a", "b"]) == .accepted([]))
        #expect(machine.send(["c"]) == .queueFull)
        #expect(machine.queuedCount == 2)
        #expect(machine.frameReceived(.open, now: start) == [.deliverOpen, .transmit(["a", "b"])])
    }

    @Test func deliversMessagesOnlyWhileOpen() {
        var machine = machine()
        _ = machine.frameReceived(.open, now: start)
        #expect(machine.frameReceived(.messages(["x", "y"]), now: start) == [.deliverMessages(["x", "y"])])
        #expect(machine.frameReceived(.heartbeat, now: start) == [])
    }

    @Test func aCloseFrameClosesOnceWithTheServersCodeAndReason() {
        var machine = machine()
        _ = machine.frameReceived(.open, now: start)
        #expect(
            machine.frameReceived(.close(code: 3000, reason: "Go away!"), now: start)
                == [.stopTransport, .deliverClosed(code: 3000, reason: "Go away!")])
        #expect(machine.isClosed)
        #expect(machine.frameReceived(.messages(["late"]), now: start) == [])
        #expect(machine.send(["x"]) == .closed)
        #expect(machine.transportFailed(reason: "gone") == [])
    }

    @Test func messagesBeforeOpenAreAProtocolError() {
        var machine = machine()
        let actions = machine.frameReceived(.messages(["x"]), now: start)
        #expect(actions.first == .stopTransport)
        guard case .deliverClosed(let code, _) = actions.last else {
            Issue.record("expected a close, got \(actions)")
            return
        }
        #expect(code == 1002)
    }

    @Test func heartbeatsKeepASessionAliveAndSilenceEndsIt() {
        var machine = machine()
        _ = machine.frameReceived(.open, now: start)
        #expect(machine.tick(now: start + .seconds(29)) == [])
        _ = machine.frameReceived(.heartbeat, now: start + .seconds(25))
        #expect(machine.tick(now: start + .seconds(54)) == [])
        let actions = machine.tick(now: start + .seconds(55))
        #expect(actions.count == 2)
        guard case .deliverClosed(1006, let reason) = actions.last else {
            Issue.record("expected a 1006 close, got \(actions)")
            return
        }
        #expect(reason.contains("30 s"))
    }

    @Test func aMissingOpenFrameTimesOut() {
        var machine = machine()
        #expect(machine.tick(now: start + .milliseconds(4999)) == [])
        let actions = machine.tick(now: start + .seconds(5))
        #expect(actions.first == .stopTransport)
        #expect(machine.isClosed)
    }

    @Test func aTransportFailureClosesWith1006AndTheReason() {
        var machine = machine()
        #expect(
            machine.transportFailed(reason: "Nothing is listening.")
                == [.stopTransport, .deliverClosed(code: 1006, reason: "Nothing is listening.")])
    }
}

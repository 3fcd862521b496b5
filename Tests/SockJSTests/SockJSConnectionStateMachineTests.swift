import NIOCore
import Testing

@testable import SockJS

/// The connection machine on plain values: requests and frames in, actions out. No channel, no
/// session, no clock: a receiver is a name, timers are values the test fires by hand.
@Suite("Connection state machine")
struct SockJSConnectionStateMachineTests {
    typealias Machine = SockJSConnectionStateMachine<String, String>

    static let configuration = Machine.Configuration(
        idleTimeout: .seconds(75), requestTimeout: .seconds(10), closeHandshakeTimeout: .seconds(2), maxBytesAhead: 100
    )

    static func frame(_ opcode: UInt8, _ text: String, fin: Bool = true) -> WebSocketFrame {
        WebSocketFrame(fin: fin, opcode: opcode, payload: ByteBuffer(string: text))
    }

    static func frame(_ opcode: UInt8, bytes: [UInt8]) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: opcode, payload: ByteBuffer(bytes: bytes))
    }

    /// A machine whose connection speaks websocket for receiver "w".
    static func webSocket(hixie: Bool = false, framed: Bool = true, maxMessageBytes: Int = 64) -> Machine {
        var machine = Machine(configuration: configuration)
        let step1 = machine.webSocketStarted("w", hixie: hixie, framed: framed, maxMessageBytes: maxMessageBytes)
        #expect(step1 == .cancel)
        return machine
    }

    static func isClosing(_ machine: Machine) -> Bool {
        if case .closing = machine.state { return true }
        return false
    }

    // MARK: HTTP

    @Test("keep-alive: HTTP/1.1 by default, HTTP/1.0 when asked (and says so); never after closeAfter, an unparsable request or shutdown")
    func keepAliveDecisions() {
        var machine = Machine(configuration: Self.configuration)
        #expect(machine.connectionActive() == .arm(.idle, .seconds(75)))
        let step1 = machine.completeResponse(keepAliveRequested: true, minorVersion: 1, closeAfter: false)
        #expect(step1 == .none)
        let step2 = machine.responseFinished()
        #expect(step2 == .keepOpen(.arm(.idle, .seconds(75))))
        let step3 = machine.completeResponse(keepAliveRequested: true, minorVersion: 0, closeAfter: false)
        #expect(step3 == .keepAlive)
        let step4 = machine.responseFinished()
        #expect(step4 == .keepOpen(.arm(.idle, .seconds(75))))
        let step5 = machine.completeResponse(keepAliveRequested: true, minorVersion: 1, closeAfter: true)
        #expect(step5 == .close)
        let step6 = machine.responseFinished()
        #expect(step6 == .closeAfterFlush(lost: nil))
        #expect(Self.isClosing(machine))

        for (asked, minor) in [(false, 1), (false, 0)] {
            var m = Machine(configuration: Self.configuration)
            let step7 = m.completeResponse(keepAliveRequested: asked, minorVersion: minor, closeAfter: false)
            #expect(step7 == .close)
            let step8 = m.responseFinished()
            #expect(step8 == .closeAfterFlush(lost: nil))
        }
        var unparsable = Machine(configuration: Self.configuration)
        let step9 = unparsable.completeResponse(keepAliveRequested: nil, minorVersion: nil, closeAfter: true)
        #expect(step9 == .close)
        let step10 = unparsable.responseFinished()
        #expect(step10 == .closeAfterFlush(lost: nil))

        var draining = Machine(configuration: Self.configuration)
        draining.routeStarted()
        let step11 = draining.shutdown()
        #expect(!step11, "a connection with a response under way finishes it")
        let step12 = draining.completeResponse(keepAliveRequested: true, minorVersion: 1, closeAfter: false)
        #expect(step12 == .close)
        let step13 = draining.responseFinished()
        #expect(step13 == .closeAfterFlush(lost: nil))
    }

    @Test("streams are chunked on HTTP/1.1 (kept alive when asked), close-delimited on HTTP/1.0; the end tells the session only when the connection closes")
    func streamFraming() {
        var machine = Machine(configuration: Self.configuration)
        let step1 = machine.receivingStarted("s")
        #expect(step1 == .cancel)
        #expect(machine.httpReceiver == "s")
        let step2 = machine.streamingResponse(keepAliveRequested: true, minorVersion: 1)
        #expect(step2 == .init(chunked: true, connectionClose: false))
        #expect(machine.chunked)
        let step3 = machine.responseFinished()
        #expect(step3 == .keepOpen(.arm(.idle, .seconds(75))))
        #expect(machine.httpReceiver == nil)

        let step4 = machine.receivingStarted("s2")
        #expect(step4 == .cancel)
        let step5 = machine.streamingResponse(keepAliveRequested: false, minorVersion: 1)
        #expect(step5 == .init(chunked: true, connectionClose: true))
        let step6 = machine.responseFinished()
        #expect(step6 == .closeAfterFlush(lost: "s2"))

        var old = Machine(configuration: Self.configuration)
        _ = old.receivingStarted("s3")
        let step7 = old.streamingResponse(keepAliveRequested: true, minorVersion: 0)
        #expect(step7 == .init(chunked: false, connectionClose: true))
        #expect(!old.chunked)
        let step8 = old.responseFinished()
        #expect(step8 == .closeAfterFlush(lost: "s3"))
    }

    @Test("pipelined bytes wait for an unfinished response and for a writable socket, bounded by maxBytesAhead")
    func pipelining() {
        var machine = Machine(configuration: Self.configuration)
        let step1 = machine.inputStep(buffered: 0, writable: false)
        #expect(step1 == .readRequest)
        let step2 = machine.inputStep(buffered: 10, writable: false)
        #expect(step2 == .wait)
        let step3 = machine.inputStep(buffered: 10, writable: true)
        #expect(step3 == .readRequest)
        #expect(machine.readsOnWritabilityChange(writable: true, buffered: 10))
        #expect(!machine.readsOnWritabilityChange(writable: true, buffered: 0))
        #expect(!machine.readsOnWritabilityChange(writable: false, buffered: 10))

        machine.routeStarted()
        #expect(machine.awaitsRouteResponse)
        let step4 = machine.inputStep(buffered: 100, writable: true)
        #expect(step4 == .wait)
        #expect(!machine.readsOnWritabilityChange(writable: true, buffered: 10))
        let step5 = machine.completeResponse(keepAliveRequested: true, minorVersion: 1, closeAfter: false)
        #expect(step5 == .none)
        let step6 = machine.responseFinished()
        #expect(step6 == .keepOpen(.arm(.idle, .seconds(75))))
        #expect(!machine.awaitsRouteResponse)

        _ = machine.receivingStarted("r")
        let step7 = machine.inputStep(buffered: 100, writable: true)
        #expect(step7 == .wait)
        let step8 = machine.inputStep(buffered: 101, writable: true)
        #expect(step8 == .closeTooFarAhead(lost: "r"))
        let step9 = machine.inputStep(buffered: 101, writable: true)
        #expect(step9 == .discard)
        #expect(!machine.acceptsInput)
    }

    @Test("the idle timer closes a quiet connection; a started request gets one request timer, then 408; timers of a past mode do nothing")
    func requestTimers() {
        var machine = Machine(configuration: Self.configuration)
        let step1 = machine.requestIncomplete(partial: false)
        #expect(step1 == nil)
        let step2 = machine.requestIncomplete(partial: true)
        #expect(step2 == .arm(.slowRequest, .seconds(10)))
        let step3 = machine.requestIncomplete(partial: true)
        #expect(step3 == nil, "armed once per request, not once per read")
        let step4 = machine.timerFired(.slowRequest)
        #expect(step4 == .refuseSlowRequest)
        let step5 = machine.requestReceived()
        #expect(step5 == .cancel)
        let step6 = machine.requestIncomplete(partial: true)
        #expect(step6 == .arm(.slowRequest, .seconds(10)), "the next request gets its own")
        let step7 = machine.requestReceived()
        #expect(step7 == .cancel)

        _ = machine.receivingStarted("r")
        let step8 = machine.timerFired(.idle)
        #expect(step8 == .none)
        let step9 = machine.timerFired(.slowRequest)
        #expect(step9 == .none)
        let step10 = machine.responseFinished()
        #expect(step10 == .keepOpen(.arm(.idle, .seconds(75))))
        let step11 = machine.timerFired(.idle)
        #expect(step11 == .closeNow)
        #expect(Self.isClosing(machine))
        let step12 = machine.timerFired(.idle)
        #expect(step12 == .none)
    }

    @Test("shutdown closes an idle connection at once and lets others finish their response")
    func shutdown() {
        var idle = Machine(configuration: Self.configuration)
        let step1 = idle.shutdown()
        #expect(step1)
        #expect(Self.isClosing(idle))

        var polling = Machine(configuration: Self.configuration)
        _ = polling.receivingStarted("p")
        let step2 = polling.shutdown()
        #expect(!step2)
        #expect(polling.shuttingDown)
        let step3 = polling.completeResponse(keepAliveRequested: true, minorVersion: 1, closeAfter: false)
        #expect(step3 == .close)
        let step4 = polling.responseFinished()
        #expect(step4 == .closeAfterFlush(lost: "p"))
    }

    @Test("the peer's input ends (EOF, reset) in each mode: an attached session hears it once, later input is discarded")
    func inputEndsInEachMode() {
        var idle = Machine(configuration: Self.configuration)
        let step1 = idle.close()
        #expect(step1 == nil)
        var receiving = Machine(configuration: Self.configuration)
        _ = receiving.receivingStarted("r")
        let step2 = receiving.close()
        #expect(step2 == "r")
        let step3 = receiving.close()
        #expect(step3 == nil, "told once")
        var busy = Machine(configuration: Self.configuration)
        busy.routeStarted()
        let step4 = busy.close()
        #expect(step4 == nil)
        #expect(!busy.awaitsRouteResponse, "a route's late response is not written to a closed connection")
        var hixie = Machine(configuration: Self.configuration)
        _ = hixie.hixieHandshakeStarted("h", framed: true)
        let step5 = hixie.close()
        #expect(step5 == nil)
        var webSocket = Self.webSocket()
        let step6 = webSocket.close()
        #expect(step6 == "w")
        #expect(webSocket.webSocketReceiver == nil)
        #expect(!webSocket.acceptsInput)
        let step7 = webSocket.inputStep(buffered: 5, writable: true)
        #expect(step7 == .discard)
        let step8 = webSocket.webSocketFrameReceived(Self.frame(WebSocketFrame.text, "[\"x\"]"))
        #expect(step8 == .none)
        let step9 = webSocket.webSocketEnded(hasBytes: true)
        #expect(step9 == .ignore)
        let step10 = webSocket.webSocketAborted()
        #expect(step10 == nil)
        #expect(!webSocket.pingAllowed)
    }

    // MARK: Websocket

    @Test("a fragmented message is reassembled and delivered once its last frame arrives; raw websockets deliver text as is")
    func fragmentsReassembled() {
        var machine = Self.webSocket()
        let step1 = machine.inputStep(buffered: 3, writable: false)
        #expect(step1 == .readWebSocket)
        let step2 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.text, "[\"a", fin: false))
        #expect(step2 == .none)
        let step3 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.ping, "p"))
        #expect(step3 == .none, "control frames may come between fragments")
        let step4 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.continuation, "b\",", fin: false))
        #expect(step4 == .none)
        let step5 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.continuation, "\"c\"]"))
        #expect(step5 == .deliver(["ab", "c"]))
        let step6 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.text, "\"single\""))
        #expect(step6 == .deliver(["single"]))
        let step7 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.text, ""))
        #expect(step7 == .none, "an empty frame is ignored")
        let step8 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.text, "[]"))
        #expect(step8 == .deliver([]))
        #expect(machine.webSocketReceiver == "w")

        var raw = Self.webSocket(framed: false)
        let step9 = raw.webSocketFrameReceived(Self.frame(WebSocketFrame.text, "not json", fin: false))
        #expect(step9 == .none)
        let step10 = raw.webSocketFrameReceived(Self.frame(WebSocketFrame.continuation, "!"))
        #expect(step10 == .deliver(["not json!"]))
        let step11 = raw.webSocketFrameReceived(Self.frame(WebSocketFrame.text, ""))
        #expect(step11 == .deliver([""]))
    }

    @Test("fragments are bounded: a message past maxMessageBytes across its fragments closes with 1009")
    func fragmentsBounded() {
        var machine = Self.webSocket(maxMessageBytes: 8)
        let step1 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.text, "[\"ab", fin: false))
        #expect(step1 == .none)
        let step2 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.continuation, "cd\"]"))
        #expect(step2 == .deliver(["abcd"]), "8 bytes: at the limit")
        let step3 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.text, "[\"abc", fin: false))
        #expect(step3 == .none)
        let step4 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.continuation, "defg", fin: false))
        #expect(step4 == .fail(closeCode: 1009))
        #expect(Self.isClosing(machine))
        let step5 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.continuation, "\"]"))
        #expect(step5 == .none)
    }

    @Test("fragment order violations and unknown opcodes fail the session without a close code")
    func fragmentOrderViolations() {
        var orphan = Self.webSocket()
        let step1 = orphan.webSocketFrameReceived(Self.frame(WebSocketFrame.continuation, "x"))
        #expect(step1 == .fail(closeCode: nil))
        #expect(Self.isClosing(orphan))
        var interleaved = Self.webSocket()
        let step2 = interleaved.webSocketFrameReceived(Self.frame(WebSocketFrame.text, "[\"a", fin: false))
        #expect(step2 == .none)
        let step3 = interleaved.webSocketFrameReceived(Self.frame(WebSocketFrame.binary, "[\"b\"]"))
        #expect(step3 == .fail(closeCode: nil))
        var unknown = Self.webSocket()
        let step4 = unknown.webSocketFrameReceived(Self.frame(0xB, ""))
        #expect(step4 == .fail(closeCode: nil))
    }

    @Test("protocol errors map to close codes: 1009 too large, 1002 otherwise, none on hixie-76; broken JSON ends the session")
    func protocolErrorsToCloseCodes() {
        var tooLarge = Self.webSocket()
        let step1 = tooLarge.webSocketParseFailed(frameTooLarge: true)
        #expect(step1 == .fail(closeCode: 1009))
        #expect(Self.isClosing(tooLarge))
        var violation = Self.webSocket()
        let step2 = violation.webSocketParseFailed(frameTooLarge: false)
        #expect(step2 == .fail(closeCode: 1002))
        var hixie = Self.webSocket(hixie: true)
        let step3 = hixie.webSocketParseFailed(frameTooLarge: true)
        #expect(step3 == .fail(closeCode: nil))
        var broken = Self.webSocket()
        let step4 = broken.webSocketFrameReceived(Self.frame(WebSocketFrame.text, "[\"x\",]"))
        #expect(step4 == .brokenJSON)
        #expect(Self.isClosing(broken))
        var brokenHixie = Self.webSocket(hixie: true)
        let step5 = brokenHixie.hixieFrameReceived(.text(ByteBuffer(string: "{")))
        #expect(step5 == .brokenJSON)
        var closed = Machine(configuration: Self.configuration)
        let step6 = closed.webSocketParseFailed(frameTooLarge: false)
        #expect(step6 == .none, "not a websocket: nothing")
    }

    @Test("pings read together get one pong, for the newest, after the read; none once the client closed; pongs are ignored")
    func pingPong() {
        var machine = Self.webSocket()
        #expect(machine.pingAllowed)
        let step1 = machine.webSocketReadEnded()
        #expect(step1 == nil)
        let step2 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.ping, bytes: [1]))
        #expect(step2 == .none)
        let step3 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.ping, bytes: [2]))
        #expect(step3 == .none)
        let step4 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.pong, bytes: [9]))
        #expect(step4 == .none)
        let step5 = machine.webSocketReadEnded()
        #expect(step5 == .pong(ByteBuffer(bytes: [2])))
        let step6 = machine.webSocketReadEnded()
        #expect(step6 == nil, "one pong per ping read")

        let step7 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.ping, bytes: [3]))
        #expect(step7 == .none)
        let step8 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.close, bytes: [0x03, 0xE8]))
        #expect(step8 == .clientClosed(answer: .close(code: 1000, reason: "")))
        let step9 = machine.webSocketReadEnded()
        #expect(step9 == nil, "no pong after the close answer")

        let hixie = Self.webSocket(hixie: true)
        #expect(!hixie.pingAllowed, "hixie-76 has no ping")
    }

    @Test("the client closes: its code is echoed (1000 for none or 1005) and the machine is closing")
    func clientCloseHandshake() {
        for (payload, echoed) in [([UInt8](), UInt16(1000)), ([0x03, 0xE9], 1001), ([0x03, 0xED], 1000), ([0x0F, 0xA1, 0x41], 4001)] {
            var machine = Self.webSocket()
            let step1 = machine.webSocketFrameReceived(Self.frame(WebSocketFrame.close, bytes: payload))
            #expect(step1 == .clientClosed(answer: .close(code: echoed, reason: "")))
            #expect(Self.isClosing(machine))
            let step2 = machine.webSocketEnded(hasBytes: true)
            #expect(step2 == .ignore, "the session's own end comes too late")
        }
        var hixie = Self.webSocket(hixie: true)
        let step3 = hixie.hixieFrameReceived(.text(ByteBuffer(string: "[\"h\"]")))
        #expect(step3 == .deliver(["h"]))
        let step4 = hixie.hixieFrameReceived(.close)
        #expect(step4 == .clientClosed(answer: .hixieClose))
        #expect(Self.isClosing(hixie))
    }

    @Test("the server closes: its close frame, then the client's is awaited for 2 s (data frames dropped); hixie closes at once")
    func serverCloseHandshake() {
        var framed = Self.webSocket()
        let step1 = framed.webSocketEnded(hasBytes: true)
        #expect(step1 == .writeThenDrain(closeFrame: .close(code: 1000, reason: "Normal closure"), timer: .arm(.closeHandshake, .seconds(2))))
        #expect(framed.webSocketReceiver == nil, "nothing more is written for the session")
        let step2 = framed.inputStep(buffered: 2, writable: true)
        #expect(step2 == .drainWebSocket)
        #expect(framed.drainsWebSocket)
        let step3 = framed.drainFrameReceived(opcode: WebSocketFrame.text)
        #expect(!step3)
        let step4 = framed.drainFrameReceived(opcode: WebSocketFrame.ping)
        #expect(!step4)
        let step5 = framed.drainFrameReceived(opcode: WebSocketFrame.close)
        #expect(step5)
        #expect(Self.isClosing(framed))
        #expect(!framed.drainsWebSocket)

        var silent = Self.webSocket()
        _ = silent.webSocketEnded(hasBytes: true)
        let step6 = silent.timerFired(.closeHandshake)
        #expect(step6 == .closeNow, "no close frame in time")
        var garbage = Self.webSocket()
        _ = garbage.webSocketEnded(hasBytes: true)
        let step7 = garbage.drainFrameReceived(opcode: nil)
        #expect(step7, "broken input while draining closes")

        var raw = Self.webSocket(framed: false)
        let step8 = raw.webSocketEnded(hasBytes: true)
        #expect(step8 == .writeThenDrain(closeFrame: nil, timer: .arm(.closeHandshake, .seconds(2))), "a raw websocket's close frame is the session's bytes")
        var nothing = Self.webSocket()
        let step9 = nothing.webSocketEnded(hasBytes: false)
        #expect(step9 == .closeNow(lost: "w"))
        var hixie = Self.webSocket(hixie: true)
        let step10 = hixie.webSocketEnded(hasBytes: true)
        #expect(step10 == .writeThenClose(trailer: .hixieClose, lost: "w"))
        #expect(Self.isClosing(hixie))

        var aborted = Self.webSocket()
        let step11 = aborted.webSocketAborted()
        #expect(step11 == "w")
        let step12 = aborted.webSocketAborted()
        #expect(step12 == nil)
    }

    @Test("hixie-76: the nonce is awaited after the 101 head; then a session takes the websocket, or none does and it says go away")
    func hixieHandshake() {
        var machine = Machine(configuration: Self.configuration)
        let step1 = machine.hixieHandshakeStarted("key", framed: false)
        #expect(step1 == .cancel)
        let step2 = machine.inputStep(buffered: 7, writable: true)
        #expect(step2 == .wait)
        let step3 = machine.inputStep(buffered: 8, writable: true)
        #expect(step3 == .readHixieNonce)
        let step4 = machine.timerFired(.idle)
        #expect(step4 == .none)
        let pending = machine.hixieNonceRead()
        #expect(pending?.handshake == "key")
        #expect(pending?.framed == false)
        _ = machine.webSocketStarted("w", hixie: true, framed: false, maxMessageBytes: 64)
        #expect(machine.webSocketIsHixie)
        let step5 = machine.hixieFrameReceived(.text(ByteBuffer(string: "raw")))
        #expect(step5 == .deliver(["raw"]))
        #expect(machine.hixieNonceRead() == nil)

        var refused = Machine(configuration: Self.configuration)
        _ = refused.hixieHandshakeStarted("key", framed: true)
        let step6 = refused.webSocketRefused(hixie: true)
        #expect(step6 == .hixieGoAway)
        #expect(Self.isClosing(refused))
        var refusedRFC = Machine(configuration: Self.configuration)
        let step7 = refusedRFC.webSocketRefused(hixie: false)
        #expect(step7 == .close(code: 1001, reason: "Server shutting down"))
    }
}

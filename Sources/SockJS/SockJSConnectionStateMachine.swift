import NIOCore
import SockJSWire

/// The protocol logic of one server connection, as a pure value type.
///
/// It knows the connection's mode (waiting for a request, producing a response, attached to a
/// session as a poll, a stream or a websocket, closing), how the current response is framed
/// (keep-alive, chunked), which timer should run, and, in websocket mode, the fragments of the
/// message being reassembled and the ping waiting for its pong. Every event returns what to do;
/// `SockJSConnectionHandler` carries it out (writes, timers, session calls). Nothing here touches
/// a socket, a clock or a session, so every rule is tested with plain values
/// (`SockJSConnectionStateMachineTests`). Bytes are parsed before they reach it
/// (`HTTPRequestParser`, `WebSocketFrameParser`, `Hixie76`); it sees requests and frames.
///
/// `Receiver` is what the executor keeps for an attached session (the machine only hands it back
/// when the session must hear that its receiver is gone); `Handshake` is what a hixie-76 upgrade
/// keeps until its 8-byte nonce arrives.
struct SockJSConnectionStateMachine<Receiver, Handshake> {
    /// The limits and intervals the machine applies.
    struct Configuration: Equatable {
        /// An idle keep-alive connection is closed after this.
        var idleTimeout: TimeAmount
        /// A request that started arriving must be complete within this, else `408`.
        var requestTimeout: TimeAmount
        /// After the server's websocket close frame, how long to wait for the client's.
        var closeHandshakeTimeout: TimeAmount = .seconds(2)
        /// Bytes a client may send ahead of an unfinished response (a pipelined request).
        var maxBytesAhead: Int
    }

    /// The one timer a connection runs, as a value: the executor schedules it and reports it back.
    enum Timer: Equatable, Sendable {
        /// A keep-alive connection waits for its next request.
        case idle
        /// A request started arriving and must be complete in time (slowloris).
        case slowRequest
        /// The server sent its websocket close frame and waits for the client's.
        case closeHandshake
    }

    /// What to do with the connection timer.
    enum TimerAction: Equatable {
        /// Schedule `timer` to fire after the delay, replacing any scheduled one.
        case arm(Timer, TimeAmount)
        /// Cancel the scheduled timer, if any.
        case cancel
    }

    /// A websocket connection's settings and reassembly state.
    struct WebSocket {
        /// hixie-76 framing (`0x00 … 0xFF`), else RFC 6455.
        var hixie: Bool
        /// SockJS framing (`o`, `a[...]`, JSON messages), else raw: each text message is one message.
        var framed: Bool
        /// The largest message, reassembled from its fragments, the client may send.
        var maxMessageBytes: Int
        /// The fragments of a message whose final frame has not arrived yet.
        var fragments: ByteBuffer?
        /// The payload of the newest ping read since the last pong (one pong per read).
        var pendingPong: ByteBuffer?
    }

    /// Where the connection is in its life.
    enum State {
        /// Waiting for (the rest of) a request.
        case idle
        /// A response is being produced elsewhere (a route task).
        case busy
        /// A poll or stream is attached to a session.
        case receiving(Receiver)
        /// The hixie-76 101 head was sent; waiting for the 8-byte nonce.
        case hixieHandshake(Handshake, framed: Bool)
        /// The connection speaks websocket for a session (its settings and reassembly state are
        /// ``socket``, kept outside this generic payload so that a frame costs no copy of it).
        case webSocket(Receiver)
        /// The server sent its websocket close frame and waits for the client's (or a timeout).
        case webSocketDraining
        /// Closing; input is ignored.
        case closing
    }

    /// What the executor does with the bytes it has buffered.
    enum InputStep {
        /// Parse the next request (and hand it to ``requestReceived()`` or ``requestIncomplete(partial:)``).
        case readRequest
        /// Leave the bytes buffered until the mode or the socket's writability changes.
        case wait
        /// Too many bytes were sent ahead of the current response: close now (the machine is
        /// closing; tell `lost`, if any, that its receiver is gone).
        case closeTooFarAhead(lost: Receiver?)
        /// Read the hixie-76 nonce (8 bytes) and answer ``hixieNonceRead()``'s handshake.
        case readHixieNonce
        /// Parse websocket frames and hand each to the machine.
        case readWebSocket
        /// Parse frames only to find the client's close frame (``drainFrameReceived(opcode:)``).
        case drainWebSocket
        /// Throw the bytes away.
        case discard
    }

    /// How a complete (`Content-Length`) response says what happens to the connection.
    enum ConnectionHeader: Equatable {
        /// Nothing: HTTP/1.1 keeps the connection by default.
        case none
        /// `Connection: keep-alive` (HTTP/1.0 asked for it).
        case keepAlive
        /// `Connection: close`: the connection closes after this response.
        case close
    }

    /// How a streaming response is framed.
    struct StreamFraming: Equatable {
        /// `Transfer-Encoding: chunked` (HTTP/1.1), else the body ends when the connection closes.
        var chunked: Bool
        /// `Connection: close`.
        var connectionClose: Bool
    }

    /// What follows the end of a response.
    enum ResponseEnd {
        /// Wait for the next request: arm the idle timer and read what is buffered.
        case keepOpen(TimerAction)
        /// Close once everything written has gone out; tell `lost`, if any, that its receiver is gone.
        case closeAfterFlush(lost: Receiver?)
    }

    /// What a fired timer means.
    enum TimerOutcome: Equatable {
        /// Nothing (the mode changed since it was armed).
        case none
        /// Close at once (idle keep-alive, or no close frame came back in time).
        case closeNow
        /// The request did not arrive in time: answer `408` and close.
        case refuseSlowRequest
    }

    /// Bytes for the websocket client.
    enum WebSocketOutput: Equatable {
        /// An RFC 6455 close frame.
        case close(code: UInt16, reason: String)
        /// An RFC 6455 pong echoing a ping's payload.
        case pong(ByteBuffer)
        /// An RFC 6455 ping without payload (the server's liveness check).
        case ping
        /// hixie-76 close: `0xFF 0x00`.
        case hixieClose
        /// The SockJS `c[3000,"Go away!"]` frame in hixie-76 framing.
        case hixieGoAway
    }

    /// What one frame from the websocket client means.
    enum WebSocketInput: Equatable {
        /// Nothing to do (a pong, a ping kept for the end of the read, a fragment, an empty frame).
        case none
        /// Hand these messages to the session.
        case deliver([String])
        /// The client broke the websocket protocol: write this close frame first (if any), end the
        /// session with a protocol error, close once written. The machine is closing.
        case fail(closeCode: UInt16?)
        /// The client sent broken JSON on a framed websocket: as ``fail(closeCode:)`` without a close frame.
        case brokenJSON
        /// The client closed: write `answer` (flushed), tell the websocket's session (the
        /// ``webSocketReceiver`` the read started with) its receiver is gone, close once written.
        /// The machine is closing.
        case clientClosed(answer: WebSocketOutput)
    }

    /// What the session's request to end its websocket means.
    enum WebSocketEnd {
        /// The connection is no longer a websocket: nothing to do.
        case ignore
        /// Nothing to write: close now and tell `lost` its receiver is gone.
        case closeNow(lost: Receiver)
        /// Write the session's bytes and then `trailer` (hixie close), close once written, tell `lost`.
        case writeThenClose(trailer: WebSocketOutput, lost: Receiver)
        /// Write the session's bytes and `closeFrame` (if any), flush, arm `timer`, and keep
        /// reading for the client's close frame (the RFC 6455 closing handshake).
        case writeThenDrain(closeFrame: WebSocketOutput?, timer: TimerAction)
    }

    // Fields that do not depend on `Receiver` and `Handshake` come first: their offsets are
    // fixed, so the per-frame path reads and writes them without generic layout work.
    let configuration: Configuration
    /// The websocket's settings and reassembly state; meaningful in `.webSocket` only.
    private(set) var socket = WebSocket(hixie: false, framed: true, maxMessageBytes: 0)
    /// Whether the connection stays open after the current response.
    private(set) var keepAlive = true
    /// Whether the current streaming response uses chunked encoding.
    private(set) var chunked = false
    /// The server is shutting down: no response keeps its connection.
    private(set) var shuttingDown = false
    /// The slow-request timer runs for the request being read.
    private(set) var slowRequestTimerArmed = false
    private(set) var state: State = .idle

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    // MARK: Connection life

    /// The connection is open: wait for a request no longer than the idle timeout.
    func connectionActive() -> TimerAction {
        .arm(.idle, configuration.idleTimeout)
    }

    /// The connection is closing (the peer closed its side, an error, or the executor closes it):
    /// input is ignored from now on. Returns the receiver whose session must hear that it is gone.
    mutating func close() -> Receiver? {
        let previous = state
        state = .closing
        switch previous {
        case .receiving(let receiver), .webSocket(let receiver):
            return receiver
        case .idle, .busy, .hixieHandshake, .webSocketDraining, .closing:
            return nil
        }
    }

    /// Whether bytes that arrive are kept (`false` once closing).
    var acceptsInput: Bool {
        if case .closing = state { return false }
        return true
    }

    /// The server shuts down: no response keeps its connection, and an idle one closes now
    /// (returns true; the machine is closing).
    mutating func shutdown() -> Bool {
        shuttingDown = true
        guard case .idle = state else { return false }
        state = .closing
        return true
    }

    /// The connection timer fired.
    mutating func timerFired(_ timer: Timer) -> TimerOutcome {
        switch state {
        case .webSocketDraining:
            state = .closing
            return .closeNow
        case .idle:
            if timer == .slowRequest { return .refuseSlowRequest }
            state = .closing
            return .closeNow
        case .busy, .receiving, .hixieHandshake, .webSocket, .closing:
            return .none
        }
    }

    // MARK: Input

    /// What to do with `buffered` bytes now; `writable` is whether the socket takes writes.
    ///
    /// Pipelined requests wait while the client does not read its responses (the socket is not
    /// writable); while a response is unfinished they wait too, bounded by `maxBytesAhead`.
    mutating func inputStep(buffered: Int, writable: Bool) -> InputStep {
        switch state {
        case .idle:
            if buffered > 0 && !writable { return .wait }
            return .readRequest
        case .busy, .receiving:
            guard buffered > configuration.maxBytesAhead else { return .wait }
            return .closeTooFarAhead(lost: close())
        case .hixieHandshake:
            return buffered >= 8 ? .readHixieNonce : .wait
        case .webSocket:
            return .readWebSocket
        case .webSocketDraining:
            return .drainWebSocket
        case .closing:
            return .discard
        }
    }

    /// The socket's writability changed (a websocket's session is told, see
    /// ``webSocketReceiver``): requests buffered while it was not writable are read now (true).
    func readsOnWritabilityChange(writable: Bool, buffered: Int) -> Bool {
        guard writable, buffered > 0, case .idle = state else { return false }
        return true
    }

    /// Part of a request is buffered (`partial`) or nothing is: a started request must arrive
    /// within the request timeout (armed once per request).
    mutating func requestIncomplete(partial: Bool) -> TimerAction? {
        guard partial, !slowRequestTimerArmed else { return nil }
        slowRequestTimerArmed = true
        return .arm(.slowRequest, configuration.requestTimeout)
    }

    /// A complete request was read; the executor routes it.
    mutating func requestReceived() -> TimerAction {
        slowRequestTimerArmed = false
        return .cancel
    }

    // MARK: Responses

    /// A plain route produces the response elsewhere.
    mutating func routeStarted() {
        state = .busy
    }

    /// A route's response is ready: write it unless the connection moved on (closed).
    var awaitsRouteResponse: Bool {
        if case .busy = state { return true }
        return false
    }

    /// A complete response is written for a request that asked to keep the connection
    /// (`keepAliveRequested`, nil for a request that could not be parsed) over HTTP/1.`minorVersion`.
    mutating func completeResponse(keepAliveRequested: Bool?, minorVersion: Int?, closeAfter: Bool) -> ConnectionHeader {
        keepAlive = (keepAliveRequested ?? false) && !closeAfter && !shuttingDown
        if !keepAlive { return .close }
        return minorVersion == 0 ? .keepAlive : .none
    }

    /// A streaming response starts: chunked on HTTP/1.1 (and kept alive if asked), close-delimited on HTTP/1.0.
    mutating func streamingResponse(keepAliveRequested: Bool, minorVersion: Int) -> StreamFraming {
        chunked = minorVersion >= 1
        keepAlive = chunked && keepAliveRequested && !shuttingDown
        return StreamFraming(chunked: chunked, connectionClose: !keepAlive)
    }

    /// The response is complete: read the next request, or close.
    mutating func responseFinished() -> ResponseEnd {
        if keepAlive && !shuttingDown {
            state = .idle
            return .keepOpen(.arm(.idle, configuration.idleTimeout))
        }
        return .closeAfterFlush(lost: close())
    }

    /// A poll or stream attaches to a session.
    mutating func receivingStarted(_ receiver: Receiver) -> TimerAction {
        state = .receiving(receiver)
        return .cancel
    }

    /// The attached poll or stream, if the connection has one.
    var httpReceiver: Receiver? {
        if case .receiving(let receiver) = state { return receiver }
        return nil
    }

    // MARK: Websocket

    /// The hixie-76 101 head was written; the nonce follows.
    mutating func hixieHandshakeStarted(_ handshake: Handshake, framed: Bool) -> TimerAction {
        state = .hixieHandshake(handshake, framed: framed)
        return .cancel
    }

    /// The nonce arrived: the handshake to complete (the mode changes with ``webSocketStarted``
    /// or ``webSocketRefused(hixie:)``).
    func hixieNonceRead() -> (handshake: Handshake, framed: Bool)? {
        guard case .hixieHandshake(let handshake, let framed) = state else { return nil }
        return (handshake, framed)
    }

    /// The upgrade is done and a session took the websocket.
    mutating func webSocketStarted(_ receiver: Receiver, hixie: Bool, framed: Bool, maxMessageBytes: Int) -> TimerAction {
        socket = WebSocket(hixie: hixie, framed: framed, maxMessageBytes: maxMessageBytes)
        state = .webSocket(receiver)
        return .cancel
    }

    /// The upgrade is done but no session could be had (shutdown): say goodbye and close once
    /// written (the machine is closing).
    mutating func webSocketRefused(hixie: Bool) -> WebSocketOutput {
        state = .closing
        return hixie ? .hixieGoAway : .close(code: 1001, reason: "Server shutting down")
    }

    /// The websocket's session and receiver, while the connection is a websocket.
    var webSocketReceiver: Receiver? {
        if case .webSocket(let receiver) = state { return receiver }
        return nil
    }

    /// Whether the connection speaks websocket for a session.
    var isWebSocket: Bool {
        if case .webSocket = state { return true }
        return false
    }

    /// Whether the websocket speaks hixie-76.
    var webSocketIsHixie: Bool {
        isWebSocket && socket.hixie
    }

    /// An RFC 6455 frame from the client (the executor also tells the session the client is alive).
    mutating func webSocketFrameReceived(_ frame: WebSocketFrame) -> WebSocketInput {
        guard isWebSocket else { return .none }
        switch frame.opcode {
        case WebSocketFrame.text, WebSocketFrame.binary, WebSocketFrame.continuation:
            let continuation = frame.opcode == WebSocketFrame.continuation
            guard continuation == (socket.fragments != nil) else {
                // A new message inside a fragmented one, or a continuation of nothing.
                return fail(closeCode: nil)
            }
            if frame.fin && socket.fragments == nil {
                return message(frame.payload)
            }
            // Taken out of `socket` so that appending does not copy the bytes so far.
            var fragments = socket.fragments.take() ?? ByteBuffer()
            var payload = frame.payload
            fragments.writeBuffer(&payload)
            guard fragments.readableBytes <= socket.maxMessageBytes else { return fail(closeCode: 1009) }
            if frame.fin { return message(fragments) }
            socket.fragments = fragments
            return .none
        case WebSocketFrame.ping:
            socket.pendingPong = frame.payload
            return .none
        case WebSocketFrame.pong:
            return .none
        case WebSocketFrame.close:
            var payload = frame.payload
            let code: UInt16 = payload.readInteger() ?? 1000
            state = .closing
            return .clientClosed(answer: .close(code: code == 1005 ? 1000 : code, reason: ""))
        default:
            return fail(closeCode: nil)
        }
    }

    private mutating func fail(closeCode: UInt16?) -> WebSocketInput {
        state = .closing
        socket.fragments = nil
        return .fail(closeCode: closeCode)
    }

    /// A hixie-76 frame from the client.
    mutating func hixieFrameReceived(_ frame: Hixie76.Frame) -> WebSocketInput {
        guard isWebSocket else { return .none }
        switch frame {
        case .text(let payload):
            return message(payload)
        case .close:
            state = .closing
            return .clientClosed(answer: .hixieClose)
        }
    }

    /// The client's bytes are not a websocket stream: close 1009 for a frame over the limit,
    /// 1002 for any other violation; none for hixie-76, which has no close codes.
    mutating func webSocketParseFailed(frameTooLarge: Bool) -> WebSocketInput {
        guard isWebSocket else { return .none }
        return fail(closeCode: socket.hixie ? nil : (frameTooLarge ? 1009 : 1002))
    }

    /// The executor read all complete frames of one read: the pong for the newest ping read,
    /// if any and the connection is still a websocket (RFC 6455 5.5.3: one pong per read,
    /// however many pings it held, so a ping flood costs one write per read).
    mutating func webSocketReadEnded() -> WebSocketOutput? {
        guard isWebSocket, let payload = socket.pendingPong.take() else { return nil }
        return .pong(payload)
    }

    /// A decoded message: raw websockets deliver the text; framed ones a JSON array of strings
    /// (or one string), ignoring an empty frame.
    private mutating func message(_ payload: ByteBuffer) -> WebSocketInput {
        if !socket.framed { return .deliver([String(buffer: payload)]) }
        guard payload.readableBytes > 0 else { return .none }
        do {
            return .deliver(try SockJSJSON.decodeMessages(payload, allowSingleString: true))
        } catch {
            state = .closing
            return .brokenJSON
        }
    }

    // MARK: Websocket, the session's side

    /// The session's heartbeat asks for a ping: only RFC 6455 websockets have one.
    var pingAllowed: Bool {
        isWebSocket && !socket.hixie
    }

    /// The session aborts its websocket: write its bytes as far as they go and close now;
    /// returns the receiver to tell, or nil when the connection is no longer a websocket.
    mutating func webSocketAborted() -> Receiver? {
        guard case .webSocket = state else { return nil }
        return close()
    }

    /// The session ends its websocket after `hasBytes` (its close frame, SockJS-framed or raw).
    mutating func webSocketEnded(hasBytes: Bool) -> WebSocketEnd {
        guard case .webSocket(let receiver) = state else { return .ignore }
        guard hasBytes else {
            state = .closing
            return .closeNow(lost: receiver)
        }
        if socket.hixie {
            state = .closing
            return .writeThenClose(trailer: .hixieClose, lost: receiver)
        }
        // RFC 6455 closing handshake: wait for the client's close frame before dropping TCP, so
        // the client reads everything sent; give up after a short while.
        state = .webSocketDraining
        return .writeThenDrain(
            closeFrame: socket.framed ? .close(code: 1000, reason: "Normal closure") : nil,
            timer: .arm(.closeHandshake, configuration.closeHandshakeTimeout)
        )
    }

    /// Whether the connection waits for the client's close frame after the server's.
    var drainsWebSocket: Bool {
        if case .webSocketDraining = state { return true }
        return false
    }

    /// A frame read while waiting for the client's close frame: the close frame (or broken
    /// input, `opcode` nil) ends the connection now (returns true; the machine is closing).
    mutating func drainFrameReceived(opcode: UInt8?) -> Bool {
        guard case .webSocketDraining = state else { return false }
        guard opcode == nil || opcode == WebSocketFrame.close else { return false }
        state = .closing
        return true
    }
}

extension SockJSConnectionStateMachine.InputStep: Equatable where Receiver: Equatable {}
extension SockJSConnectionStateMachine.ResponseEnd: Equatable where Receiver: Equatable {}
extension SockJSConnectionStateMachine.WebSocketEnd: Equatable where Receiver: Equatable {}

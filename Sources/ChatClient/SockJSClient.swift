import NIOCore
import NIOPosix

/// A SockJS client session over one transport, written on SwiftNIO.
///
/// Every client lives on one event loop: its connections, timers and state are confined to it,
/// and its events are delivered on it. Many clients share a few loops (a
/// `MultiThreadedEventLoopGroup` with `System.coreCount` threads carries thousands), so a
/// load test of 500 users needs no more threads than cores.
///
/// Thread-safety: `send` and `close` may be called from any thread; they hop to the loop when
/// needed. The mutable state sits in a `NIOLoopBoundBox`, which checks that it is only touched
/// on its loop.
public final class SockJSClient: Sendable {
    /// The loop that owns this client.
    public let eventLoop: any EventLoop
    /// The transport this session uses (there is no fallback: a load test wants to know).
    public let transport: SockJSTransportKind
    /// The service this client talks to.
    public let endpoint: SockJSEndpoint
    private let executor: NIOLoopBoundBox<SockJSClientExecutor?>

    /// Options of a client beyond the state machine's.
    public struct Configuration: Sendable {
        /// Timeouts and the outbound cap of the session.
        public var session: SockJSClientStateMachine.Configuration
        /// How often the heartbeat and connect timeouts are checked.
        public var tickInterval: TimeAmount
        /// The largest inbound websocket frame or HTTP line accepted.
        public var maxFrameSize: Int

        public init(
            session: SockJSClientStateMachine.Configuration = .init(),
            tickInterval: TimeAmount = .seconds(1),
            maxFrameSize: Int = 1 << 20
        ) {
            self.session = session
            self.tickInterval = tickInterval
            self.maxFrameSize = maxFrameSize
        }
    }

    /// Starts a session to `endpoint` over `transport` on `eventLoop`. `onEvent` is called on
    /// that loop: `.open`, the messages, and `.closed` (also when connecting fails, with code
    /// 1006 and a sentence saying why).
    public init(
        endpoint: SockJSEndpoint,
        transport: SockJSTransportKind,
        eventLoop: any EventLoop,
        configuration: Configuration = .init(),
        onEvent: @escaping @Sendable (SockJSClientEvent) -> Void
    ) {
        self.eventLoop = eventLoop
        self.transport = transport
        self.endpoint = endpoint
        self.executor = .makeEmptyBox(valueType: SockJSClientExecutor.self, eventLoop: eventLoop)
        let box = self.executor
        let start: @Sendable () -> Void = {
            let executor = SockJSClientExecutor(
                endpoint: endpoint,
                transport: transport,
                eventLoop: eventLoop,
                configuration: configuration,
                onEvent: onEvent
            )
            box.value = executor
            executor.start()
        }
        // On the loop, start now, so that a `send` right after `init` finds the session.
        if eventLoop.inEventLoop {
            start()
        } else {
            eventLoop.execute(start)
        }
    }

    /// Sends one message. Messages sent before the session opened go out once it opens.
    ///
    /// Returns `false` when the message was refused (the session is closed, or the outbound
    /// queue is at its cap). Called off the loop, the check happens later on the loop and `true`
    /// only means the message was handed over; use `sendChecked` to learn the outcome.
    @discardableResult
    public func send(_ message: String) -> Bool {
        send(contentsOf: [message])
    }

    /// Sends several messages, in order, as one payload where the transport allows.
    @discardableResult
    public func send(contentsOf messages: [String]) -> Bool {
        if eventLoop.inEventLoop {
            return executor.value?.send(messages) ?? false
        }
        let box = executor
        eventLoop.execute { _ = box.value?.send(messages) }
        return true
    }

    /// Sends messages and reports whether they were accepted.
    public func sendChecked(_ messages: [String]) -> EventLoopFuture<Bool> {
        let box = executor
        return eventLoop.submit { box.value?.send(messages) ?? false }
    }

    /// Closes the session from the client side; `onEvent` gets `.closed(code, reason)`.
    public func close(code: Int = SockJSClientStateMachine.LocalCloseCode.normal, reason: String = "Closed by the client.") {
        let box = executor
        if eventLoop.inEventLoop {
            box.value?.closeRequested(code: code, reason: reason)
        } else {
            eventLoop.execute { box.value?.closeRequested(code: code, reason: reason) }
        }
    }
}

/// Random SockJS session URL parts, as sockjs-client makes them.
enum SockJSSessionID {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz012345".utf8)

    static func server() -> String {
        let digits = String(Int.random(in: 0..<1000))
        return String(repeating: "0", count: 3 - digits.count) + digits
    }

    static func session() -> String {
        String(decoding: (0..<8).map { _ in alphabet.randomElement()! }, as: UTF8.self)
    }
}

import NIOCore

/// A receiving HTTP request (a poll or a stream) as a session sees it.
///
/// The session may live on another event loop than the connection: every call is forwarded to the
/// connection's loop in order. A poll's head is written together with its single frame (so it has
/// a `Content-Length`); a stream's head and prelude are already written when it attaches.
final class HTTPReceiver: SockJSReceiver {
    let flavour: SockJSFrameFlavour
    let polling: Bool
    private let handler: NIOLoopBound<SockJSConnectionHandler>

    init(flavour: SockJSFrameFlavour, polling: Bool, handler: NIOLoopBound<SockJSConnectionHandler>) {
        self.flavour = flavour
        self.polling = polling
        self.handler = handler
    }

    private func onLoop(_ body: @escaping @Sendable (SockJSConnectionHandler) -> Void) {
        let handler = self.handler
        if handler.eventLoop.inEventLoop {
            body(handler.value)
        } else {
            handler.eventLoop.execute { body(handler.value) }
        }
    }

    func write(_ bytes: ByteBuffer, flush: Bool) {
        onLoop { $0.receiverWrite(self, bytes, flush: flush) }
    }

    func flush() {
        onLoop { $0.receiverFlush(self) }
    }

    func ping() {}

    func end(after bytes: ByteBuffer?) {
        onLoop { $0.receiverEnd(self, after: bytes) }
    }

    func abort(after bytes: ByteBuffer?) {
        onLoop { $0.receiverAbort(self, after: bytes) }
    }
}

/// A websocket (RFC 6455, raw or hixie-76) under a session; always on the session's own loop.
final class WebSocketReceiver: SockJSReceiver {
    let flavour: SockJSFrameFlavour
    private let handler: NIOLoopBound<SockJSConnectionHandler>

    init(flavour: SockJSFrameFlavour, handler: NIOLoopBound<SockJSConnectionHandler>) {
        self.flavour = flavour
        self.handler = handler
    }

    func write(_ bytes: ByteBuffer, flush: Bool) {
        handler.value.webSocketWrite(bytes, flush: flush)
    }

    func flush() {
        handler.value.webSocketFlush()
    }

    func ping() {
        handler.value.webSocketPing()
    }

    func end(after bytes: ByteBuffer?) {
        handler.value.webSocketEnd(after: bytes)
    }

    func abort(after bytes: ByteBuffer?) {
        handler.value.webSocketAbort(after: bytes)
    }
}

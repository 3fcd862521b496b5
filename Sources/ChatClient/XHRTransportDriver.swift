import NIOCore
import NIOHTTP1

/// The `xhr-streaming` and `xhr-polling` transports: one connection keeps a receiving request
/// open (`xhr_streaming`: a long chunked response of newline-separated frames, renewed when the
/// server ends it at its response limit; `xhr`: one frame per response, asked again at once),
/// a second connection POSTs `xhr_send`, one at a time (the state machine coalesces what
/// queues up meanwhile into the next POST).
final class XHRTransportDriver: SockJSTransportDriver {
    /// Strong on purpose: a session lives until it closes, even when its owner dropped the
    /// handle. `stop()` breaks the cycle (the executor drops the driver when it closes).
    private var executor: SockJSClientExecutor?
    private let endpoint: SockJSEndpoint
    private let receivePath: String
    private let sendPath: String
    private let maxLineSize: Int
    private let receiver: HTTPExchangeConnection
    private let sender: HTTPExchangeConnection
    private var line: [UInt8] = []
    private var stopped = false

    init(executor: SockJSClientExecutor, server: String, session: String) {
        self.executor = executor
        self.endpoint = executor.endpoint
        self.receivePath = executor.endpoint.sessionPath(server: server, session: session, executor.transport.receivePath)
        self.sendPath = executor.endpoint.sessionPath(server: server, session: session, .xhrSend)
        self.maxLineSize = executor.configuration.maxFrameSize
        self.receiver = HTTPExchangeConnection(eventLoop: executor.eventLoop, endpoint: executor.endpoint)
        self.sender = HTTPExchangeConnection(eventLoop: executor.eventLoop, endpoint: executor.endpoint)
    }

    func start() {
        receive()
    }

    func transmit(_ payload: String) {
        guard !stopped else { return }
        var status: HTTPResponseStatus?
        sender.post(
            sendPath,
            body: payload,
            exchange: .init(
                onHead: { status = $0 },
                onBody: { _ in },
                onEnd: { [weak self] in
                    guard let self, !self.stopped else { return }
                    if let status, status == .noContent || status == .ok {
                        self.executor?.transmitCompleted()
                    } else {
                        self.fail("xhr_send to \(self.endpoint) was answered \(status.map { "\($0.code)" } ?? "without a status"): the session is gone.")
                    }
                },
                onFailure: { [weak self] reason in self?.fail(reason) }
            )
        )
    }

    func stop() {
        stopped = true
        executor = nil
        receiver.close()
        sender.close()
    }

    private func receive() {
        guard !stopped else { return }
        line.removeAll(keepingCapacity: true)
        var status: HTTPResponseStatus?
        receiver.post(
            receivePath,
            body: nil,
            exchange: .init(
                onHead: { status = $0 },
                onBody: { [weak self] buffer in
                    guard let self, status == .ok else { return }
                    self.consume(buffer)
                },
                onEnd: { [weak self] in
                    guard let self, !self.stopped else { return }
                    guard status == .ok else {
                        self.fail("The server at \(self.endpoint) answered \(status.map { "\($0.code)" } ?? "nothing") to \(self.receivePath).")
                        return
                    }
                    if !self.line.isEmpty { self.deliverLine() }
                    // The session goes on until a close frame: ask again.
                    if let executor = self.executor, !executor.isClosed { self.receive() }
                },
                onFailure: { [weak self] reason in self?.fail(reason) }
            )
        )
    }

    /// Splits the body into lines, copying each run up to a newline in one go.
    private func consume(_ buffer: ByteBuffer) {
        var rest = buffer.readableBytesView[...]
        while !rest.isEmpty {
            let newline = rest.firstIndex(of: UInt8(ascii: "\n"))
            let run = rest[..<(newline ?? rest.endIndex)]
            if line.count + run.count > maxLineSize {
                fail("The server at \(endpoint) sent a line longer than \(maxLineSize) bytes.")
                return
            }
            line.append(contentsOf: run)
            guard let newline else { return }
            deliverLine()
            if stopped { return }
            rest = rest[rest.index(after: newline)...]
        }
    }

    private func deliverLine() {
        let frame = line
        line.removeAll(keepingCapacity: true)
        guard !frame.isEmpty else { return }
        executor?.received(frame: frame)
    }

    private func fail(_ reason: String) {
        guard !stopped else { return }
        stopped = true
        receiver.close()
        sender.close()
        let executor = self.executor
        self.executor = nil
        executor?.transportFailed(reason)
    }
}

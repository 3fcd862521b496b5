import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing

@testable import SockJS

/// A service that records what happens to its sessions (and echoes when asked to).
final class RecordingService: SockJSService {
    enum Event: Equatable, Sendable {
        case opened(String)
        case message(String, String)
        case closed(String, SockJSCloseReason)
    }

    let echo: Bool
    private let state = Mutex<(events: [Event], sessions: [SockJSSession])>(([], []))

    init(echo: Bool = true) {
        self.echo = echo
    }

    var events: [Event] { state.withLock { $0.events } }
    var sessions: [SockJSSession] { state.withLock { $0.sessions } }

    func sessionOpened(_ session: SockJSSession) {
        state.withLock {
            $0.events.append(.opened(session.id))
            $0.sessions.append(session)
        }
    }

    func session(_ session: SockJSSession, received message: String) {
        state.withLock { $0.events.append(.message(session.id, message)) }
        if echo { session.send(message) }
    }

    func sessionClosed(_ session: SockJSSession, reason: SockJSCloseReason) {
        state.withLock { $0.events.append(.closed(session.id, reason)) }
    }
}

/// One or more embedded connections to a server context with one `/echo` endpoint, on a virtual clock.
final class EmbeddedServer {
    let loop = EmbeddedEventLoop()
    let service: RecordingService
    let endpoint: SockJSEndpoint
    let shared: SockJSServerContext

    init(options: SockJSOptions = SockJSOptions(), configuration: SockJSServerConfiguration = SockJSServerConfiguration(), echo: Bool = true) {
        var configuration = configuration
        configuration.logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let registry = SockJSSessionRegistry()
        service = RecordingService(echo: echo)
        endpoint = SockJSEndpoint(prefix: "/echo", options: options, service: service, registry: registry)
        shared = SockJSServerContext(configuration: configuration, endpoints: [endpoint], routes: [:], registry: registry)
    }

    /// A new active connection.
    func connect() throws -> EmbeddedConnection {
        let channel = EmbeddedChannel(handler: SockJSConnectionHandler(shared: shared), loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        return EmbeddedConnection(channel: channel)
    }
}

/// One embedded connection: write request bytes in, read response bytes out.
struct EmbeddedConnection {
    let channel: EmbeddedChannel

    func send(_ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
    }

    func send(_ bytes: ByteBuffer) throws {
        try channel.writeInbound(bytes)
    }

    /// Everything written to the client since the last call.
    func output() throws -> [UInt8] {
        var out: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            out += buffer.readableBytesView
        }
        return out
    }

    func text() throws -> String {
        String(decoding: try output(), as: UTF8.self)
    }

    var isActive: Bool { channel.isActive }
}

/// Bytes a real TCP test client received, and whether the server closed the connection.
final class ReceivedBytes: Sendable {
    private let state = Mutex<(bytes: [UInt8], closed: Bool)>(([], false))
    var bytes: [UInt8] { state.withLock { $0.bytes } }
    var text: String { String(decoding: bytes, as: UTF8.self) }
    var closed: Bool { state.withLock { $0.closed } }
    func append(_ b: ByteBuffer) { state.withLock { $0.bytes += b.readableBytesView } }
    func markClosed() { state.withLock { $0.closed = true } }
}

final class CollectingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let received: ReceivedBytes
    init(_ received: ReceivedBytes) { self.received = received }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received.append(unwrapInboundIn(data))
    }
    func channelInactive(context: ChannelHandlerContext) {
        received.markClosed()
    }
}

/// A raw TCP client to 127.0.0.1 that records what it receives.
struct RawClient {
    let channel: any Channel
    let received: ReceivedBytes

    static func connect(port: Int, autoRead: Bool = true, receiveBuffer: Int? = nil) async throws -> RawClient {
        let received = ReceivedBytes()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: autoRead)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CollectingHandler(received))
                }
            }
        if let receiveBuffer {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer))
        }
        let channel = try await bootstrap.connect(host: "127.0.0.1", port: port).get()
        return RawClient(channel: channel, received: received)
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    func send(_ bytes: ByteBuffer) async throws {
        try await channel.writeAndFlush(bytes)
    }

    func close() async {
        try? await channel.close()
    }

    /// Opens a framed websocket session on `/echo` and waits for its `o` frame.
    static func webSocket(port: Int, path: String = "/echo/000/s/websocket", autoRead: Bool = true) async throws -> RawClient {
        let client = try await connect(port: port, autoRead: autoRead)
        try await client.send(
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        return client
    }
}

/// A masked client text frame carrying `text`.
func maskedText(_ text: String) -> ByteBuffer {
    clientFrame(opcode: 1, payload: Array(text.utf8))
}

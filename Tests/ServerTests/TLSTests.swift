import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import ServerTestSupport
import Synchronization
import Testing

@testable import Server

/// `--tls-cert` and `--tls-key`: a certificate made by `openssl` in the test, a server that
/// speaks https and wss with it, and the sentences of bad files.
@Suite("rabbitChat over TLS", .serialized)
struct TLSTests {
    /// A self-signed certificate for `localhost` and `127.0.0.1` (and its key), made with the
    /// openssl command line in `folder`.
    static func makeCertificate(in folder: TemporaryFolder, name: String = "server") throws -> (certificate: String, key: String) {
        let certificate = folder.path + "/\(name).pem"
        let key = folder.path + "/\(name)-key.pem"
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", certificate, "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else { throw TestSocketError("openssl req failed with status \(openssl.terminationStatus)") }
        return (certificate, key)
    }

    @Test("https GET of the page and a wss SockJS chat session, the certificate verified by the client")
    func httpsAndWss() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let files = try Self.makeCertificate(in: folder)
        let server = try await LiveServer.start(["--tls-cert", files.certificate, "--tls-key", files.key], readiness: .accepting)
        defer { server.stopBlocking() }
        #expect(server.log.contains("Open https://127.0.0.1:\(server.port)/"), "\(server.log)")
        #expect(server.log.contains("TLS:     https:// and wss:// with the certificate \(files.certificate)"))
        #expect(!server.log.contains("in clear"))

        let client = try TLSTestClient(trusting: files.certificate)
        defer { client.shutdown() }

        let page = try await client.exchange(port: server.port, send: "GET / HTTP/1.1\r\nHost: localhost:\(server.port)\r\nConnection: close\r\n\r\n") {
            $0.closed
        }
        let response = try TestHTTP.parse(page.bytes)
        #expect(response.status == 200)
        #expect(response.text.contains("<script src=\"/sockjs.min.js\"></script>"))
        #expect(response.headers["x-content-type-options"] == "nosniff")

        // wss: the page's own origin is https://localhost:<port>.
        let key = "dGhlIHNhbXBsZSBub25jZQ=="
        let upgrade =
            "GET /chat/000/tls1/websocket HTTP/1.1\r\nHost: localhost:\(server.port)\r\nOrigin: https://localhost:\(server.port)\r\n"
            + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: \(key)\r\n\r\n"
        let join = #"["{\"type\":\"join\",\"nick\":\"tls-alice\"}"]"#
        let session = try await client.connect(port: server.port)
        try await session.send(Array(upgrade.utf8))
        let opened = try await session.waitFor { bytes in
            TestHTTP.headEnd(bytes).map { bytes.count >= $0 + 7 && Array(bytes[($0 + 4)..<($0 + 7)]) == [0x81, 0x01, UInt8(ascii: "o")] } ?? false
        }
        #expect(String(decoding: opened, as: UTF8.self).hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        try await session.send(Self.maskedTextFrame(join))
        let welcomed = try await session.waitFor { String(decoding: $0, as: UTF8.self).contains(#"\"type\":\"welcome\""#) }
        #expect(String(decoding: welcomed, as: UTF8.self).contains("tls-alice"))
        await session.close()

        // An http page may not use the https server: another origin.
        let foreign = try await client.exchange(
            port: server.port,
            send: "GET /chat/info HTTP/1.1\r\nHost: localhost:\(server.port)\r\nOrigin: http://localhost:\(server.port)\r\nConnection: close\r\n\r\n"
        ) { $0.closed }
        #expect(try TestHTTP.parse(foreign.bytes).status == 403)

        // Plain http on the TLS port gets no answer from the chat: the handshake fails and the connection closes.
        let plain = try TestSocket(port: server.port, timeout: .seconds(5))
        try plain.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let (bytes, closed) = plain.readUntilClosed(limit: 4096)
        #expect(closed)
        #expect(!String(decoding: bytes, as: UTF8.self).contains("rabbitChat"))
        #expect(await server.stop() == 0)
    }

    @Test("bad certificate and key files are one sentence at start", arguments: ["garbage-cert", "garbage-key", "other-key", "missing"])
    func badFiles(kind: String) async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        var files = try Self.makeCertificate(in: folder)
        let expected: String
        switch kind {
        case "garbage-cert":
            try "not a certificate\n".write(toFile: files.certificate, atomically: true, encoding: .utf8)
            expected = "holds no PEM certificate"
        case "garbage-key":
            try "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".write(toFile: files.key, atomically: true, encoding: .utf8)
            expected = "holds no PEM private key"
        case "other-key":
            files.key = try Self.makeCertificate(in: folder, name: "other").key
            expected = "does not belong to the certificate"
        default:
            files.certificate = folder.path + "/nope.pem"
            expected = "cannot be read"
        }
        let server = try ServerProcess(["--port", "0", "--secret-file", folder.path + "/secret", "--tls-cert", files.certificate, "--tls-key", files.key])
        let status = await server.waitForExit(timeout: .seconds(20))
        let error = server.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(status == 1, "stderr: \(error)")
        #expect(error.hasPrefix("rabbitChat: The TLS ") && error.contains(expected), "\(error)")
        #expect(!error.contains("\n"), "one line: \(error)")
        await server.stop()
    }

    @Test("without TLS, the banner of a server on the network says that tokens cross it in clear; on loopback it does not")
    func clearTextWarning() {
        func banner(host: String, tls: Bool = false) -> String {
            var configuration = ServerConfiguration(
                host: host, port: 9191, broker: .embedded, nodeId: nil, secretFile: "/s",
                sockJSClient: "/c", logLevel: .info, sockJSTestServices: false)
            if tls {
                configuration.tlsCertificate = "/etc/chat/cert.pem"
                configuration.tlsKey = "/etc/chat/key.pem"
            }
            return Banner(configuration: configuration, port: 9191, nodeId: "n", secretCreated: false, networkAddresses: ["10.0.0.5"]).text
        }
        let warning = "  warning: no TLS: nick tokens and messages cross the network in clear; give --tls-cert and --tls-key to serve https://"
        for host in ["0.0.0.0", "10.0.0.5", "::", "chat.example"] {
            #expect(banner(host: host).contains("\n" + warning + "\n"), "\(host)")
        }
        for host in ["127.0.0.1", "127.0.0.2", "localhost", "::1"] {
            #expect(!banner(host: host).contains("in clear"), "\(host)")
        }
        let secure = banner(host: "0.0.0.0", tls: true)
        #expect(!secure.contains("in clear"))
        #expect(secure.contains("Open https://127.0.0.1:9191/ in a browser."))
        #expect(secure.contains("others open https://10.0.0.5:9191/"))
        #expect(secure.contains("  TLS:     https:// and wss:// with the certificate /etc/chat/cert.pem"))
    }

    /// A client text frame (masked, as RFC 6455 requires of clients); short payloads only.
    static func maskedTextFrame(_ text: String) -> [UInt8] {
        let payload = Array(text.utf8)
        precondition(payload.count < 126)
        let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        return [0x81, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }
}

/// A TLS client on SwiftNIO that trusts one certificate (full verification, host name
/// `localhost`) and collects what the server sends.
final class TLSTestClient: Sendable {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let context: NIOSSLContext

    init(trusting certificate: String) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificate))
        configuration.certificateVerification = .fullVerification
        context = try NIOSSLContext(configuration: configuration)
    }

    func shutdown() {
        try? group.syncShutdownGracefully()
    }

    /// A connection to 127.0.0.1:`port`, verified as `localhost`.
    func connect(port: Int) async throws -> Connection {
        let received = Received()
        let context = self.context
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: "localhost"))
                    try channel.pipeline.syncOperations.addHandler(Collector(received: received))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return Connection(channel: channel, received: received)
    }

    /// Sends `request` on a new connection and waits until `done` holds for what came back.
    func exchange(port: Int, send request: String, until done: @escaping @Sendable ((bytes: [UInt8], closed: Bool)) -> Bool) async throws -> (
        bytes: [UInt8], closed: Bool
    ) {
        let connection = try await connect(port: port)
        try await connection.send(Array(request.utf8))
        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            let state = connection.received.snapshot
            if done(state) { return state }
            guard ContinuousClock.now < deadline else {
                throw TestSocketError("no complete answer over TLS: \(String(decoding: state.bytes.prefix(300), as: UTF8.self))")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    final class Received: Sendable {
        private let state = Mutex<(bytes: [UInt8], closed: Bool, error: String?)>(([], false, nil))
        var snapshot: (bytes: [UInt8], closed: Bool) { state.withLock { ($0.bytes, $0.closed) } }
        var error: String? { state.withLock { $0.error } }
        func append(_ buffer: ByteBuffer) { state.withLock { $0.bytes += buffer.readableBytesView } }
        func close() { state.withLock { $0.closed = true } }
        func fail(_ error: any Error) { state.withLock { $0.error = "\(error)" } }
    }

    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received: Received
        init(received: Received) { self.received = received }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { received.append(unwrapInboundIn(data)) }
        func channelInactive(context: ChannelHandlerContext) { received.close() }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            received.fail(error)
            context.close(promise: nil)
        }
    }

    struct Connection {
        let channel: any Channel
        let received: Received

        func send(_ bytes: [UInt8]) async throws {
            try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
        }

        /// What came so far, once `done` holds for it (bounded wait).
        func waitFor(_ done: @escaping @Sendable ([UInt8]) -> Bool) async throws -> [UInt8] {
            let deadline = ContinuousClock.now + .seconds(15)
            while true {
                let bytes = received.snapshot.bytes
                if done(bytes) { return bytes }
                guard ContinuousClock.now < deadline else {
                    throw TestSocketError("not seen over TLS (error: \(received.error ?? "none")): \(String(decoding: bytes.prefix(300), as: UTF8.self))")
                }
                try await Task.sleep(for: .milliseconds(10))
            }
        }

        func close() async {
            try? await channel.close()
        }
    }
}

import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import SockJS
import Synchronization

/// `SockJSBench`: fan-out benchmark. Starts a SockJS server in a child process, connects
/// `--sessions` websocket sessions from a SwiftNIO load client in this process, has the server
/// broadcast bursts of messages to all of them, and reports deliveries per second and the
/// server's CPU time (getrusage of the server process) per delivered frame.
@main
struct SockJSBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "SockJSBench",
        abstract: "Fan-out benchmark: one SockJS server process, N websocket sessions, broadcast bursts.",
        subcommands: [Run.self, Server.self],
        defaultSubcommand: Run.self
    )
}

extension SockJSBench {
    /// The load client (default): spawns the server, connects, measures.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the benchmark (default).")

        @Option(help: "Websocket sessions to fan out to.")
        var sessions: Int = 1000

        @Option(help: "Broadcasts per measured round.")
        var burst: Int = 200

        @Option(help: "Measured rounds (after one warm-up round).")
        var rounds: Int = 5

        @Option(help: "Message size in bytes.")
        var size: Int = 64

        @Option(help: "Event loop threads of the load client.")
        var clientThreads: Int = 1

        @Option(
            help: "Microseconds the server waits between broadcasts of a burst (0: back to back, flushes coalesce; >0: every broadcast flushes on its own).")
        var gap: Int = 0

        func run() async throws {
            let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
            let process = Process()
            process.executableURL = URL(fileURLWithPath: exe)
            process.arguments = ["server", "--port", "0"]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            defer {
                if process.isRunning {
                    kill(process.processIdentifier, SIGTERM)
                    process.waitUntilExit()
                }
            }
            guard let port = readPort(pipe.fileHandleForReading) else {
                throw ValidationError("The benchmark server did not start; run `SockJSBench server --port 0` to see why.")
            }
            print(
                "server pid \(process.processIdentifier) on 127.0.0.1:\(port); \(sessions) websocket sessions, bursts of \(burst) × \(size)-byte messages, \(gap) µs apart"
            )

            let pid = process.processIdentifier
            let rssBefore = residentKiB(pid: pid)
            let group = MultiThreadedEventLoopGroup(numberOfThreads: clientThreads)
            let counters = BenchCounters()
            var channels: [any Channel] = []
            for i in 0..<sessions {
                let channel = try await ClientBootstrap(group: group)
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(BenchClientHandler(counters: counters, path: "/bench/0/\(i)/websocket"))
                        }
                    }
                    .connect(host: "127.0.0.1", port: port).get()
                channels.append(channel)
            }
            let opened = await waitFor(seconds: 30) { counters.opened.load(ordering: .relaxed) >= sessions }
            guard opened else {
                throw ValidationError("Only \(counters.opened.load(ordering: .relaxed)) of \(sessions) sessions opened within 30 s.")
            }
            try await Task.sleep(for: .milliseconds(500))
            let rssOpen = residentKiB(pid: pid)
            print(
                "all \(sessions) sessions open; server RSS \(rssBefore) KiB before, \(rssOpen) KiB with them: \(fmt(Double(rssOpen - rssBefore) / Double(sessions), 1)) KiB per idle session"
            )
            print("")
            print("| round | deliveries | seconds | deliveries/s | server CPU µs/delivery |")
            print("|---|---|---|---|---|")
            var totalDeliveries = 0
            var totalSeconds = 0.0
            var totalCPU = 0.0
            for round in 0...rounds {
                let expected = counters.messages.load(ordering: .relaxed) + sessions * burst
                let cpuBefore = try await serverCPU(port: port, group: group)
                let start = ContinuousClock.now
                _ = try await httpGet(port: port, path: "/fanout?count=\(burst)&size=\(size)&gap=\(gap)", group: group)
                let done = await waitFor(seconds: 120) { counters.messages.load(ordering: .relaxed) >= expected }
                let elapsed = ContinuousClock.now - start
                let cpuAfter = try await serverCPU(port: port, group: group)
                guard done else {
                    throw ValidationError("Round \(round): only \(counters.messages.load(ordering: .relaxed)) of \(expected) deliveries arrived within 120 s.")
                }
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                let deliveries = sessions * burst
                let cpu = cpuAfter - cpuBefore
                let label = round == 0 ? "warm-up" : "\(round)"
                print("| \(label) | \(deliveries) | \(fmt(seconds, 3)) | \(Int(Double(deliveries) / seconds)) | \(fmt(cpu / Double(deliveries), 2)) |")
                if round > 0 {
                    totalDeliveries += deliveries
                    totalSeconds += seconds
                    totalCPU += cpu
                }
            }
            print("")
            print(
                "total: \(totalDeliveries) deliveries in \(fmt(totalSeconds, 3)) s = \(Int(Double(totalDeliveries) / totalSeconds)) deliveries/s; server CPU \(fmt(totalCPU / Double(totalDeliveries), 2)) µs per delivery; closed sessions: \(counters.closed.load(ordering: .relaxed))"
            )
            for c in channels { c.close(promise: nil) }
            try await group.shutdownGracefully()
        }

        private func fmt(_ v: Double, _ digits: Int) -> String {
            String(format: "%.\(digits)f", v)
        }

        /// VmRSS of process `pid` in KiB (0 if unreadable).
        private func residentKiB(pid: Int32) -> Int {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
            for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
                return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
            }
            return 0
        }

        private func readPort(_ handle: FileHandle) -> Int? {
            var line = Data()
            while true {
                let byte = handle.readData(ofLength: 1)
                if byte.isEmpty { return nil }
                if byte[0] == UInt8(ascii: "\n") { break }
                line.append(byte)
            }
            let text = String(decoding: line, as: UTF8.self)
            return text.split(separator: " ").last.flatMap { Int($0) }
        }

        private func serverCPU(port: Int, group: any EventLoopGroup) async throws -> Double {
            let body = try await httpGet(port: port, path: "/stats", group: group)
            return Double(body.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }

        private func waitFor(seconds: Double, _ condition: () -> Bool) async -> Bool {
            let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            while ContinuousClock.now < deadline {
                if condition() { return true }
                try? await Task.sleep(for: .milliseconds(1))
            }
            return condition()
        }
    }

    /// The server side, run as a child process by `run`.
    struct Server: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "server", abstract: "The benchmark's server process.")

        @Option(help: "Port to listen on (0: any; printed on stdout).")
        var port: Int = 0

        func run() async throws {
            var logger = Logger(label: "sockjs-bench")
            logger.logLevel = .warning
            let server = SockJSServer(
                configuration: .init {
                    $0.port = port
                    $0.logger = logger
                })
            let service = BenchService()
            server.mount("/bench", service: service)
            server.route("/stats") { _ in
                var usage = rusage()
                getrusage(RUSAGE_SELF.rawValue, &usage)
                let micros =
                    Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6
                    + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
                return SockJSHTTPResponse(status: 200, text: "\(micros)\n")
            }
            server.route("/fanout") { request in
                let count = Int(request.head.queryParameter("count") ?? "") ?? 1
                let size = Int(request.head.queryParameter("size") ?? "") ?? 64
                let gap = Int(request.head.queryParameter("gap") ?? "") ?? 0
                let sessions = service.snapshot()
                let body = String(repeating: "x", count: max(0, size - 8))
                for i in 0..<count {
                    SockJSServer.broadcast(SockJSPreparedMessage("\(100_000_00 + i)\(body)"), to: sessions)
                    if gap > 0 { try? await Task.sleep(for: .microseconds(gap)) }
                }
                return SockJSHTTPResponse(status: 200, text: "\(count)\n")
            }
            let bound = try await server.start()
            print("listening on \(bound)")
            fflush(nil)
            while true {
                try await Task.sleep(for: .seconds(3600))
            }
        }
    }
}

/// Keeps the open sessions for broadcasting.
final class BenchService: SockJSService {
    private let sessions = Mutex<Set<SockJSSession>>([])
    func snapshot() -> [SockJSSession] { sessions.withLock { Array($0) } }
    func sessionOpened(_ session: SockJSSession) { _ = sessions.withLock { $0.insert(session) } }
    func session(_ session: SockJSSession, received message: String) {}
    func sessionClosed(_ session: SockJSSession, reason: SockJSCloseReason) { _ = sessions.withLock { $0.remove(session) } }
}

/// What the load client counted.
final class BenchCounters: Sendable {
    let opened = Atomic<Int>(0)
    let messages = Atomic<Int>(0)
    let closed = Atomic<Int>(0)
}

/// One websocket client: sends the upgrade, then counts SockJS frames (messages in `a[...]`).
final class BenchClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let counters: BenchCounters
    let path: String
    private var buffer = ByteBuffer()
    private var upgraded = false

    init(counters: BenchCounters, path: String) {
        self.counters = counters
        self.path = path
    }

    func channelActive(context: ChannelHandlerContext) {
        let request =
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: request)), promise: nil)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        counters.closed.add(1, ordering: .relaxed)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        if !upgraded {
            let view = buffer.readableBytesView
            guard let end = view.firstRange(of: [13, 10, 13, 10]) else { return }
            buffer.moveReaderIndex(forwardBy: end.upperBound - view.startIndex)
            upgraded = true
        }
        var messages = 0
        while buffer.readableBytes >= 2 {
            let start = buffer.readerIndex
            let b1: UInt8 = buffer.getInteger(at: start + 1)!
            var length = Int(b1 & 0x7F)
            var offset = 2
            if length == 126 {
                guard let l: UInt16 = buffer.getInteger(at: start + 2) else { break }
                length = Int(l)
                offset = 4
            } else if length == 127 {
                guard let l: UInt64 = buffer.getInteger(at: start + 2) else { break }
                length = Int(l)
                offset = 10
            }
            guard buffer.readableBytes >= offset + length else { break }
            if length > 0, let kind: UInt8 = buffer.getInteger(at: start + offset) {
                switch kind {
                case UInt8(ascii: "o"):
                    counters.opened.add(1, ordering: .relaxed)
                case UInt8(ascii: "a"):
                    let payload = buffer.getSlice(at: start + offset, length: length)!
                    messages += 1 + payload.readableBytesView.reduce(0) { $0 + ($1 == UInt8(ascii: ",") ? 1 : 0) }
                default:
                    break
                }
            }
            buffer.moveReaderIndex(forwardBy: offset + length)
        }
        if messages > 0 { counters.messages.add(messages, ordering: .relaxed) }
        if buffer.readerIndex > 65536 { buffer.discardReadBytes() }
    }
}

/// A one-shot HTTP/1.1 GET (Connection: close) returning the body.
func httpGet(port: Int, path: String, group: any EventLoopGroup) async throws -> String {
    let collected = HTTPCollected()
    let channel = try await ClientBootstrap(group: group)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(HTTPCollectHandler(collected))
            }
        }
        .connect(host: "127.0.0.1", port: port).get()
    try await channel.writeAndFlush(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
    try await channel.closeFuture.get()
    let text = collected.text
    guard let split = text.range(of: "\r\n\r\n") else { return "" }
    return String(text[split.upperBound...])
}

final class HTTPCollected: Sendable {
    private let bytes = Mutex<[UInt8]>([])
    func append(_ b: ByteBuffer) { bytes.withLock { $0 += b.readableBytesView } }
    var text: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }
}

final class HTTPCollectHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let collected: HTTPCollected
    init(_ collected: HTTPCollected) { self.collected = collected }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        collected.append(unwrapInboundIn(data))
    }
}

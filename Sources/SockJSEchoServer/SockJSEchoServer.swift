import ArgumentParser
import Dispatch
import Logging
import NIOCore
import SockJS
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `sockjs-echo-server`: the four standard SockJS test services on one port, for the official
/// conformance suite, the sockjs-client tests and the benchmark.
@main
struct SockJSEchoServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sockjs-echo-server",
        abstract: "Serve the SockJS protocol test services (/echo, /close, /disabled_websocket_echo, /cookie_needed_echo)."
    )

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one; the chosen port is printed).")
    var port: Int = 8081

    @Option(help: "Seconds between heartbeat frames on idle receiving connections.")
    var heartbeat: Double = 25

    @Option(help: "Seconds a session lives without a receiving connection.")
    var disconnectDelay: Double = 5

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "warning"

    func run() async throws {
        var logger = Logger(label: "sockjs-echo-server")
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("Unknown log level '\(logLevel)'; use one of trace, debug, info, notice, warning, error, critical.")
        }
        logger.logLevel = level
        guard heartbeat > 0, disconnectDelay > 0 else {
            throw ValidationError("--heartbeat and --disconnect-delay must be positive numbers of seconds.")
        }
        let server = SockJSServer(
            configuration: .init {
                $0.host = host
                $0.port = port
                $0.logger = logger
            })
        var base = SockJSOptions()
        base.heartbeatInterval = .nanoseconds(Int64(heartbeat * 1e9))
        base.disconnectDelay = .nanoseconds(Int64(disconnectDelay * 1e9))
        base.sockjsURL = "/sockjs.min.js"
        SockJSTestServices.mount(on: server, base: base)
        server.route("/") { _ in SockJSHTTPResponse(status: 200, text: "sockjs-echo-server: /echo /close /disabled_websocket_echo /cookie_needed_echo\n") }
        let bound: Int
        do {
            bound = try await server.start()
        } catch {
            print("error: \(error)")
            throw ExitCode(1)
        }
        print("sockjs-echo-server listening on http://\(host):\(bound)")
        fflush(nil)
        await SignalWaiter.wait()
        await server.shutdown()
    }
}

/// Waits for SIGINT or SIGTERM.
enum SignalWaiter {
    static func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let once = OnceContinuation(continuation)
            var sources: [any DispatchSourceSignal] = []
            for sig in [SIGINT, SIGTERM] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { once.resume() }
                source.resume()
                sources.append(source)
            }
            SignalSources.keep(sources)
        }
    }
}

/// Resumes a continuation at most once.
final class OnceContinuation: Sendable {
    private let continuation: Mutex<CheckedContinuation<Void, Never>?>
    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = Mutex(continuation) }
    func resume() {
        continuation.withLock { c in
            c?.resume()
            c = nil
        }
    }
}

/// Keeps the signal sources alive for the life of the process.
///
/// `nonisolated(unsafe)`: `sources` is only appended to under `lock` and never read; it just keeps the sources alive.
enum SignalSources {
    private static let lock = Mutex<Int>(0)
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
    static func keep(_ newSources: [any DispatchSourceSignal]) {
        lock.withLock { _ in sources += newSources }
    }
}

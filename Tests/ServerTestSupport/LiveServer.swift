import Foundation

/// A server process that a test started and that answers on `port`: the built `rabbitChat`
/// (`start(_:readiness:timeout:)`), or any server executable told its port
/// (`start(executable:arguments:environment:port:readiness:timeout:)`).
///
/// `start` returns once the server is ready, or throws `ServerDidNotStart` with what the
/// process wrote (after stopping it). Stop it with `stop()` (or `stopBlocking()` in a `defer`);
/// a server dropped while still running is killed, and its temporary folder removed.
public final class LiveServer: Sendable {
    /// When a started server counts as ready.
    public enum Readiness: Sendable {
        /// It accepts TCP connections on its port.
        case accepting
        /// `GET /healthz` answers 200 (for `rabbitChat`: its broker is connected, so a join
        /// is welcomed rather than answered `unavailable`).
        case healthy
    }

    /// The process, for its output, exit status and signals.
    public let process: ServerProcess
    /// The loopback port it listens on.
    public let port: Int
    private let folder: TemporaryFolder?

    private init(process: ServerProcess, port: Int, folder: TemporaryFolder?) {
        self.process = process
        self.port = port
        self.folder = folder
    }

    deinit {
        folder?.remove()
    }

    /// Starts the built `rabbitChat` on a port of its choosing (`--port 0`, read from its
    /// banner) with its own secret file in a temporary folder, `--log-level warning`, and the
    /// in-process broker unless `arguments` name one; returns once it is `readiness`-ready.
    public static func start(
        _ arguments: [String] = [],
        readiness: Readiness = .healthy,
        timeout: Duration = .seconds(60)
    ) async throws -> LiveServer {
        let deadline = ContinuousClock.now + timeout
        let folder = TemporaryFolder()
        let process: ServerProcess
        do {
            process = try ServerProcess(["--port", "0", "--secret-file", folder.path + "/secret", "--log-level", "warning"] + arguments)
        } catch {
            folder.remove()
            throw error
        }
        guard let port = await process.waitForPort(timeout: timeout) else {
            await process.stop(grace: .seconds(2))
            throw ServerDidNotStart(
                "rabbitChat printed no URL (\(process.exitReason.map { "\($0)" } ?? "still running")); it wrote: \(ServerDidNotStart.excerpt(process.output.combined))"
            )
        }
        let server = LiveServer(process: process, port: port, folder: folder)
        try await server.waitUntilReady(readiness, timeout: deadline - ContinuousClock.now)
        return server
    }

    /// Starts `executable` with `arguments` that tell it to listen on `port` (see `FreePort`);
    /// returns once it is `readiness`-ready.
    public static func start(
        executable: String,
        arguments: [String],
        environment: [String: String?] = [:],
        port: Int,
        readiness: Readiness = .accepting,
        timeout: Duration = .seconds(20)
    ) async throws -> LiveServer {
        let process = try ServerProcess(executable: executable, arguments: arguments, environment: environment)
        let server = LiveServer(process: process, port: port, folder: nil)
        try await server.waitUntilReady(readiness, timeout: timeout)
        return server
    }

    private func waitUntilReady(_ readiness: Readiness, timeout: Duration) async throws {
        let port = self.port
        do {
            switch readiness {
            case .accepting:
                try await process.waitUntil(timeout: timeout, "accepting connections on port \(port)") {
                    TestSocket.accepts(port: port)
                }
            case .healthy:
                try await process.waitUntil(timeout: timeout, "/healthz answering 200 on port \(port)") {
                    (try? TestHTTP.request(port: port, path: "/healthz"))?.status == 200
                }
            }
        } catch {
            await process.stop(grace: .seconds(2))
            throw error
        }
    }

    /// Its PID.
    public var pid: Int32 { process.pid }
    /// Whether it still runs.
    public var isRunning: Bool { process.isRunning }
    /// What it wrote so far on standard output and error (banner, warnings), interleaved.
    public var log: String { process.output.combined }

    /// `http://127.0.0.1:<port><path>`.
    public func url(_ path: String = "") -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Stops it by its PID (SIGTERM, SIGKILL after `grace`); returns the exit status.
    @discardableResult
    public func stop(grace: Duration = .seconds(30)) async -> Int32? {
        await process.stop(grace: grace)
    }

    /// `stop(grace:)` for a `defer` block: the calling thread sleeps while it waits.
    @discardableResult
    public func stopBlocking(grace: Duration = .seconds(30)) -> Int32? {
        process.stopBlocking(grace: grace)
    }
}

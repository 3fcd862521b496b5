import Foundation
import NIOCore
import NIOPosix
import Synchronization

@testable import ChatClient

/// A real server started on a free loopback port for one test and stopped by its PID: a SockJS
/// server with the standard test services (`/echo`, `/close`), either sockjs-node (Debian's
/// node-sockjs, an independent implementation) or the project's own `sockjs-echo-server`; or
/// the chat server `rabbitChat` (in-process broker). The project's binaries are the ones
/// `swift build` put next to the tests.
final class TestServer: Sendable {
    enum Kind: String, CaseIterable, Sendable, CustomStringConvertible {
        case reference = "sockjs-node"
        case project = "sockjs-echo-server"
        case rabbitChat

        /// The two SockJS echo servers.
        static let echoServers: [Kind] = [.reference, .project]

        var description: String { rawValue }
    }

    let port: Int
    private let process: Process

    /// The sockjs-node script beside this file.
    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("sockjs-node-echo.js").path
    }

    /// A product of this package, next to the test binary (or in a folder above it).
    static func builtBinary(_ name: String) -> String {
        let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: testBinary).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path),
            directory.path != "/"
        {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent(name).path
    }

    /// Starts a server; `heartbeat` (seconds) only applies to `sockjs-echo-server`.
    init(_ kind: Kind = .reference, heartbeat: Double? = nil) async throws {
        let port = try await Self.freePort()
        let process = Process()
        switch kind {
        case .reference:
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["node", Self.script, String(port)]
            var environment = ProcessInfo.processInfo.environment
            environment["NODE_PATH"] = "/usr/share/nodejs"
            process.environment = environment
        case .project, .rabbitChat:
            let binary = Self.builtBinary(kind == .project ? "sockjs-echo-server" : "rabbitChat")
            guard FileManager.default.isExecutableFile(atPath: binary) else {
                throw ServerDidNotStart(reason: "there is no \(binary): run `swift build` first")
            }
            process.executableURL = URL(fileURLWithPath: binary)
            if kind == .project {
                process.arguments = ["--port", String(port)] + (heartbeat.map { ["--heartbeat", String($0)] } ?? [])
            } else {
                let secret = FileManager.default.temporaryDirectory.appendingPathComponent("chatclient-test-secret-\(port)").path
                process.arguments = ["--port", String(port), "--secret-file", secret, "--log-level", "warning"]
            }
        }
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.port = port
        self.process = process
        try await waitUntilReady(kind)
    }

    /// Stops the server by its PID and waits for it to exit.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning, Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    func url(_ prefix: String) -> String { "http://127.0.0.1:\(port)\(prefix)" }

    /// Until it accepts connections, and for rabbitChat until `/healthz` says its broker is connected.
    private func waitUntilReady(_ kind: Kind) async throws {
        let endpoint = SockJSEndpoint(host: "127.0.0.1", port: port, prefix: "/")
        for _ in 0..<400 {
            if !process.isRunning { throw ServerDidNotStart(reason: "it exited with \(process.terminationStatus)") }
            if kind == .rabbitChat {
                let outcome = try await HTTPStatusProbe.get("/healthz", at: endpoint, on: MultiThreadedEventLoopGroup.singleton.next()).get()
                if outcome == .status(200) { return }
            } else if (try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port).get().close()) != nil
            {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        stop()
        throw ServerDidNotStart(reason: "nothing listened on port \(port) after 20 s")
    }

    /// A port that was free a moment ago (bind to 0, read it, close).
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }

    struct ServerDidNotStart: Error, CustomStringConvertible {
        var reason: String
        var description: String { "The test server did not start: \(reason)." }
    }
}

/// Collects a client's events so a test can wait for them, with a bounded wait.
final class EventRecorder: Sendable {
    private let events = Mutex<[ChatClientTestEvent]>([])

    func record(_ event: ChatClientTestEvent) {
        events.withLock { $0.append(event) }
    }

    var all: [ChatClientTestEvent] { events.withLock { $0 } }

    /// Waits (at most `timeout`) until `condition` holds for the events so far; returns them.
    @discardableResult
    func wait(
        timeout: Duration = .seconds(10),
        until condition: ([ChatClientTestEvent]) -> Bool
    ) async throws -> [ChatClientTestEvent] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let snapshot = all
            if condition(snapshot) { return snapshot }
            try await Task.sleep(for: .milliseconds(5))
        }
        return all
    }
}

typealias ChatClientTestEvent = ChatClient.SockJSClientEvent


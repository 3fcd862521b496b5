import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A real SockJS server with the standard test services (`/echo`, `/close`), started on a free
/// loopback port for one test and stopped by its PID: the reference sockjs-node server (Debian's
/// node-sockjs, as the conformance suite calibrates it) or the project's own
/// `sockjs-echo-server` (built next to the tests by `swift build`).
final class EchoServerProcess: Sendable {
    enum Kind: String, CaseIterable, Sendable, CustomStringConvertible {
        case reference = "sockjs-node"
        case project = "sockjs-echo-server"

        var description: String { rawValue }
    }

    let port: Int
    private let process: Process

    /// The sockjs-node script beside this file.
    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("sockjs-node-echo.js").path
    }

    /// `sockjs-echo-server` next to the test binary.
    static var projectBinary: String {
        let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: testBinary).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("sockjs-echo-server").path),
            directory.path != "/"
        {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("sockjs-echo-server").path
    }

    /// Starts a server; `heartbeat` (seconds) only applies to the project's server.
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
        case .project:
            guard FileManager.default.isExecutableFile(atPath: Self.projectBinary) else {
                throw ServerDidNotStart(reason: "there is no \(Self.projectBinary): run `swift build` first")
            }
            process.executableURL = URL(fileURLWithPath: Self.projectBinary)
            process.arguments = ["--port", String(port)] + (heartbeat.map { ["--heartbeat", String($0)] } ?? [])
        }
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.port = port
        self.process = process
        try await waitUntilListening()
    }

    /// Stops the server by its PID and waits for it to exit.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }

    func url(_ prefix: String) -> String { "http://127.0.0.1:\(port)\(prefix)" }

    private func waitUntilListening() async throws {
        for _ in 0..<200 {
            if !process.isRunning { throw ServerDidNotStart(reason: "it exited with \(process.terminationStatus)") }
            if (try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port).get().close()) != nil
            {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        stop()
        throw ServerDidNotStart(reason: "nothing listened on port \(port) after 10 s")
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
        var description: String { "The SockJS echo server did not start: \(reason)." }
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

import ChatClient

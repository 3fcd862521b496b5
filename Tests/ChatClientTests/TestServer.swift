import Foundation
import ServerTestSupport
import Synchronization

@testable import ChatClient

/// The real servers the client tests run against, each started on a free loopback port for one
/// test by `start` and stopped by its PID: a SockJS server with the standard test services
/// (`/echo`, `/close`), either sockjs-node (Debian's node-sockjs, an independent implementation)
/// or the project's own `sockjs-echo-server`; or the chat server `rabbitChat` (in-process broker).
/// The project's binaries are the ones `swift build` put next to the tests.
enum TestServer: String, CaseIterable, Sendable, CustomStringConvertible {
    case reference = "sockjs-node"
    case project = "sockjs-echo-server"
    case rabbitChat

    /// The two SockJS echo servers.
    static let echoServers: [TestServer] = [.reference, .project]

    var description: String { rawValue }

    /// The sockjs-node script beside this file.
    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("sockjs-node-echo.js").path
    }

    /// Starts the server and returns once it accepts connections (`rabbitChat`: once
    /// `/healthz` says its broker is connected); `heartbeat` (seconds) only applies to
    /// `sockjs-echo-server`.
    func start(heartbeat: Double? = nil) async throws -> LiveServer {
        let timeout = Duration.seconds(20)
        switch self {
        case .rabbitChat:
            return try await LiveServer.start(readiness: .healthy, timeout: timeout)
        case .reference:
            let port = try FreePort.next()
            return try await LiveServer.start(
                executable: "/usr/bin/env",
                arguments: ["node", Self.script, String(port)],
                environment: ["NODE_PATH": "/usr/share/nodejs"],
                port: port,
                timeout: timeout
            )
        case .project:
            let port = try FreePort.next()
            return try await LiveServer.start(
                executable: BuiltProduct.path(of: "sockjs-echo-server"),
                arguments: ["--port", String(port)] + (heartbeat.map { ["--heartbeat", String($0)] } ?? []),
                port: port,
                timeout: timeout
            )
        }
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

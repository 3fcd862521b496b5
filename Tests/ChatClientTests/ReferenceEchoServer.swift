import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// The reference SockJS server (Debian's sockjs-node, as the conformance suite calibrates it),
/// started on a free loopback port for one test and stopped by its PID.
final class ReferenceEchoServer: Sendable {
    let port: Int
    private let process: Process

    static let script = "/work/shared/sockjs-protocol/reference-server.js"

    init() async throws {
        let port = try await Self.freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["node", Self.script, String(port)]
        var environment = ProcessInfo.processInfo.environment
        environment["NODE_PATH"] = "/usr/share/nodejs"
        process.environment = environment
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
            if !process.isRunning { throw ServerDidNotStart(reason: "node exited with \(process.terminationStatus)") }
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
        var description: String { "The reference SockJS server did not start: \(reason)." }
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

import ChatClient
import Foundation
import NIOCore
import NIOPosix

/// A `rabbitChat` process (in-process broker) on a free loopback port for one test, stopped by
/// its PID. The binary is the one `swift build` put next to the test bundle, or
/// `RABBITCHAT_BINARY`.
final class ChatServerProcess: Sendable {
    let port: Int
    let pid: Int32
    private let process: Process
    private let secretFile: String

    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["RABBITCHAT_BINARY"] { return path }
        let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: testBinary).deletingLastPathComponent()
        // On Linux the test binary sits in the build folder itself; elsewhere inside a bundle.
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("rabbitChat").path),
            directory.path != "/"
        {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("rabbitChat").path
    }

    init() async throws {
        let binary = Self.binary
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw Failure(description: "No rabbitChat binary at \(binary): run `swift build` first (or set RABBITCHAT_BINARY)")
        }
        let port = try await Self.freePort()
        let secretFile = FileManager.default.temporaryDirectory.appendingPathComponent("loadtester-test-secret-\(port)").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--port", String(port), "--secret-file", secretFile, "--log-level", "warning"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.port = port
        self.pid = process.processIdentifier
        self.process = process
        self.secretFile = secretFile
        try await waitUntilListening()
    }

    var url: String { "http://127.0.0.1:\(port)/chat" }

    /// Stops the server by its PID (SIGTERM, then SIGKILL after 10 s) and waits for it.
    func stop() {
        if process.isRunning {
            kill(pid, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning, Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(pid, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: secretFile)
    }

    private func waitUntilListening() async throws {
        for _ in 0..<400 {
            guard process.isRunning else { throw Failure(description: "rabbitChat exited with \(process.terminationStatus)") }
            // Ready when its broker is connected (before that, joins are answered `unavailable`).
            let outcome = try await HTTPStatusProbe.get(
                "/healthz",
                at: SockJSEndpoint(host: "127.0.0.1", port: port, prefix: "/"),
                on: MultiThreadedEventLoopGroup.singleton.next()
            ).get()
            if outcome == .status(200) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        stop()
        throw Failure(description: "rabbitChat on port \(port) was not healthy within 20 s")
    }

    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }
}

import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A `rabbitChat` process started by a test: found in the build folder, run with the given
/// arguments, its standard output and error collected, stopped by its PID (SIGKILL as a last
/// resort when a test ends with it still running).
final class ServerProcess: Sendable {
    /// Standard output and error so far; filled by Foundation's pipe handlers on their threads.
    private let output = CapturedOutput()
    private let process: Process
    let pid: Int32

    /// The built `rabbitChat`: `RABBITCHAT_BINARY`, or next to this test bundle in the build folder.
    static var binary: String {
        if let explicit = ProcessInfo.processInfo.environment["RABBITCHAT_BINARY"] { return explicit }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for _ in 0..<4 {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent("rabbitChat").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return ".build/debug/rabbitChat"
    }

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["RABBITCHAT_BROKER"] = nil
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let output = self.output
        out.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil; return }
            output.text.withLock { $0.0 += String(decoding: data, as: UTF8.self) }
        }
        err.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil; return }
            output.text.withLock { $0.1 += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
        self.process = process
        self.pid = process.processIdentifier
    }

    deinit {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    var standardOutput: String { output.text.withLock { $0.0 } }
    var standardError: String { output.text.withLock { $0.1 } }
    var isRunning: Bool { process.isRunning }

    /// Waits for the banner and returns the port it names; nil if the process ended or took too long.
    func waitForPort(timeout: Duration = .seconds(30)) async -> Int? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let match = standardOutput.firstMatch(of: /http:\/\/[0-9.]+:(\d+)\//), let port = Int(match.1) {
                return port
            }
            if !process.isRunning { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// Sends a signal to the process, by its PID.
    func signal(_ signal: Int32) {
        kill(pid, signal)
    }

    /// The exit status once the process has ended, or nil if it is still running after `timeout`.
    func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !process.isRunning {
                process.waitUntilExit()
                // Let the pipe handlers take the last bytes.
                try? await Task.sleep(for: .milliseconds(100))
                return process.terminationStatus
            }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return nil
    }

    /// Stops the process by its PID: SIGTERM, then SIGKILL if it is still there after 10 s.
    func stop() async {
        guard process.isRunning else { return }
        signal(SIGTERM)
        if await waitForExit(timeout: .seconds(10)) == nil {
            signal(SIGKILL)
            _ = await waitForExit(timeout: .seconds(5))
        }
    }
}

/// What a child process wrote: standard output and standard error.
final class CapturedOutput: Sendable {
    let text = Mutex(("", ""))
}

/// A fresh temporary folder for one test, removed by `remove()`.
struct TemporaryFolder {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "rabbitchat-test-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

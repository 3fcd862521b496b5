import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A `rabbitChat` process for one test: the built binary (`RABBITCHAT_BINARY`, or found next to
/// the test bundle), on a free port, with the in-process broker unless `arguments` name one.
/// Stopped by its PID: SIGTERM, then SIGKILL; `deinit` kills it if a test ended early.
final class LiveServer: Sendable {
    private let process: Process
    private let output: ProcessOutput
    let pid: Int32
    let port: Int
    private let folder: String

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

    struct StartFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts the server and waits (up to 60 s) until its banner names the port.
    static func start(_ arguments: [String] = []) async throws -> LiveServer {
        let folder = NSTemporaryDirectory() + "rabbitchat-faults-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--port", "0", "--secret-file", folder + "/secret", "--log-level", "warning"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["RABBITCHAT_BROKER"] = nil
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let output = ProcessOutput()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil; return }
            output.append(data)
        }
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let text = output.value
            if let match = text.firstMatch(of: /http:\/\/[0-9.]+:(\d+)\//), let port = Int(match.1) {
                return LiveServer(process: process, output: output, port: port, folder: folder)
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        throw StartFailure(description: "rabbitChat did not start: \(output.value)")
    }

    private init(process: Process, output: ProcessOutput, port: Int, folder: String) {
        self.process = process
        self.pid = process.processIdentifier
        self.port = port
        self.folder = folder
        self.output = output
    }

    /// What the server printed so far (banner, warnings).
    var log: String { output.value }

    deinit {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: folder)
    }

    var isRunning: Bool { process.isRunning }

    /// Stops the process by its PID: SIGTERM, SIGKILL after 10 s.
    func stop() async {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(25)) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    /// The value of a Prometheus sample on `/metrics` (summed over its label sets), nil if absent.
    func metric(_ name: String, labels: String? = nil) throws -> Double? {
        let response = try RawHTTP.request(port: port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        var total: Double?
        for line in response.body.split(separator: "\n") where !line.hasPrefix("#") {
            guard line.hasPrefix(name + " ") || line.hasPrefix(name + "{") else { continue }
            if let labels, !line.contains(labels) { continue }
            guard let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            total = (total ?? 0) + value
        }
        return total
    }

    /// Open file descriptors of the process (from /proc).
    var openFileDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }
}

/// A child's output so far, appended by Foundation's reader thread and read by the test.
final class ProcessOutput: Sendable {
    private let text = Mutex("")
    func append(_ data: Data) { text.withLock { $0 += String(decoding: data, as: UTF8.self) } }
    var value: String { text.withLock { $0 } }
}

import Foundation
import Synchronization

/// Runs a short command (`rabbitmqctl`, `openssl`) to its end without blocking a thread of
/// Swift's cooperative pool: the process is started, read and awaited on threads of its own,
/// and the caller is resumed when it has exited. The pool has one thread per core (two here),
/// so a test that sat in `waitUntilExit()` for a slow command would stall every other test of
/// the run.
public enum ChildProcess {
    public struct Result: Sendable {
        public let status: Int32
        public let output: String
        public let errorOutput: String
    }

    /// Starts `executable` with `arguments` (and `environment`, else this process's), collects
    /// its standard output and error, and returns once it has exited.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
                if let environment { process.environment = environment }
                let output = Pipe()
                let errors = Pipe()
                process.standardOutput = output
                process.standardError = errors
                do {
                    try process.run()
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
                // Standard error is drained on a second thread so that neither pipe can fill
                // up while the other is read.
                let errorData = Collected()
                let errorReader = Thread {
                    errorData.set(errors.fileHandleForReading.readDataToEndOfFile())
                }
                errorReader.start()
                let outputData = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                let errorText = errorData.waitForValue()
                continuation.resume(
                    returning: Result(
                        status: process.terminationStatus,
                        output: String(decoding: outputData, as: UTF8.self),
                        errorOutput: String(decoding: errorText, as: UTF8.self)))
            }
            thread.start()
        }
    }

    /// One `Data` handed from the error reader's thread to the runner's thread.
    private final class Collected: Sendable {
        private let value = Mutex<Data?>(nil)
        private let ready = DispatchSemaphore(value: 0)

        func set(_ data: Data) {
            value.withLock { $0 = data }
            ready.signal()
        }

        /// Blocks the runner's own thread (never a pool thread) until `set` has run.
        func waitForValue() -> Data {
            ready.wait()
            return value.withLock { $0 ?? Data() }
        }
    }
}

import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A process that a test started: an executable with its arguments and environment, standard
/// output and error captured (`CapturedOutput`), signalled and stopped by its PID, never by name.
///
/// Every wait is bounded by a timeout, so a test that meets a hung or crashed child fails
/// instead of hanging. When the object goes away with the child still running (a test that
/// threw early), the child is killed with SIGKILL, so no test leaves a process behind.
///
/// Usually a test starts the built `rabbitChat` with `ServerProcess(arguments)`, or a ready
/// server on a port with `LiveServer.start`.
public final class ServerProcess: Sendable {
    /// How the child ended.
    public enum Exit: Sendable, Equatable, CustomStringConvertible {
        /// It exited with this status.
        case exited(Int32)
        /// This signal ended it.
        case killed(signal: Int32)

        /// The exit status, or the signal number when a signal ended it (as Foundation reports it).
        public var status: Int32 {
            switch self {
            case .exited(let status): status
            case .killed(let signal): signal
            }
        }

        public var description: String {
            switch self {
            case .exited(let status): "exited with status \(status)"
            case .killed(let signal): "killed by signal \(signal)"
            }
        }
    }

    /// The child's process id: what `signal(_:)` and `stop()` address.
    public let pid: Int32
    /// The path that was run.
    public let executable: String
    /// What the child wrote so far.
    public let output: CapturedOutput
    private let process: Process
    private let exit: ExitRecord
    /// A folder removed when this object goes (the private data home of a `rabbitChat`).
    private let ownedFolder = Mutex<TemporaryFolder?>(nil)

    /// Runs `executable` with `arguments`. The child inherits this process's environment with
    /// `environment` applied on top: a value sets a variable, `nil` removes it. Standard input
    /// is empty; standard output and error are captured.
    public init(executable: String, arguments: [String], environment: [String: String?] = [:]) throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ServerDidNotStart("there is no executable at \(executable): run `swift build` first")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var inherited = ProcessInfo.processInfo.environment
        for (name, value) in environment { inherited[name] = value }
        process.environment = inherited
        process.standardInput = FileHandle.nullDevice
        let output = CapturedOutput()
        process.standardOutput = Self.capture(.standardOutput, into: output)
        process.standardError = Self.capture(.standardError, into: output)
        let exit = ExitRecord()
        process.terminationHandler = { ended in
            let status = ended.terminationStatus
            let reason: Exit = ended.terminationReason == .uncaughtSignal ? .killed(signal: status) : .exited(status)
            exit.value.withLock { $0 = reason }
        }
        try Self.withSignalsUnblocked { try process.run() }
        self.process = process
        self.pid = process.processIdentifier
        self.executable = executable
        self.output = output
        self.exit = exit
    }

    /// Runs the built `rabbitChat` (`BuiltProduct.rabbitChat`) with `arguments`.
    /// `RABBITCHAT_BROKER` is removed from the inherited environment, so the server uses the
    /// in-process broker unless `arguments` or `environment` name one. Unless `environment`
    /// sets `XDG_DATA_HOME`, it points at a fresh temporary folder (removed with this object),
    /// so the built-in broker's default data directory is private to this process: tests stay
    /// hermetic while running the durable default.
    public convenience init(_ arguments: [String], environment: [String: String?] = [:]) throws {
        var overrides: [String: String?] = ["RABBITCHAT_BROKER": nil]
        var folder: TemporaryFolder?
        if environment["XDG_DATA_HOME"] == nil {
            let made = TemporaryFolder(prefix: "rabbitchat-data-")
            overrides["XDG_DATA_HOME"] = made.path
            folder = made
        }
        for (name, value) in environment { overrides[name] = value }
        do {
            try self.init(executable: BuiltProduct.rabbitChat, arguments: arguments, environment: overrides)
        } catch {
            folder?.remove()
            throw error
        }
        ownedFolder.withLock { $0 = folder }
    }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
        ownedFolder.withLock { $0?.remove() }
    }

    /// Runs `body` (which spawns the child) with SIGTERM and SIGINT unblocked on the calling
    /// thread, then restores the thread's mask. A child starts with the signal mask of the
    /// thread that spawned it, and Dispatch's worker threads, which run test tasks, block
    /// SIGTERM and most other signals: without this, a child that does not reset its mask
    /// would never see the SIGTERM of `stop()` and would only end by SIGKILL. Only the two
    /// signals that `stop()` and tests send are unblocked (nobody sends them to the test
    /// process itself); every other signal stays as Dispatch set it up.
    private static func withSignalsUnblocked<T>(_ body: () throws -> T) rethrows -> T {
        var stopSignals = sigset_t()
        var saved = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        return try body()
    }

    /// A pipe whose read end a dedicated thread drains with blocking reads until end of file.
    /// Not `FileHandle.readabilityHandler`: on Linux its Dispatch read source can outlive the
    /// descriptor it watches and crash Dispatch's event loop (seen as
    /// `_dispatch_event_loop_drain` faults in full test runs that start many children).
    private static func capture(_ stream: CapturedOutput.Stream, into output: CapturedOutput) -> Pipe {
        let pipe = Pipe()
        let reader = pipe.fileHandleForReading
        let thread = Thread {
            let fd = reader.fileDescriptor
            var chunk = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    output.append(Data(chunk[0..<count]), from: stream)
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            output.finish(stream)
            // The read end stays open until the pipe object goes: `reader` is captured here.
            _ = reader
        }
        thread.name = "capture"
        thread.start()
        return pipe
    }

    /// Whether the child has not ended yet.
    public var isRunning: Bool { exit.value.withLock { $0 == nil } }

    /// How the child ended; nil while it runs.
    public var exitReason: Exit? { exit.value.withLock { $0 } }

    /// Standard output so far.
    public var standardOutput: String { output.standardOutput }
    /// Standard error so far.
    public var standardError: String { output.standardError }

    /// Sends `signal` to the child by its PID; does nothing once it has ended (its PID may
    /// already belong to another process).
    public func signal(_ signal: Int32) {
        exit.value.withLock { ended in
            if ended == nil { _ = kill(pid, signal) }
        }
    }
}

/// How the child ended, set by Foundation's termination handler on its thread and read by the
/// test; a class so the handler closure can hold it.
private final class ExitRecord: Sendable {
    let value = Mutex<ServerProcess.Exit?>(nil)
}

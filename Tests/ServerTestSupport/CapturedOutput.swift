import Foundation
import Synchronization

/// What a child process wrote on standard output and standard error, appended by Foundation's
/// pipe reader threads and read by the test at any time.
///
/// Bounded: each of the three views (output, error, both interleaved) keeps its first
/// `limit` bytes; later bytes are dropped and counted in `droppedBytes`. The start is what
/// tests look for (the banner, the first error), so that is what survives a flood of logs.
public final class CapturedOutput: Sendable {
    /// The stream a chunk came from.
    public enum Stream: Sendable {
        case standardOutput, standardError
    }

    /// How many bytes each view keeps.
    public let limit: Int

    private struct State {
        var standardOutput: [UInt8] = []
        var standardError: [UInt8] = []
        var combined: [UInt8] = []
        var droppedBytes = 0
        var openStreams = 2
    }

    private let state = Mutex(State())

    public init(limit: Int = 8 << 20) {
        self.limit = limit
    }

    /// Appends a chunk that `stream` delivered.
    func append(_ data: Data, from stream: Stream) {
        state.withLock { state in
            let room = max(0, limit - state.combined.count)
            state.combined += data.prefix(room)
            switch stream {
            case .standardOutput: Self.append(data, to: &state.standardOutput, limit: limit, dropped: &state.droppedBytes)
            case .standardError: Self.append(data, to: &state.standardError, limit: limit, dropped: &state.droppedBytes)
            }
        }
    }

    private static func append(_ data: Data, to buffer: inout [UInt8], limit: Int, dropped: inout Int) {
        let room = max(0, limit - buffer.count)
        buffer += data.prefix(room)
        dropped += max(0, data.count - room)
    }

    /// Marks one stream as ended (its pipe reached end of file).
    func finish(_ stream: Stream) {
        state.withLock { $0.openStreams = max(0, $0.openStreams - 1) }
    }

    /// Standard output so far.
    public var standardOutput: String { state.withLock { String(decoding: $0.standardOutput, as: UTF8.self) } }
    /// Standard error so far.
    public var standardError: String { state.withLock { String(decoding: $0.standardError, as: UTF8.self) } }
    /// Both streams, in the order their chunks arrived.
    public var combined: String { state.withLock { String(decoding: $0.combined, as: UTF8.self) } }
    /// Bytes of standard output or error that did not fit in `limit`.
    public var droppedBytes: Int { state.withLock { $0.droppedBytes } }
    /// Whether both pipes have reached end of file: nothing more will be appended.
    public var isComplete: Bool { state.withLock { $0.openStreams == 0 } }
}

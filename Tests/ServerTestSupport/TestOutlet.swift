import Chat
import Synchronization

/// A simulated client connection: records every frame the chat sends and how it was closed.
public final class TestOutlet: ChatOutlet {
    private struct State {
        var frames: [String] = []
        var closed: (code: Int, reason: String)?
    }

    private let state = Mutex(State())

    public init() {}

    public func send(_ text: String) {
        state.withLock { $0.frames.append(text) }
    }

    public func close(code: Int, reason: String) {
        state.withLock { $0.closed = (code, reason) }
    }

    public var frames: [String] { state.withLock { $0.frames } }
    public var closeCode: Int? { state.withLock { $0.closed?.code } }
}

/// A join answered with an error frame instead of a welcome.
public struct JoinRefused: Error, CustomStringConvertible {
    public var error: ErrorFrame
    public var description: String { "join refused: \(error.code) \(error.message)" }
}

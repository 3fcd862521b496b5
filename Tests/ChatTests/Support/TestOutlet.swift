import Chat
import Synchronization

/// A simulated client connection: records every frame the chat sends and how it was closed.
final class TestOutlet: ChatOutlet {
    private struct State {
        var frames: [String] = []
        var closed: (code: Int, reason: String)?
    }

    private let state = Mutex(State())

    func send(_ text: String) {
        state.withLock { $0.frames.append(text) }
    }

    func close(code: Int, reason: String) {
        state.withLock { $0.closed = (code, reason) }
    }

    var frames: [String] { state.withLock { $0.frames } }
    var closeCode: Int? { state.withLock { $0.closed?.code } }
}

/// Thrown when an expected frame does not come in time.
struct Timeout: Error, CustomStringConvertible {
    var description: String
}

/// A join answered with an error frame instead of a welcome.
struct JoinRefused: Error, CustomStringConvertible {
    var error: ErrorFrame
    var description: String { "join refused: \(error.code) \(error.message)" }
}

/// Polls `condition` every few milliseconds until it holds or `timeout` passes.
func eventually(_ what: String, timeout: Duration = .seconds(10), _ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    throw Timeout(description: "Timed out waiting for \(what)")
}

/// The suite's one polling helper: for a test that waits for something to happen (a node to
/// connect, a frame to come, a child to write a line), bounded. A test that must show that
/// something did NOT happen does not poll and does not sleep: it waits for a barrier, a round
/// trip that must come after anything that would have arrived (see `ChatCluster`'s barriers).

/// How long a test waits for something that should happen, unless it says otherwise: a minute.
/// A wait ends as soon as its condition holds, so this costs nothing when the test passes; it is
/// long because the suite must pass with both cores kept busy by other processes (issue 15,
/// point 8), where a join or a delivery that takes milliseconds alone can take seconds.
public enum TestPatience {
    public static let wait: Duration = .seconds(60)
}

/// Thrown by ``eventually(_:timeout:interval:_:)`` when the condition did not hold in time.
public struct TimedOut: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Polls `condition` every `interval` until it holds; throws ``TimedOut`` naming `what` once
/// `timeout` has passed (the condition is checked one last time at the deadline).
public func eventually(
    _ what: @autoclosure () -> String,
    timeout: Duration = TestPatience.wait,
    interval: Duration = .milliseconds(5),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: interval)
    }
    if try await condition() { return }
    throw TimedOut("Timed out after \(timeout) waiting for \(what()).")
}

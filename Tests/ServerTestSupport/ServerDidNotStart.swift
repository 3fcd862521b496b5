/// A child process that a test needed did not come up: the reason says what happened and what to
/// do next (build first, read its output).
public struct ServerDidNotStart: Error, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { "The test server did not start: \(reason)." }
}

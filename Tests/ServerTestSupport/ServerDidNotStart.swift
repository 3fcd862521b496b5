/// A child process that a test needed did not come up: the reason says what happened and what to
/// do next (build first, read its output).
public struct ServerDidNotStart: Error, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { "The test server did not start: \(reason)." }
}

extension ServerDidNotStart {
    /// What a child wrote, for a failure message: all of it up to 5,000 characters, else its
    /// first and last 2,500, so that the first error and the last lines both show.
    public static func excerpt(_ output: String) -> String {
        guard output.count > 5000 else { return output }
        return "\(output.prefix(2500))\n[…]\n\(output.suffix(2500))"
    }
}

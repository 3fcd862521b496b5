/// A refused client frame: the error frame the session gets, as a Swift error.
public struct ChatProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: ChatErrorCode
    /// One sentence that says what went wrong and what to do.
    public var message: String
    /// The `id` of the frame it answers, when that frame had one.
    public var id: String?

    public init(_ code: ChatErrorCode, _ message: String, id: String? = nil) {
        self.code = code
        self.message = message
        self.id = id
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The error as a server frame.
    public var frame: ServerFrame { .error(ErrorFrame(code: code, message: message, id: id)) }
}

/// Where a session's frames go: the server implements it over one SockJS session.
/// `send` must not block (the transport queues, bounded, and closes a client that falls too far
/// behind with 4002); `close` ends the client's connection with a code and a reason.
public protocol ChatOutlet: AnyObject, Sendable {
    func send(_ text: String)
    func close(code: Int, reason: String)
}

/// Hands one encoded frame to many outlets. The node encodes each public message once and
/// calls this with the same text for every local member of the room; a server replaces the
/// default with one that prepares the transport bytes once (e.g. SockJS's prepared broadcast).
public protocol ChatBroadcaster: Sendable {
    func broadcast(_ text: String, to outlets: [any ChatOutlet])
}

/// The default broadcaster: `send` to each outlet in turn.
public struct LoopingBroadcaster: ChatBroadcaster {
    public init() {}

    public func broadcast(_ text: String, to outlets: [any ChatOutlet]) {
        for outlet in outlets { outlet.send(text) }
    }
}

/// The close codes the chat uses besides SockJS's own.
public enum ChatCloseCode {
    /// The same nick joined elsewhere.
    public static let replaced = 4001
    /// The outbound queue overflowed (the transport closes with it).
    public static let tooSlow = 4002
    /// Still over the rate limit after warnings.
    public static let flooding = 4003
}

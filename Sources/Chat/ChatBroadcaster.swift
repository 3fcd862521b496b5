/// Hands one encoded frame to many outlets. The node encodes each public message once and
/// calls this with the same text for every local member of the room; a server replaces the
/// default with one that prepares the transport bytes once (e.g. SockJS's prepared broadcast).
public protocol ChatBroadcaster: Sendable {
    func broadcast(_ text: String, to outlets: [any ChatOutlet])

    /// Hands several frames, in order, to many outlets. A server can send them as one transport
    /// frame (SockJS `a[...]` with several messages, the same bytes to every outlet); the default
    /// broadcasts them one by one.
    func broadcast(batch texts: [String], to outlets: [any ChatOutlet])
}

extension ChatBroadcaster {
    public func broadcast(batch texts: [String], to outlets: [any ChatOutlet]) {
        for text in texts { broadcast(text, to: outlets) }
    }
}

/// The default broadcaster: `send` to each outlet in turn.
public struct LoopingBroadcaster: ChatBroadcaster {
    public init() {}

    public func broadcast(_ text: String, to outlets: [any ChatOutlet]) {
        for outlet in outlets { outlet.send(text) }
    }
}

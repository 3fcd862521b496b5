/// One stream for the deliveries of many consumers (``BrokerChannel/consume(queue:options:into:)``),
/// so that a process with thousands of consumers (the chat: one per online user) reads them
/// all with one task instead of one task and one stream per consumer.
///
/// Each element is a batch of one consumer's deliveries (every delivery carries its
/// `consumerTag`) or the end of one consumer. A consumer's deliveries come in queue order, and
/// its ``Event/ended(consumerTag:)`` comes after the last of them: after a cancel, once the
/// cancel-ok was read (so deliveries the broker sent before it come first); at a channel or
/// connection close; when the broker cancels it (queue deleted). A sink never finishes by
/// itself: whoever made it calls ``finish()`` when no consumer uses it any more.
///
/// Overflow rule: unbounded, like ``BrokerBatchConsumer``; with manual ack every consumer's
/// prefetch bounds what it holds, so a sink holds at most the sum of its consumers' windows.
public struct DeliverySink: Sendable {
    public enum Event: Sendable {
        /// Deliveries of one consumer, in queue order, never empty.
        case deliveries([Delivery])
        /// The consumer with this tag will deliver nothing more.
        case ended(consumerTag: String)
    }

    private let continuation: AsyncStream<Event>.Continuation

    /// A sink and the stream its events come on (single reader).
    public static func makeStream() -> (events: AsyncStream<Event>, sink: DeliverySink) {
        let (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
        return (events, DeliverySink(continuation: continuation))
    }

    /// Backends: hands over one event.
    public func yield(_ event: Event) {
        continuation.yield(event)
    }

    /// Ends the stream (after the events already yielded).
    public func finish() {
        continuation.finish()
    }
}

/// Where a consumer's deliveries go: its own stream, or a sink shared with other consumers.
public enum DeliveryOutput: Sendable {
    case stream(AsyncStream<[Delivery]>.Continuation)
    case sink(DeliverySink)

    /// A consumer that failed to start: its own stream finishes; a shared sink is left as it is.
    public func abandon() {
        if case .stream(let continuation) = self { continuation.finish() }
    }
}

import Broker

/// Publishes that cannot hang and confirms that are checked.
///
/// RabbitMQ 3.10 was seen, in a three-node cluster whose node holding the history stream's
/// leader was killed, to confirm publishes to that stream for several seconds without storing
/// them, and to never confirm some others. So a node (1) gives every publish a deadline,
/// after which the publish channel is closed, failing everything that waits on it (answered
/// `unavailable`, retried by clients with the same `id`), and a fresh channel is opened; and
/// (2) says `sent` for a public message only once its record came back through the history
/// stream, which the node reads anyway.
///
/// For `say` and `tell` both are decided by ``PublishMachine`` (ChatNodeExecutor+Publish.swift);
/// the deadline of the `delivered` receipts published on an ack by ``InboxMachine``
/// (ChatNodeExecutor+Inbox.swift).
extension ChatNodeExecutor {
    /// Closes `channel`, the publish channel when the publish began: `publisher()` opens a
    /// new one for the next publish.
    /// (Closing a channel that was already replaced, or is already closed, does nothing.)
    func replacePublisher(_ channel: any BrokerChannel) async {
        await channel.close()
    }
}

import Broker

extension ChatNodeExecutor {
    /// The most nicks remembered as having an inbox declared without the caps (406 on the
    /// capped declare); a forgotten one costs one more refused declare on a throwaway channel.
    static let legacyInboxMemory = 10_000

    /// How `user.<nick>` is declared with the caps of this node's limits.
    var cappedUserQueueOptions: QueueOptions {
        topology.userQueueOptions(maxMessages: configuration.limits.inboxMaxMessages, maxBytes: configuration.limits.inboxMaxBytes)
    }

    /// How to declare `user.<nick>` again once it exists: passively when its queue was declared
    /// without these caps (a redeclare with other arguments is 406, which closes the channel).
    func userQueueRedeclareOptions(_ nick: String) -> QueueOptions {
        legacyInboxes.contains(nick) ? QueueOptions(passive: true) : cappedUserQueueOptions
    }

    /// Declares `user.<nick>` with the inbox caps (Specs/amqp-topology.md, "Inbox caps"), on a
    /// channel of its own: a queue declared earlier without them (or with other caps) refuses
    /// with 406 PRECONDITION_FAILED, which closes the channel it came on and must not fail
    /// other users' publishes. Such a queue is then declared passively and remembered, and
    /// keeps working uncapped until an operator applies the policy the log line names.
    func declareUserQueue(_ nick: String) async throws(BrokerError) {
        let queue = topology.userQueue(nick)
        if legacyInboxes.contains(nick) {
            _ = try await publisher().declareQueue(queue, options: QueueOptions(passive: true))
            return
        }
        let options = cappedUserQueueOptions
        do {
            try await withTemporaryChannel { channel throws(BrokerError) in
                _ = try await channel.declareQueue(queue, options: options)
            }
        } catch let error where error.code == BrokerError.preconditionFailed {
            _ = try await publisher().declareQueue(queue, options: QueueOptions(passive: true))
            legacyInboxes.append(nick)
            if legacyInboxes.count > Self.legacyInboxMemory { legacyInboxes.removeFirst() }
            logger.warning(
                """
                The inbox \(queue) was declared without the inbox caps (or with others), so it stays uncapped: \
                apply them with rabbitmqctl set_policy --apply-to queues rabbitchat-inboxes '^\(topology.prefix)user\\.' \
                '{"max-length":\(configuration.limits.inboxMaxMessages),"max-length-bytes":\(configuration.limits.inboxMaxBytes),"overflow":"reject-publish"}'
                """)
        }
    }

    /// Whether `user.<nick>` could be at one of its caps now that a publish of `bytes` to it was
    /// nacked (RabbitMQ says no reason with a nack): at its message cap, or holding enough
    /// messages that, each as large as a record can be, they would pass the byte cap. A nack
    /// that fails this test (a broker fault) is `unavailable` instead, as before the caps.
    func inboxCouldBeFull(_ nick: String, adding bytes: Int) async -> Bool {
        let limits = configuration.limits
        let queue = topology.userQueue(nick)
        guard
            let info = try? await withTemporaryChannel({ channel throws(BrokerError) in
                try await channel.declareQueue(queue, options: QueueOptions(passive: true))
            })
        else { return false }
        let count = Int(info.messageCount)
        if count >= limits.inboxMaxMessages { return true }
        // A record: the text (4 bytes per scalar at most) and its other fields. No overflow:
        // `count` is a UInt32.
        let largestRecord = limits.maxTextScalars * 4 + 1024
        return count * largestRecord + bytes > limits.inboxMaxBytes
    }
}

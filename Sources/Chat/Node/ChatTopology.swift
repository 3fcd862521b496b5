import Broker

/// The names of everything the chat declares on the broker (Specs/amqp-topology.md).
/// `prefix` (empty in production) lets tests run isolated chats on one broker.
public struct ChatTopology: Sendable, Hashable {
    public let prefix: String
    /// User inboxes as quorum queues (replicated over a RabbitMQ cluster, kept through the loss
    /// of a minority of nodes) instead of classic ones (lighter on a single broker). Every node
    /// of one chat must agree: a queue redeclared with another type is refused by the broker.
    public let replicatedInboxes: Bool

    public init(prefix: String = "", replicatedInboxes: Bool = false) {
        self.prefix = prefix
        self.replicatedInboxes = replicatedInboxes
    }

    /// How a user's inbox is declared: durable; a quorum queue when `replicatedInboxes`.
    public var userQueueOptions: QueueOptions {
        replicatedInboxes ? QueueOptions(durable: true, arguments: ["x-queue-type": "quorum"]) : .durable
    }

    /// How a user's inbox is declared with its caps (Specs/amqp-topology.md, "Inbox caps"):
    /// `userQueueOptions` plus `x-max-length`, `x-max-length-bytes` and
    /// `x-overflow=reject-publish`, so a publish over either is nacked (`inbox_full`).
    public func userQueueOptions(maxMessages: Int, maxBytes: Int) -> QueueOptions {
        var options = userQueueOptions
        options.arguments["x-max-length"] = .int(Int64(maxMessages))
        options.arguments["x-max-length-bytes"] = .int(Int64(maxBytes))
        options.arguments["x-overflow"] = .string("reject-publish")
        return options
    }

    /// Topic exchange for public messages (`room.<name>`) and typing (`typing.<...>`).
    public var publicExchange: String { prefix + "chat.public" }
    /// Direct exchange for private messages and receipts, routing key = the addressee's nick.
    public var directExchange: String { prefix + "chat.direct" }
    /// Fanout exchange for roster announcements and takeovers.
    public var presenceExchange: String { prefix + "chat.presence" }
    /// The stream of public messages: room history and `seq`.
    public var historyStream: String { prefix + "chat.history" }
    /// The stream of nick claims and the nodes' sync markers: small, so every node reads it
    /// whole at start (the roster and the first claim of each nick) without reading history.
    public var claimsStream: String { prefix + "chat.claims" }
    /// The stream of per-user state (issue 16): `password` and `delete` records so far; every
    /// node reads it whole from `first`.
    public var stateStream: String { prefix + "chat.state" }

    /// A user's durable inbox; its existence is the nick's claim.
    public func userQueue(_ nick: String) -> String { prefix + "user." + nick }
    /// A node's exclusive queue for presence, takeovers and typing.
    public func nodeQueue(_ nodeId: String) -> String { prefix + "chat.node." + nodeId }

    /// The routing key of a room's public messages.
    public static func roomKey(_ room: String) -> String { "room." + room }
    /// The routing key of typing in a room.
    public static func typingRoomKey(_ room: String) -> String { "typing.room." + room }
    /// The routing key of typing to a nick.
    public static func typingUserKey(_ nick: String) -> String { "typing.user." + nick }

    /// Arguments of the history stream: bounded on disk (RabbitMQ drops whole old segments).
    public static let historyStreamArguments: AMQPTable = [
        "x-queue-type": "stream",
        "x-max-length-bytes": .int(1 << 30),
    ]
    /// Arguments of the claims stream: a few records per nick, bounded on disk all the same.
    public static let claimsStreamArguments: AMQPTable = [
        "x-queue-type": "stream",
        "x-max-length-bytes": .int(1 << 28),
    ]
    /// Arguments of the state stream (Specs/amqp-topology.md: 256 MiB in segments of 16 MiB,
    /// so that retention drops at most one segment's worth more than the cap says).
    public static let stateStreamArguments: AMQPTable = stateStreamArguments(maxBytes: 1 << 28, segmentBytes: 1 << 24)

    /// Arguments of the state stream with these sizes (`ChatLimits.stateStreamBytes`, `.stateSegmentBytes`).
    public static func stateStreamArguments(maxBytes: Int, segmentBytes: Int) -> AMQPTable {
        [
            "x-queue-type": "stream",
            "x-max-length-bytes": .int(Int64(maxBytes)),
            "x-stream-max-segment-size-bytes": .int(Int64(segmentBytes)),
        ]
    }
    /// Arguments of a node queue: at most this many waiting events, the oldest dropped.
    public static let nodeQueueArguments: AMQPTable = [
        "x-max-length": .int(10_000)
    ]
}

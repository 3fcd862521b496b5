/// The kind of an exchange, which decides how routing keys match bindings.
public enum ExchangeKind: String, Sendable, Hashable, CaseIterable {
    /// The routing key equals the binding key.
    case direct
    /// Every bound queue gets every message; keys are ignored.
    case fanout
    /// Dot-separated words; in a binding key `*` matches exactly one word, `#` zero or more.
    case topic
}

public struct ExchangeOptions: Sendable, Hashable {
    /// Only check that the exchange exists (NOT_FOUND closes the channel otherwise).
    public var passive: Bool
    /// Survives a broker restart.
    public var durable: Bool
    /// Deleted when its last binding goes.
    public var autoDelete: Bool
    public var arguments: AMQPTable

    public init(passive: Bool = false, durable: Bool = true, autoDelete: Bool = false, arguments: AMQPTable = [:]) {
        self.passive = passive
        self.durable = durable
        self.autoDelete = autoDelete
        self.arguments = arguments
    }
}

public struct QueueOptions: Sendable, Hashable {
    /// Only check that the queue exists (NOT_FOUND closes the channel otherwise).
    public var passive: Bool
    /// The queue survives a broker restart (its persistent messages too).
    public var durable: Bool
    /// Owned by the declaring connection: others get RESOURCE_LOCKED; deleted when it closes.
    public var exclusive: Bool
    /// Deleted when its last consumer is cancelled (never if it never had one).
    public var autoDelete: Bool
    /// `x-max-length`, `x-overflow` (`drop-head`, `reject-publish`), `x-queue-type`
    /// (`classic`, `quorum`, `stream`), `x-message-ttl`, `x-max-length-bytes`, ...
    /// Redeclaring an existing queue with other arguments is PRECONDITION_FAILED.
    public var arguments: AMQPTable

    public init(passive: Bool = false, durable: Bool = false, exclusive: Bool = false, autoDelete: Bool = false, arguments: AMQPTable = [:]) {
        self.passive = passive
        self.durable = durable
        self.exclusive = exclusive
        self.autoDelete = autoDelete
        self.arguments = arguments
    }

    /// A durable queue that keeps its messages across restarts.
    public static var durable: QueueOptions { QueueOptions(durable: true) }
    /// The connection's private, temporary queue.
    public static var exclusive: QueueOptions { QueueOptions(exclusive: true, autoDelete: true) }
    /// A durable append-only stream (`x-queue-type=stream`), read from an offset.
    public static func stream(arguments: AMQPTable = [:]) -> QueueOptions {
        var args = arguments
        args["x-queue-type"] = .string("stream")
        return QueueOptions(durable: true, arguments: args)
    }
}

/// What `queue.declare-ok` says.
public struct QueueInfo: Sendable, Hashable {
    public var name: String
    /// Ready messages. Always 0 for a stream on RabbitMQ: do not rely on it there.
    public var messageCount: UInt32
    public var consumerCount: UInt32

    public init(name: String, messageCount: UInt32, consumerCount: UInt32) {
        self.name = name
        self.messageCount = messageCount
        self.consumerCount = consumerCount
    }
}

public struct ConsumeOptions: Sendable, Hashable {
    /// Chosen by the broker when nil.
    public var consumerTag: String?
    /// With manual ack (`noAck == false`), the most unacknowledged deliveries at a time
    /// (per-consumer `basic.qos`). 0 means unlimited; streams require a non-zero value.
    public var prefetch: UInt16
    /// Deliveries count as acknowledged when sent. Refused by streams.
    public var noAck: Bool
    /// The only consumer of the queue; a second one gets ACCESS_REFUSED.
    public var exclusive: Bool
    /// `x-stream-offset` and the like.
    public var arguments: AMQPTable

    public init(consumerTag: String? = nil, prefetch: UInt16 = 100, noAck: Bool = false, exclusive: Bool = false, arguments: AMQPTable = [:]) {
        self.consumerTag = consumerTag
        self.prefetch = prefetch
        self.noAck = noAck
        self.exclusive = exclusive
        self.arguments = arguments
    }

    /// Options for reading a stream from `offset`.
    public static func stream(from offset: StreamOffset, prefetch: UInt16 = 1000) -> ConsumeOptions {
        ConsumeOptions(prefetch: prefetch, arguments: ["x-stream-offset": offset.amqpValue])
    }
}

/// Where a stream consumer starts (`x-stream-offset`).
public enum StreamOffset: Sendable, Hashable {
    /// The oldest message still in the stream.
    case first
    /// The start of the last chunk (on the simulator: the last message).
    case last
    /// Only messages published after the consumer starts (the default).
    case next
    /// A numeric offset; every delivery carries its own in the `x-stream-offset` header.
    case offset(Int64)
    /// The first message stored at or after this time, in seconds since the epoch.
    case timestamp(Int64)

    public var amqpValue: AMQPValue {
        switch self {
        case .first: .string("first")
        case .last: .string("last")
        case .next: .string("next")
        case .offset(let n): .int(n)
        case .timestamp(let seconds): .timestamp(seconds)
        }
    }
}

/// AMQP message properties, the ones rabbitChat uses and a few that tests look at.
public struct MessageProperties: Sendable, Hashable {
    public var contentType: String?
    /// Delivery mode 2: written to disk by a durable queue.
    public var persistent: Bool
    public var messageId: String?
    public var correlationId: String?
    public var replyTo: String?
    public var type: String?
    public var appId: String?
    /// Seconds since the epoch.
    public var timestamp: Int64?
    /// Per-message TTL in milliseconds, as AMQP's string `expiration`.
    public var expiration: String?
    public var headers: AMQPTable

    public init(
        contentType: String? = nil, persistent: Bool = false, messageId: String? = nil, correlationId: String? = nil,
        replyTo: String? = nil, type: String? = nil, appId: String? = nil, timestamp: Int64? = nil,
        expiration: String? = nil, headers: AMQPTable = [:]
    ) {
        self.contentType = contentType
        self.persistent = persistent
        self.messageId = messageId
        self.correlationId = correlationId
        self.replyTo = replyTo
        self.type = type
        self.appId = appId
        self.timestamp = timestamp
        self.expiration = expiration
        self.headers = headers
    }
}

/// A message to publish.
public struct OutgoingMessage: Sendable, Hashable {
    public var body: [UInt8]
    public var properties: MessageProperties

    public init(body: [UInt8], properties: MessageProperties = MessageProperties()) {
        self.body = body
        self.properties = properties
    }

    public init(_ text: String, properties: MessageProperties = MessageProperties()) {
        self.body = Array(text.utf8)
        self.properties = properties
    }
}

/// A message delivered to a consumer or fetched with `get`.
public struct Delivery: Sendable, Hashable {
    /// Channel-scoped tag to ack, nack or reject with.
    public var deliveryTag: UInt64
    /// The consumer it was delivered to; nil for `get`.
    public var consumerTag: String?
    /// True when the message had been delivered before and went back to the queue.
    public var redelivered: Bool
    public var exchange: String
    public var routingKey: String
    public var body: [UInt8]
    public var properties: MessageProperties

    public init(
        deliveryTag: UInt64, consumerTag: String?, redelivered: Bool, exchange: String, routingKey: String,
        body: [UInt8], properties: MessageProperties
    ) {
        self.deliveryTag = deliveryTag
        self.consumerTag = consumerTag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.properties = properties
    }

    /// The stream offset of a delivery from a stream queue (`x-stream-offset` header).
    public var streamOffset: Int64? {
        if case .int(let n)? = properties.headers["x-stream-offset"] { return n }
        return nil
    }

    /// The body as UTF-8 text (lossy).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// An AMQP field table.
public typealias AMQPTable = [String: AMQPValue]

/// An AMQP field value (the subset rabbitChat and RabbitMQ's arguments use).
public indirect enum AMQPValue: Sendable, Hashable {
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    /// Seconds since the epoch.
    case timestamp(Int64)
    case bytes([UInt8])
    case array([AMQPValue])
    case table(AMQPTable)
    case void
}

extension AMQPValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

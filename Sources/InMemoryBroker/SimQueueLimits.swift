import Broker

/// The arguments of a queue that the simulator acts on, parsed once at declare time.
struct SimQueueLimits: Equatable {
    enum Overflow: String {
        case dropHead = "drop-head"
        case rejectPublish = "reject-publish"
    }
    enum Kind: String { case classic, quorum, stream }

    var kind: Kind = .classic
    var maxLength: Int?
    var maxLengthBytes: Int?
    var overflow: Overflow = .dropHead

    /// Parses `x-queue-type`, `x-max-length`, `x-max-length-bytes` and `x-overflow`; an
    /// unknown value is PRECONDITION_FAILED, as RabbitMQ answers it.
    init(arguments: AMQPTable) throws(BrokerError) {
        if let value = arguments["x-queue-type"] {
            guard case .string(let text) = value, let kind = Kind(rawValue: text) else {
                throw .amqp(code: BrokerError.preconditionFailed, text: "PRECONDITION_FAILED - invalid arg 'x-queue-type': \(value)")
            }
            self.kind = kind
        }
        maxLength = try Self.nonNegative(arguments, "x-max-length")
        maxLengthBytes = try Self.nonNegative(arguments, "x-max-length-bytes")
        if let value = arguments["x-overflow"] {
            guard case .string(let text) = value, let overflow = Overflow(rawValue: text) else {
                throw .amqp(code: BrokerError.preconditionFailed, text: "PRECONDITION_FAILED - invalid arg 'x-overflow': \(value)")
            }
            self.overflow = overflow
        }
    }

    private static func nonNegative(_ arguments: AMQPTable, _ key: String) throws(BrokerError) -> Int? {
        guard let value = arguments[key] else { return nil }
        guard case .int(let n) = value, n >= 0 else {
            throw .amqp(code: BrokerError.preconditionFailed, text: "PRECONDITION_FAILED - invalid arg '\(key)': \(value)")
        }
        return Int(n)
    }

    /// The arguments RabbitMQ compares when a queue is declared again; any difference in
    /// these is PRECONDITION_FAILED (inequivalent arg). Other `x-` arguments are not compared.
    static let comparedArguments: [String] = [
        "x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key",
        "x-max-length", "x-max-length-bytes", "x-max-priority", "x-overflow", "x-queue-mode",
        "x-single-active-consumer", "x-queue-type",
    ]
}

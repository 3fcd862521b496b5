/// Why a broker operation failed. Each case reads as one clear sentence through
/// `description`, so it can be shown to a user or an operator as it is.
public enum BrokerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The broker could not be reached or refused the login.
    case connectionFailed(String)
    /// The connection is closed (lost, closed by the broker, or closed by us).
    case connectionClosed(String)
    /// The channel was closed, usually by a channel error; open a new one.
    case channelClosed(String)
    /// The broker answered with a channel or connection exception.
    case amqp(code: UInt16, text: String)
    /// The broker refused the message (`basic.nack`).
    case nacked
    /// `mandatory` was set and no queue took the message (`basic.return`).
    case unroutable(exchange: String, routingKey: String)
    /// A fault injected by a test (simulator only).
    case injected(String)
    /// The operation did not complete in time.
    case timeout(String)

    /// AMQP reply codes that the server meets.
    public static let notFound: UInt16 = 404
    public static let resourceLocked: UInt16 = 405
    public static let preconditionFailed: UInt16 = 406
    public static let accessRefused: UInt16 = 403
    public static let notAllowed: UInt16 = 530
    public static let notImplemented: UInt16 = 540

    /// The AMQP reply code, when the broker gave one.
    public var code: UInt16? {
        if case .amqp(let code, _) = self { return code }
        return nil
    }

    /// True when the connection is gone and a new one is needed.
    public var isConnectionLoss: Bool {
        switch self {
        case .connectionClosed, .connectionFailed: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .connectionFailed(let why): "Could not connect to the AMQP broker: \(why)"
        case .connectionClosed(let why): "The AMQP connection is closed: \(why)"
        case .channelClosed(let why): "The AMQP channel is closed: \(why)"
        case .amqp(let code, let text): "The AMQP broker answered \(code): \(text)"
        case .nacked: "The AMQP broker refused the message (basic.nack)."
        case .unroutable(let exchange, let key): "No queue is bound to exchange '\(exchange)' for routing key '\(key)' (basic.return)."
        case .injected(let why): "Injected fault: \(why)"
        case .timeout(let what): "Timed out: \(what)"
        }
    }
}

import Broker

/// One step of a differential run, in logical names (`q0`…, `x0`…, slots), so that the
/// same step can run on both backends.
enum DifferentialOperation: CustomStringConvertible {
    case connect(connection: Int)
    case closeConnection(connection: Int)
    case openChannel(channel: Int)
    case closeChannel(channel: Int)
    case declareQueue(channel: Int, queue: Int, mismatched: Bool)
    case deleteQueue(channel: Int, queue: Int)
    /// A passive declare.
    case checkQueue(channel: Int, queue: Int)
    case purge(channel: Int, queue: Int)
    case bind(channel: Int, queue: Int, exchange: Int, key: String)
    case unbind(channel: Int, queue: Int, exchange: Int, key: String)
    /// `exchange` nil is the default exchange with the queue's name as key.
    case publish(channel: Int, exchange: Int?, key: String, queue: Int, mandatory: Bool, persistent: Bool, body: String)
    case consume(channel: Int, queue: Int, slot: Int, prefetch: UInt16, noAck: Bool, exclusive: Bool)
    case cancel(slot: Int)
    case get(channel: Int, queue: Int, autoAck: Bool)
    /// Settles the channel's unacknowledged delivery with this body from this queue (with
    /// `multiple`, and every earlier one of the channel).
    case settle(channel: Int, body: String, queue: Int, kind: SettleKind)
    /// A broker restart: `InMemoryBroker.restart()` (with a data directory a real reopen of the
    /// store), or on a private RabbitMQ node `stop_app` and `start_app`.
    case restart

    enum SettleKind: CustomStringConvertible {
        case ack(multiple: Bool)
        case nack(multiple: Bool, requeue: Bool)
        case reject(requeue: Bool)

        var description: String {
            switch self {
            case .ack(let multiple): "ack(multiple: \(multiple))"
            case .nack(let multiple, let requeue): "nack(multiple: \(multiple), requeue: \(requeue))"
            case .reject(let requeue): "reject(requeue: \(requeue))"
            }
        }
    }

    var description: String {
        switch self {
        case .connect(let c): "connect c\(c)"
        case .closeConnection(let c): "close c\(c)"
        case .openChannel(let ch): "open ch\(ch)"
        case .closeChannel(let ch): "close ch\(ch)"
        case .declareQueue(let ch, let q, let mismatched): "ch\(ch) declare q\(q)\(mismatched ? " (mismatched)" : "")"
        case .deleteQueue(let ch, let q): "ch\(ch) delete q\(q)"
        case .checkQueue(let ch, let q): "ch\(ch) check q\(q)"
        case .purge(let ch, let q): "ch\(ch) purge q\(q)"
        case .bind(let ch, let q, let x, let key): "ch\(ch) bind q\(q) to x\(x) '\(key)'"
        case .unbind(let ch, let q, let x, let key): "ch\(ch) unbind q\(q) from x\(x) '\(key)'"
        case .publish(let ch, let x, let key, let q, let mandatory, let persistent, let body):
            "ch\(ch) publish \(body) to \(x.map { "x\($0) '\(key)'" } ?? "default 'q\(q)'")\(mandatory ? " mandatory" : "")\(persistent ? " persistent" : "")"
        case .consume(let ch, let q, let slot, let prefetch, let noAck, let exclusive):
            "ch\(ch) consume q\(q) as k\(slot) prefetch \(prefetch)\(noAck ? " noAck" : "")\(exclusive ? " exclusive" : "")"
        case .cancel(let slot): "cancel k\(slot)"
        case .get(let ch, let q, let autoAck): "ch\(ch) get q\(q)\(autoAck ? " autoAck" : "")"
        case .settle(let ch, let body, let q, let kind): "ch\(ch) \(kind) \(body) from q\(q)"
        case .restart: "restart the broker"
        }
    }
}

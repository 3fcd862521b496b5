import Broker
import InMemoryBroker
import ServerTestSupport

/// One backend's side of a differential run: its connections, channels, consumers and the
/// unacknowledged deliveries of each channel, addressed by the logical slots of
/// ``DifferentialOperation``. Used from one task only.
final class DifferentialWorld {
    static let connectionSlots = 2
    static let channelSlots = 4
    static let queueCount = 5
    static let exchangeKinds: [ExchangeKind] = [.direct, .fanout, .topic]

    let t: TestBroker
    var connections: [(any BrokerConnection)?] = Array(repeating: nil, count: connectionSlots)
    var channels: [(any BrokerChannel)?] = Array(repeating: nil, count: channelSlots)
    var consumers: [Int: Consumer] = [:]
    /// The connection slot that owns the exclusive queue q4, when it exists.
    var exclusiveOwner: Int?
    /// A channel outside the logical slots, for passive declares that read queue counts.
    var observer: (any BrokerChannel)?
    /// Per channel: deliveries not yet settled, in delivery-tag order, with their queue.
    var unacked: [[(delivery: Delivery, queue: Int)]] = Array(repeating: [], count: channelSlots)

    struct Consumer {
        let channel: Int
        let queue: Int
        let noAck: Bool
        let collector: DeliveryCollector
        var absorbed = 0
    }

    /// Whether the exchanges are declared durable (so that they outlive a restart).
    let durableExchanges: Bool

    /// Restarts RabbitMQ (a private node's app) for ``DifferentialOperation/restart``; nil for
    /// the simulators (their `restart()`) and for the shared RabbitMQ (no restarts).
    let restartRabbitMQ: (() async throws -> Void)?

    init(_ t: TestBroker, durableExchanges: Bool = false, restartRabbitMQ: (() async throws -> Void)? = nil) {
        self.t = t
        self.durableExchanges = durableExchanges
        self.restartRabbitMQ = restartRabbitMQ
    }

    func queue(_ q: Int) -> String { t.prefix + "q\(q)" }
    func exchange(_ x: Int) -> String { t.prefix + "x\(x)" }

    /// The options of logical queue `q`: plain, durable, drop-head at 2, reject-publish at 2,
    /// exclusive. A mismatched declare flips `durable`.
    static func options(_ q: Int, mismatched: Bool) -> QueueOptions {
        var options: QueueOptions =
            switch q {
            case 1: QueueOptions(durable: true)
            case 2: QueueOptions(arguments: ["x-max-length": 2])
            case 3: QueueOptions(arguments: ["x-max-length": 2, "x-overflow": "reject-publish"])
            case 4: QueueOptions(exclusive: true)
            default: QueueOptions()
            }
        if mismatched { options.durable.toggle() }
        return options
    }

    /// Declares the exchanges and registers every name for cleanup.
    func setUp() async throws {
        for q in 0..<Self.queueCount { _ = t.queueName("q\(q)") }
        let channel = try await t.channel("setup")
        for (x, kind) in Self.exchangeKinds.enumerated() {
            try await channel.declareExchange(t.exchangeName("x\(x)"), kind: kind, options: ExchangeOptions(durable: durableExchanges))
        }
        observer = try await t.channel("observer")
        for c in 0..<Self.connectionSlots { _ = await run(.connect(connection: c)) }
        for ch in 0..<Self.channelSlots { _ = await run(.openChannel(channel: ch)) }
    }

    /// Runs one operation and says what came of it, in a form comparable across backends.
    func run(_ operation: DifferentialOperation) async -> String {
        do {
            return try await perform(operation)
        } catch let error as BrokerError {
            return Self.describe(error)
        } catch {
            return "error: \(error)"
        }
    }

    /// A barrier for "nothing more is delivered": every consumer whose channel is open is
    /// cancelled and its stream read to the end (what was delivered before the cancel-ok comes
    /// there first). The same on both backends, so their snapshots stay comparable.
    func cancelConsumers() async {
        for (_, consumer) in consumers.sorted(by: { $0.key < $1.key }) where !consumer.collector.isFinished {
            guard let channel = channels[consumer.channel], channel.closeReason == nil else { continue }
            try? await channel.cancel(consumerTag: consumer.collector.tag)
            _ = await consumer.collector.waitFinished()
        }
    }

    static func describe(_ error: BrokerError) -> String {
        switch error {
        case .amqp(let code, _): "amqp \(code)"
        case .channelClosed: "channel closed"
        case .connectionClosed, .connectionFailed: "connection closed"
        case .nacked: "nacked"
        case .unroutable: "unroutable"
        case .injected: "injected"
        case .timeout: "timeout"
        }
    }

    private func channel(_ ch: Int) throws -> any BrokerChannel {
        guard let channel = channels[ch] else { throw BrokerError.channelClosed("never opened") }
        return channel
    }

    private func perform(_ operation: DifferentialOperation) async throws -> String {
        switch operation {
        case .connect(let c):
            connections[c] = try await t.connect("c\(c)")
            return "ok"
        case .restart:
            if let restartRabbitMQ {
                try await restartRabbitMQ()
            } else {
                guard let simulator = t.inMemory else { return "no restart on RabbitMQ" }
                simulator.restart()
            }
            exclusiveOwner = nil
            observer = try await t.channel("observer")
            return "ok; q1 holds " + (try await peekDurableQueue())
        case .closeConnection(let c):
            await connections[c]?.close()
            if exclusiveOwner == c { exclusiveOwner = nil }
            return "ok"
        case .openChannel(let ch):
            guard let connection = connections[ch / 2] else { return "no connection" }
            if let open = channels[ch], open.closeReason == nil { return "already open" }
            channels[ch] = try await connection.openChannel()
            unacked[ch] = []
            return "ok"
        case .closeChannel(let ch):
            await channels[ch]?.close()
            return "ok"
        case .declareQueue(let ch, let q, let mismatched):
            let info = try await channel(ch).declareQueue(queue(q), options: Self.options(q, mismatched: mismatched))
            if q == 4 { exclusiveOwner = ch / 2 }
            return "ok \(info.messageCount) ready, \(info.consumerCount) consumers"
        case .checkQueue(let ch, let q):
            let info = try await channel(ch).declareQueue(queue(q), options: QueueOptions(passive: true))
            return "ok \(info.messageCount) ready, \(info.consumerCount) consumers"
        case .deleteQueue(let ch, let q):
            let count = try await channel(ch).deleteQueue(queue(q), ifUnused: false, ifEmpty: false)
            if q == 4 { exclusiveOwner = nil }
            return "ok \(count)"
        case .purge(let ch, let q):
            return "ok \(try await channel(ch).purgeQueue(queue(q)))"
        case .bind(let ch, let q, let x, let key):
            try await channel(ch).bindQueue(queue(q), exchange: exchange(x), routingKey: key, arguments: [:])
            return "ok"
        case .unbind(let ch, let q, let x, let key):
            try await channel(ch).unbindQueue(queue(q), exchange: exchange(x), routingKey: key, arguments: [:])
            return "ok"
        case .publish(let ch, let x, let key, let q, let mandatory, let persistent, let body):
            let message = OutgoingMessage(body, properties: MessageProperties(persistent: persistent))
            try await channel(ch).publish(message, exchange: x.map(exchange) ?? "", routingKey: x == nil ? queue(q) : key, mandatory: mandatory)
            return "ok"
        case .consume(let ch, let q, let slot, let prefetch, let noAck, let exclusive):
            let consumer = try await channel(ch).consume(queue: queue(q), options: ConsumeOptions(prefetch: prefetch, noAck: noAck, exclusive: exclusive))
            consumers[slot] = Consumer(channel: ch, queue: q, noAck: noAck, collector: DeliveryCollector(consumer))
            return "ok"
        case .cancel(let slot):
            guard let consumer = consumers[slot] else { return "no consumer" }
            try await channel(consumer.channel).cancel(consumerTag: consumer.collector.tag)
            return "ok"
        case .get(let ch, let q, let autoAck):
            guard let delivery = try await channel(ch).get(queue: queue(q), autoAck: autoAck) else { return "empty" }
            if !autoAck { insert(delivery, queue: q, channel: ch) }
            return "got \(delivery.text)\(delivery.redelivered ? " redelivered" : "")"
        case .settle(let ch, let body, let q, let kind):
            absorb()
            guard let index = unacked[ch].firstIndex(where: { $0.delivery.text == body && $0.queue == q }) else { return "nothing to settle" }
            let channel = try channel(ch)
            let tag = unacked[ch][index].delivery.deliveryTag
            let multiple: Bool
            switch kind {
            case .ack(let m):
                multiple = m
                try await channel.ack(deliveryTag: tag, multiple: m)
            case .nack(let m, let requeue):
                multiple = m
                try await channel.nack(deliveryTag: tag, multiple: m, requeue: requeue)
            case .reject(let requeue):
                multiple = false
                try await channel.reject(deliveryTag: tag, requeue: requeue)
            }
            if multiple { unacked[ch].removeFirst(index + 1) } else { unacked[ch].remove(at: index) }
            return "ok"
        }
    }

    /// What the durable queue q1 holds after a restart, in order, `!` marking redelivered
    /// messages: taken with `basic.get` without ack on a channel of its own, which is then
    /// closed, putting them all back (redelivered from then on, on both backends alike). Waits
    /// (bounded) until the queue counts them all again: RabbitMQ requeues after the close-ok.
    private func peekDurableQueue() async throws -> String {
        let peek = try await t.channel("peek")
        var texts: [String] = []
        do {
            while texts.count < 10_000, let delivery = try await peek.get(queue: queue(1), autoAck: false) {
                texts.append(delivery.text + (delivery.redelivered ? "!" : ""))
            }
        } catch {
            return Self.describe(error)
        }
        await peek.close()
        let deadline = ContinuousClock.now + .seconds(5)
        while let info = try await observer?.declareQueue(queue(1), options: QueueOptions(passive: true)),
            info.messageCount < texts.count, ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(5))
        }
        return texts.joined(separator: " ")
    }

    private func insert(_ delivery: Delivery, queue: Int, channel ch: Int) {
        let position = unacked[ch].firstIndex { $0.delivery.deliveryTag > delivery.deliveryTag } ?? unacked[ch].count
        unacked[ch].insert((delivery, queue), at: position)
    }

    /// Moves new consumer deliveries into their channel's unacked list, and forgets the
    /// unacked deliveries of closed channels.
    func absorb() {
        for (slot, var consumer) in consumers.sorted(by: { $0.key < $1.key }) {
            let all = consumer.collector.deliveries
            if !consumer.noAck {
                for delivery in all[consumer.absorbed...] { insert(delivery, queue: consumer.queue, channel: consumer.channel) }
            }
            consumer.absorbed = all.count
            consumers[slot] = consumer
        }
        for ch in 0..<Self.channelSlots where channels[ch]?.closeReason != nil {
            unacked[ch] = []
        }
    }

    /// Everything observable: each consumer's deliveries (body, `!` when redelivered) and
    /// whether its stream finished, each channel's unacked bodies and whether it is closed.
    func snapshot() async -> [String] {
        absorb()
        var lines: [String] = []
        for q in 0..<4 {
            do {
                if observer?.closeReason != nil { observer = try await t.channel("observer") }
                let info = try await observer?.declareQueue(queue(q), options: QueueOptions(passive: true))
                lines.append("q\(q): \(info.map { "\($0.messageCount) ready, \($0.consumerCount) consumers" } ?? "-")")
            } catch {
                lines.append("q\(q): absent")
            }
        }
        for (slot, consumer) in consumers.sorted(by: { $0.key < $1.key }) {
            let texts = consumer.collector.deliveries.map { $0.text + ($0.redelivered ? "!" : "") }
            lines.append(
                "k\(slot)@ch\(consumer.channel) q\(consumer.queue): \(texts.joined(separator: " "))\(consumer.collector.isFinished ? " [finished]" : "")")
        }
        for ch in 0..<Self.channelSlots {
            let state = channels[ch] == nil ? "none" : channels[ch]?.closeReason == nil ? "open" : "closed"
            // Grouped by queue: RabbitMQ's queues deliver concurrently, so the tag order across
            // queues is not determined; within a queue it is.
            let byQueue = unacked[ch].enumerated().sorted { ($0.element.queue, $0.offset) < ($1.element.queue, $1.offset) }
            lines.append("ch\(ch) \(state): unacked \(byQueue.map { "q\($0.element.queue):\($0.element.delivery.text)" }.joined(separator: " "))")
        }
        for c in 0..<Self.connectionSlots {
            lines.append("c\(c) \(connections[c]?.closeReason == nil ? "open" : "closed")")
        }
        return lines
    }
}

import Broker

/// The measurements through the `Broker` protocol, the same for both backends. Every
/// measurement uses its own durable queue, deleted afterwards.
struct BrokerBenchRun {
    let label: String
    let broker: any Broker
    let body: [UInt8]
    let messages: Int
    let window: Int
    /// The columns to measure.
    var columns = Set(BenchRow.Column.allCases)

    private var persistent: OutgoingMessage { OutgoingMessage(body: body, properties: MessageProperties(persistent: true)) }

    func run() async throws -> BenchRow {
        let connection = try await broker.connect(name: "BrokerBench")
        defer { Task { await connection.close() } }
        let channel = try await connection.openChannel()
        var row = BenchRow(label: label)
        for column in BenchRow.Column.allCases where columns.contains(column) {
            row[column] = try await figure(for: column, connection, channel)
        }
        return row
    }

    private func figure(for column: BenchRow.Column, _ connection: any BrokerConnection, _ channel: any BrokerChannel) async throws -> Figure {
        try await withQueue(channel, column.rawValue) { queue in
            switch column {
            case .publishEach:
                let single = max(200, messages / 20)
                return try await measure(single) {
                    for _ in 0..<single { try await channel.publish(persistent, exchange: "", routingKey: queue, mandatory: false) }
                }
            case .publishBatch:
                return try await measure(messages) { try await publishAll(channel, queue) }
            case .consumeAck:
                try await publishAll(channel, queue)
                return try await measure(messages) { try await consumeAll(channel, queue, ackEvery: 1) }
            case .consumeMultipleAck:
                try await publishAll(channel, queue)
                return try await measure(messages) { try await consumeAll(channel, queue, ackEvery: 100) }
            case .consumeBatchAck:
                try await publishAll(channel, queue)
                return try await measure(messages) { try await consumeBatchesAll(channel, queue) }
            case .roundTrip, .roundTripBatch:
                let consumerChannel = try await connection.openChannel()
                defer { Task { await consumerChannel.close() } }
                return try await measure(messages) {
                    async let consumed: Void =
                        column == .roundTrip
                        ? consumeAll(consumerChannel, queue, ackEvery: 1)
                        : consumeBatchesAll(consumerChannel, queue)
                    try await publishAll(channel, queue)
                    try await consumed
                }
            }
        }
    }

    /// Publishes `messages` persistent messages in confirm windows of `window`.
    private func publishAll(_ channel: any BrokerChannel, _ queue: String) async throws {
        let batch = Array(repeating: PublishRequest(message: persistent, exchange: "", routingKey: queue), count: window)
        var sent = 0
        while sent < messages {
            let results = try await channel.publishBatch(sent + window <= messages ? batch : Array(batch.prefix(messages - sent)))
            for result in results { try result.get() }
            sent += results.count
        }
    }

    /// Consumes `messages` with manual acks, one per delivery or one `multiple` ack per
    /// `ackEvery`, then waits for one RPC so that every ack has reached the broker.
    private func consumeAll(_ channel: any BrokerChannel, _ queue: String, ackEvery: Int) async throws {
        let consumer = try await channel.consume(queue: queue, options: ConsumeOptions(prefetch: UInt16(min(window, 65_535))))
        var count = 0
        for await delivery in consumer.deliveries {
            count += 1
            if ackEvery == 1 {
                try await channel.ack(deliveryTag: delivery.deliveryTag, multiple: false)
            } else if count % ackEvery == 0 || count == messages {
                try await channel.ack(deliveryTag: delivery.deliveryTag, multiple: true)
            }
            if count == messages { break }
        }
        try await channel.cancel(consumerTag: consumer.tag)
        let left = try await channel.declareQueue(queue, options: QueueOptions(passive: true))
        guard count == messages, left.messageCount == 0 else {
            throw BrokerError.timeout("consumed \(count) of \(messages) messages, \(left.messageCount) left in \(queue)")
        }
    }

    /// Consumes `messages` through `consumeBatches`, acking each batch with one `multiple`
    /// ack of its last delivery, then checks as ``consumeAll(_:_:ackEvery:)`` does.
    private func consumeBatchesAll(_ channel: any BrokerChannel, _ queue: String) async throws {
        let consumer = try await channel.consumeBatches(queue: queue, options: ConsumeOptions(prefetch: UInt16(min(window, 65_535))))
        var count = 0
        for await batch in consumer.batches {
            guard let last = batch.last else { continue }
            count += batch.count
            try await channel.ack(deliveryTag: last.deliveryTag, multiple: true)
            if count >= messages { break }
        }
        try await channel.cancel(consumerTag: consumer.tag)
        let left = try await channel.declareQueue(queue, options: QueueOptions(passive: true))
        guard count == messages, left.messageCount == 0 else {
            throw BrokerError.timeout("consumed \(count) of \(messages) messages in batches, \(left.messageCount) left in \(queue)")
        }
    }

    private func withQueue<T>(_ channel: any BrokerChannel, _ name: String, _ body: (String) async throws -> T) async throws -> T {
        let queue = "brokerbench-\(name)-\(UInt32.random(in: .min ... .max))"
        try await channel.declareQueue(queue, options: .durable)
        do {
            let result = try await body(queue)
            try await channel.deleteQueue(queue, ifUnused: false, ifEmpty: false)
            return result
        } catch {
            _ = try? await channel.deleteQueue(queue, ifUnused: false, ifEmpty: false)
            throw error
        }
    }
}

import Broker
import CRabbitMQ
import RabbitMQBroker

/// The baseline: the same measurements written directly on rabbitmq-c, one thread, no
/// Swift concurrency, no queues in between. "Within 80 % of raw" is measured against it.
struct RawRabbitMQBench {
    let url: AMQPURL
    let body: [UInt8]
    let messages: Int
    let window: Int
    /// The columns to measure (the raw baseline has no unbatched round trip).
    var columns = Set(BenchRow.Column.allCases)

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    func run() throws -> BenchRow {
        try RabbitMQBroker.loadLibrary()
        guard let connection = amqp_new_connection() else { throw Failure(description: "amqp_new_connection failed") }
        defer { amqp_destroy_connection(connection) }
        guard let socket = amqp_tcp_socket_new(connection),
            amqp_socket_open(socket, url.host, Int32(url.port)) == AMQP_STATUS_OK.rawValue
        else {
            throw Failure(description: "raw rabbitmq-c could not connect to \(url.endpoint); start RabbitMQ with scripts/rabbitmq.sh start")
        }
        try check(rabbitchat_login_plain(connection, url.vhost, 0, 131_072, 0, url.user, url.password), "login")
        amqp_channel_open(connection, 1)
        try check(amqp_get_rpc_reply(connection), "channel.open")
        amqp_confirm_select(connection, 1)
        try check(amqp_get_rpc_reply(connection), "confirm.select")
        let raw = RawChannel(connection: connection, body: body)

        var row = BenchRow(label: "raw rabbitmq-c")
        let prefetch = UInt16(min(window, 65_535))
        for column in BenchRow.Column.allCases where columns.contains(column) && column != .roundTrip {
            row[column] = try raw.withQueue { queue in
                switch column {
                case .publishEach:
                    let single = max(200, messages / 20)
                    return try measureSync(single) { for _ in 0..<single { try raw.publishAndConfirm(queue, count: 1) } }
                case .publishBatch:
                    return try measureSync(messages) { try publishAll(raw, queue) }
                case .consumeAck, .consumeMultipleAck, .consumeBatchAck:
                    // ackEvery 0: one `multiple` ack whenever everything received is read.
                    let ackEvery = column == .consumeAck ? 1 : column == .consumeMultipleAck ? 100 : 0
                    try publishAll(raw, queue)
                    return try measureSync(messages) { try raw.consume(queue, count: messages, prefetch: prefetch, ackEvery: ackEvery) }
                case .roundTrip, .roundTripBatch:
                    return try measureSync(messages) { try raw.roundTrip(queue, count: messages, window: window) }
                }
            }
        }
        _ = amqp_connection_close(connection, Int32(AMQP_REPLY_SUCCESS))
        return row
    }

    private func publishAll(_ raw: RawChannel, _ queue: String) throws {
        var sent = 0
        while sent < messages {
            let count = min(window, messages - sent)
            try raw.publishAndConfirm(queue, count: count)
            sent += count
        }
    }
}

func check(_ reply: amqp_rpc_reply_t, _ what: String) throws {
    guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
        throw RawRabbitMQBench.Failure(
            description: "raw rabbitmq-c: \(what) failed (reply type \(reply.reply_type.rawValue), library error \(reply.library_error))")
    }
}

/// Channel 1 of the raw connection, in confirm mode. Used by one thread only.
final class RawChannel {
    let connection: amqp_connection_state_t
    let body: [UInt8]
    private let channel: amqp_channel_t = 1

    init(connection: amqp_connection_state_t, body: [UInt8]) {
        self.connection = connection
        self.body = body
    }

    /// Messages published on the channel so far: the confirm sequence number of the last.
    var published: UInt64 = 0

    func withQueue<T>(_ body: (String) throws -> T) throws -> T {
        let queue = "brokerbench-raw-\(UInt32.random(in: .min ... .max))"
        _ = queue.withCString { amqp_queue_declare(connection, channel, amqp_cstring_bytes($0), 0, 1, 0, 0, amqp_empty_table) }
        try check(amqp_get_rpc_reply(connection), "queue.declare")
        defer {
            _ = queue.withCString { amqp_queue_delete(connection, channel, amqp_cstring_bytes($0), 0, 0) }
            amqp_maybe_release_buffers(connection)
        }
        return try body(queue)
    }

    /// Publishes `count` persistent messages, then reads frames until all are confirmed.
    func publishAndConfirm(_ queue: String, count: Int) throws {
        try publishOnly(queue, count: count)
        let target = published
        var confirmed: UInt64 = 0
        var frame = amqp_frame_t()
        while confirmed < target {
            guard amqp_simple_wait_frame(connection, &frame) == AMQP_STATUS_OK.rawValue else {
                throw RawRabbitMQBench.Failure(description: "raw rabbitmq-c lost the connection while waiting for confirms")
            }
            guard frame.frame_type == UInt8(AMQP_FRAME_METHOD), let decoded = frame.payload.method.decoded else { continue }
            if frame.payload.method.id == UInt32(RABBITCHAT_BASIC_ACK) {
                let ack = decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
                confirmed = max(confirmed, ack.delivery_tag)
            } else if frame.payload.method.id == UInt32(RABBITCHAT_BASIC_NACK) {
                throw RawRabbitMQBench.Failure(description: "raw publish was nacked")
            }
        }
        amqp_maybe_release_buffers(connection)
    }

    /// Sends `count` persistent messages without waiting for their confirms.
    func publishOnly(_ queue: String, count: Int) throws {
        var properties = amqp_basic_properties_t()
        properties._flags = UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG)
        properties.delivery_mode = 2
        try queue.withCString { name in
            try body.withUnsafeBytes { bytes in
                let message = amqp_bytes_t(len: bytes.count, bytes: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                for _ in 0..<count {
                    let status = amqp_basic_publish(connection, channel, amqp_empty_bytes, amqp_cstring_bytes(name), 0, 0, &properties, message)
                    guard status == AMQP_STATUS_OK.rawValue else { throw RawRabbitMQBench.Failure(description: "raw publish failed (\(status))") }
                }
            }
        }
        published += UInt64(count)
    }

    /// Consumes `count` messages with acks: one per message (`ackEvery` 1), one `multiple`
    /// per `ackEvery`, or with `ackEvery` 0 one `multiple` whenever everything received so
    /// far is read (the raw equivalent of acking a batch).
    func consume(_ queue: String, count: Int, prefetch: UInt16, ackEvery: Int) throws {
        amqp_basic_qos(connection, channel, 0, prefetch, 0)
        try check(amqp_get_rpc_reply(connection), "basic.qos")
        let ok = queue.withCString { amqp_basic_consume(connection, channel, amqp_cstring_bytes($0), amqp_empty_bytes, 0, 0, 0, amqp_empty_table) }
        try check(amqp_get_rpc_reply(connection), "basic.consume")
        guard let ok else { throw RawRabbitMQBench.Failure(description: "basic.consume gave no tag") }
        let tag = amqp_bytes_malloc_dup(ok.pointee.consumer_tag)
        defer { amqp_bytes_free(tag) }
        var received = 0
        while received < count {
            amqp_maybe_release_buffers(connection)
            var envelope = amqp_envelope_t()
            let reply = amqp_consume_message(connection, &envelope, nil, 0)
            guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
                // A confirm or other frame: take it off the queue and go on.
                var frame = amqp_frame_t()
                guard amqp_simple_wait_frame(connection, &frame) == AMQP_STATUS_OK.rawValue else {
                    throw RawRabbitMQBench.Failure(description: "raw rabbitmq-c lost the connection while consuming")
                }
                continue
            }
            received += 1
            if ackEvery == 0 {
                if received == count || (amqp_frames_enqueued(connection) == 0 && amqp_data_in_buffer(connection) == 0) {
                    amqp_basic_ack(connection, channel, envelope.delivery_tag, 1)
                }
            } else if ackEvery == 1 {
                amqp_basic_ack(connection, channel, envelope.delivery_tag, 0)
            } else if received % ackEvery == 0 || received == count {
                amqp_basic_ack(connection, channel, envelope.delivery_tag, 1)
            }
            amqp_destroy_envelope(&envelope)
        }
        amqp_basic_cancel(connection, channel, tag)
        try check(amqp_get_rpc_reply(connection), "basic.cancel")
    }
}

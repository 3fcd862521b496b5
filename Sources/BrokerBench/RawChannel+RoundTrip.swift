import CRabbitMQ
import RabbitMQBroker

extension RawChannel {
    /// Publish→deliver→ack on one connection and one thread: publishes a window of
    /// persistent messages on channel 1 and, while waiting for their confirms, consumes them
    /// on channel 2 (prefetch `window`), acking with `multiple` whenever everything received
    /// is read; the next window goes out once the previous one is confirmed. The raw
    /// counterpart of the bridge's batched round trip, without any thread handoff.
    func roundTrip(_ queue: String, count: Int, window: Int) throws {
        let consumerChannel: amqp_channel_t = 2
        amqp_channel_open(connection, consumerChannel)
        try check(amqp_get_rpc_reply(connection), "channel.open")
        defer {
            amqp_channel_close(connection, consumerChannel, Int32(AMQP_REPLY_SUCCESS))
            amqp_maybe_release_buffers(connection)
        }
        amqp_basic_qos(connection, consumerChannel, 0, UInt16(min(window, 65_535)), 0)
        try check(amqp_get_rpc_reply(connection), "basic.qos")
        _ = queue.withCString { amqp_basic_consume(connection, consumerChannel, amqp_cstring_bytes($0), amqp_empty_bytes, 0, 0, 0, amqp_empty_table) }
        try check(amqp_get_rpc_reply(connection), "basic.consume")

        var sent = 0
        var confirmed: UInt64 = published
        var received = 0
        var lastTag: UInt64 = 0
        var ackedTag: UInt64 = 0
        var frame = amqp_frame_t()
        while received < count {
            if sent < count, confirmed == published {
                let next = min(window, count - sent)
                try publishOnly(queue, count: next)
                sent += next
            }
            guard amqp_simple_wait_frame(connection, &frame) == AMQP_STATUS_OK.rawValue else {
                throw RawRabbitMQBench.Failure(description: "raw rabbitmq-c lost the connection in the round trip")
            }
            if frame.frame_type == UInt8(AMQP_FRAME_METHOD), let decoded = frame.payload.method.decoded {
                switch frame.payload.method.id {
                case UInt32(RABBITCHAT_BASIC_ACK):
                    confirmed = max(confirmed, decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee.delivery_tag)
                case UInt32(RABBITCHAT_BASIC_NACK):
                    throw RawRabbitMQBench.Failure(description: "raw publish was nacked")
                case UInt32(RABBITCHAT_BASIC_DELIVER):
                    lastTag = decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee.delivery_tag
                    var message = amqp_message_t()
                    guard amqp_read_message(connection, frame.channel, &message, 0).reply_type == AMQP_RESPONSE_NORMAL else {
                        throw RawRabbitMQBench.Failure(description: "raw rabbitmq-c could not read a delivered message")
                    }
                    amqp_destroy_message(&message)
                    received += 1
                default:
                    break
                }
            }
            if lastTag > ackedTag, received == count || (amqp_frames_enqueued(connection) == 0 && amqp_data_in_buffer(connection) == 0) {
                amqp_basic_ack(connection, consumerChannel, lastTag, 1)
                ackedTag = lastTag
                amqp_maybe_release_buffers(connection)
            }
        }
    }
}

import Broker
import CRabbitMQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Owns one rabbitmq-c connection on its own OS thread.
///
/// Everything that touches `amqp_connection_state_t` runs here: the loop takes commands
/// from the ``ConnectionMailbox`` queue, reads frames (deliveries, confirms, returns, closes)
/// and sleeps in `poll()` on the socket and the wake pipe when there is nothing to do,
/// never longer than a quarter of the heartbeat so rabbitmq-c can send heartbeats and
/// notice a silent broker (two missed heartbeats). RPCs are synchronous on this thread;
/// frames that arrive meanwhile are queued by rabbitmq-c and handled right after.
///
/// Not `Sendable`: it never leaves its thread. Commands receive it as a parameter.
final class ConnectionWorker {
    let mailbox: ConnectionMailbox
    let name: String
    let heartbeatSeconds: Int32
    var connection: amqp_connection_state_t?
    var endpoint = ""
    var channels: [UInt16: ChannelState] = [:]
    private var nextChannelID: UInt16 = 1
    private var freeChannelIDs: [UInt16] = []
    var maxChannels: UInt16 = 2047
    private var socketFD: Int32 = -1
    private var corkDepth = 0
    /// The last strings decoded for delivery fields, reused while the bytes repeat (the
    /// consumer tag, exchange and routing key of consecutive deliveries usually do).
    var consumerTagCache = StringCache()
    var exchangeCache = StringCache()
    var routingKeyCache = StringCache()
    /// Set once the connection is lost or closed by the broker; the loop then ends.
    var fatal: BrokerError?
    /// Set by `close()`; the loop then closes the connection cleanly.
    var closeRequested = false
    /// Consumers cancelled with `basic.cancel-ok`, finished once the frames rabbitmq-c
    /// queued during the RPC (their last deliveries) are handled.
    var consumersToFinish: [(channel: UInt16, tag: String)] = []
    /// The consumer of the last delivery, found again without hashing its tag while
    /// deliveries keep coming to it (the usual case). Forgotten whenever a consumer goes.
    private var lastConsumer: (channel: UInt16, tag: String, handOver: DeliveryHandOver)?
    /// The commands of this loop pass (kept to reuse its buffer).
    private var commands: [ConnectionCommand] = []
    /// Consumers holding deliveries read in this loop pass; flushed at its end.
    private var unflushed: [DeliveryHandOver] = []
    /// The most frames one loop pass reads before it hands deliveries over and looks at
    /// the command queue again.
    static let framesPerPass = 512

    private init(mailbox: ConnectionMailbox, name: String, heartbeatSeconds: Int32) {
        self.mailbox = mailbox
        self.name = name
        self.heartbeatSeconds = heartbeatSeconds
    }

    /// The thread's body: connects to the first URL that answers, reports the outcome to
    /// `connected`, then serves the connection until it closes.
    static func run(
        mailbox: ConnectionMailbox, urls: [AMQPURL], heartbeat: Duration, name: String,
        connected: CheckedContinuation<Result<Void, BrokerError>, Never>
    ) {
        let seconds = heartbeat <= .zero ? 0 : max(1, Int32(clamping: heartbeat.components.seconds))
        let worker = ConnectionWorker(mailbox: mailbox, name: name, heartbeatSeconds: seconds)
        var failures: [String] = []
        for url in urls {
            switch worker.open(url) {
            case .success:
                connected.resume(returning: .success(()))
                worker.serve()
                return
            case .failure(let failure):
                failures.append(failure.why)
            }
        }
        let error = BrokerError.connectionFailed(
            failures.joined(separator: "; ") + ". Is RabbitMQ running? Start it with scripts/rabbitmq.sh start")
        mailbox.markClosed(error)
        connected.resume(returning: .failure(error))
    }

    // MARK: Connecting

    /// Why one address could not be used, as a sentence fragment naming it.
    struct OpenFailure: Error {
        let why: String
    }

    /// Opens the TCP connection, logs in and applies the heartbeat; on failure returns one
    /// sentence naming the address and the reason.
    private func open(_ url: AMQPURL) -> Result<Void, OpenFailure> {
        endpoint = url.endpoint
        guard let state = amqp_new_connection() else { return .failure(OpenFailure(why: "out of memory connecting to \(endpoint)")) }
        let socket: OpaquePointer
        switch Self.makeSocket(state, url: url) {
        case .success(let made):
            socket = made
        case .failure(let failure):
            amqp_destroy_connection(state)
            return .failure(failure)
        }
        var connectTimeout = timeval(tv_sec: 5, tv_usec: 0)
        let status = amqp_socket_open_noblock(socket, url.host, Int32(url.port), &connectTimeout)
        if status != AMQP_STATUS_OK.rawValue {
            amqp_destroy_connection(state)
            if url.tls != nil, let why = Self.tlsFailure(status: status, url: url) {
                return .failure(OpenFailure(why: why))
            }
            let cause =
                status == AMQP_STATUS_SOCKET_ERROR.rawValue || status == AMQP_STATUS_HOSTNAME_RESOLUTION_FAILED.rawValue
                ? connectFailureReason(host: url.host, port: url.port)
                : String(cString: amqp_error_string2(status))
            return .failure(OpenFailure(why: "nothing accepted an AMQP connection at \(endpoint) (\(cause))"))
        }
        var rpcTimeout = timeval(tv_sec: 30, tv_usec: 0)
        _ = amqp_set_rpc_timeout(state, &rpcTimeout)

        let reply: amqp_rpc_reply_t = withArena { arena in
            let capabilities: AMQPTable = [
                "publisher_confirms": true, "consumer_cancel_notify": true, "basic.nack": true,
                "exchange_exchange_bindings": true, "authentication_failure_close": true,
                "per_consumer_qos": true, "connection.blocked": true,
            ]
            var properties = arena.table([
                "connection_name": .string(name),
                "product": "rabbitChat",
                "information": "RabbitMQBroker on rabbitmq-c",
                "capabilities": .table(capabilities),
            ])
            return rabbitchat_login_plain_with_properties(
                state, arena.cString(url.vhost), Int32(AMQP_DEFAULT_MAX_CHANNELS), Int32(AMQP_DEFAULT_FRAME_SIZE),
                heartbeatSeconds, &properties, arena.cString(url.user), arena.cString(url.password))
        }
        guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
            let why: String
            if reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION, reply.reply.id == UInt32(RABBITCHAT_CONNECTION_CLOSE),
                let decoded = reply.reply.decoded
            {
                let close = decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                why =
                    "\(endpoint) refused the login as '\(url.user)' to vhost '\(url.vhost)' with \(close.reply_code) \(swiftString(close.reply_text)); check the user, password and vhost in the URL"
            } else if reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION {
                why = "the AMQP handshake with \(endpoint) failed (\(String(cString: amqp_error_string2(reply.library_error))))"
            } else {
                why = "the AMQP handshake with \(endpoint) failed"
            }
            amqp_destroy_connection(state)
            return .failure(OpenFailure(why: why))
        }
        let negotiated = amqp_get_channel_max(state)
        if negotiated > 0 { maxChannels = UInt16(clamping: negotiated) }
        connection = state
        return .success(())
    }

    /// A plain TCP socket for `amqp://`, a TLS one for `amqps://` with the URL's CA, client
    /// certificate and verification settings (rabbitmq-c checks the peer and the host name
    /// during `amqp_socket_open`). The socket belongs to `state`.
    private static func makeSocket(_ state: amqp_connection_state_t, url: AMQPURL) -> Result<OpaquePointer, OpenFailure> {
        guard let tls = url.tls else {
            guard let socket = amqp_tcp_socket_new(state) else {
                return .failure(OpenFailure(why: "could not create a socket for \(url.endpoint)"))
            }
            return .success(socket)
        }
        guard let socket = amqp_ssl_socket_new(state) else {
            return .failure(OpenFailure(why: "could not create a TLS socket for \(url.endpoint) (rabbitmq-c's OpenSSL did not initialise)"))
        }
        if let file = tls.caCertificateFile, amqp_ssl_socket_set_cacert(socket, file) != AMQP_STATUS_OK.rawValue {
            return .failure(
                OpenFailure(
                    why:
                        "the CA file \(file) (cacertfile in the amqps:// URL for \(url.endpoint)) could not be read as PEM certificates; check the path and its permissions"
                ))
        }
        if let certificate = tls.certificateFile, let key = tls.keyFile,
            amqp_ssl_socket_set_key(socket, certificate, key) != AMQP_STATUS_OK.rawValue
        {
            return .failure(
                OpenFailure(
                    why:
                        "the client certificate \(certificate) or its key \(key) (certfile, keyfile in the amqps:// URL for \(url.endpoint)) could not be read, or they do not match"
                ))
        }
        let verify: amqp_boolean_t = tls.verifyPeer ? 1 : 0
        amqp_ssl_socket_set_verify_peer(socket, verify)
        amqp_ssl_socket_set_verify_hostname(socket, verify)
        return .success(socket)
    }

    /// One sentence for a TLS handshake that failed, or nil when the failure is not TLS's.
    static func tlsFailure(status: Int32, url: AMQPURL) -> String? {
        let trust = url.tls?.caCertificateFile.map { "the CA in \($0)" } ?? "the system's CAs"
        switch status {
        case AMQP_STATUS_SSL_PEER_VERIFY_FAILED.rawValue:
            return
                "the TLS certificate of \(url.endpoint) is not signed by \(trust); give the CA that signed the broker's certificate with ?cacertfile=FILE in the amqps:// URL"
        case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED.rawValue:
            return
                "the TLS certificate of \(url.endpoint) does not name the host '\(url.host)'; connect with a host name the certificate holds, or give the broker a certificate for this name"
        case AMQP_STATUS_SSL_CONNECTION_FAILED.rawValue, AMQP_STATUS_SSL_ERROR.rawValue:
            return
                "the TLS handshake with \(url.endpoint) failed (is it a TLS listener? RabbitMQ's is usually port 5671; the broker may also have refused the certificate or the TLS version)"
        default:
            return nil
        }
    }

    // MARK: The loop

    private func serve() {
        guard let connection else { return }
        let pollTimeout: Int32 = heartbeatSeconds > 0 ? max(100, heartbeatSeconds * 1000 / 4) : 1000
        socketFD = amqp_get_sockfd(connection)
        var descriptors = [
            pollfd(fd: socketFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: mailbox.wakeReadFD, events: Int16(POLLIN), revents: 0),
        ]
        let clock = ContinuousClock()
        var lastRead = clock.now
        let heartbeatCheck = Duration.milliseconds(pollTimeout)
        while fatal == nil, !closeRequested {
            runCommands()
            if fatal != nil || closeRequested { break }
            finishCancelledConsumersIfDone()
            var read = true
            if amqp_frames_enqueued(connection) == 0, amqp_data_in_buffer(connection) == 0 {
                descriptors[0].revents = 0
                descriptors[1].revents = 0
                let ready = poll(&descriptors, 2, pollTimeout)
                if ready < 0, errno != EINTR {
                    lose("poll() failed on the socket (errno \(errno))")
                    break
                }
                if descriptors[1].revents & Int16(POLLIN) != 0 { mailbox.drainWakePipe() }
                // Woken for commands only: reading would find nothing (a `recv` and a `poll`
                // for naught), unless rabbitmq-c is due to look at heartbeats.
                read = ready == 0 || descriptors[0].revents != 0 || clock.now - lastRead >= heartbeatCheck
            }
            guard read else { continue }
            lastRead = clock.now
            readFrames(limit: Self.framesPerPass)
            flushDeliveries()
            amqp_maybe_release_buffers(connection)
            finishCancelledConsumersIfDone()
        }
        shutDown()
    }

    private func runCommands() {
        mailbox.takeCommands(into: &commands)
        defer { commands.removeAll(keepingCapacity: true) }
        // Several commands (a burst of acks, publishes) go out in as few TCP segments as
        // possible: cork the socket while they are written, uncork to flush.
        let cork = commands.count > 1
        if cork { setCork(true) }
        for command in commands {
            if let fatal {
                command.fail(fatal)
            } else {
                command.run(self)
            }
        }
        if cork { setCork(false) }
    }

    /// Runs a synchronous RPC with the socket uncorked: what the cork holds goes out, and so
    /// does the RPC's request at once. (Corked, the request would sit in the kernel until its
    /// 200 ms cork timeout while the thread blocks on the reply: every channel open, declare
    /// or close in a burst of commands took about 200 ms.) The cork is restored afterwards.
    func uncorked<T>(_ body: () -> T) -> T {
        guard socketFD >= 0, corkDepth > 0 else { return body() }
        #if canImport(Glibc)
            var off: Int32 = 0
            _ = setsockopt(socketFD, Int32(IPPROTO_TCP), TCP_CORK, &off, socklen_t(MemoryLayout<Int32>.size))
            defer {
                var on: Int32 = 1
                _ = setsockopt(socketFD, Int32(IPPROTO_TCP), TCP_CORK, &on, socklen_t(MemoryLayout<Int32>.size))
            }
        #endif
        return body()
    }

    /// Corks or uncorks the socket; nested corks are counted so only the outermost flushes.
    func setCork(_ on: Bool) {
        corkDepth += on ? 1 : -1
        guard socketFD >= 0, corkDepth == (on ? 1 : 0) else { return }
        #if canImport(Glibc)
            var value: Int32 = on ? 1 : 0
            _ = setsockopt(socketFD, Int32(IPPROTO_TCP), TCP_CORK, &value, socklen_t(MemoryLayout<Int32>.size))
        #endif
    }

    /// Handles the frames that are ready, without blocking (a zero timeout also lets
    /// rabbitmq-c send a due heartbeat and detect a missed one: the first call of a pass
    /// always gets that far). The pass ends as soon as rabbitmq-c holds nothing more:
    /// asking it again would cost a `recv` and a `poll` that the loop's own `poll` does
    /// anyway, and would usually find nothing.
    private func readFrames(limit: Int) {
        guard let connection else { return }
        var frame = amqp_frame_t()
        var zero = timeval(tv_sec: 0, tv_usec: 0)
        for _ in 0..<limit {
            let status = amqp_simple_wait_frame_noblock(connection, &frame, &zero)
            if status == AMQP_STATUS_TIMEOUT.rawValue { return }
            guard status == AMQP_STATUS_OK.rawValue else {
                lose(Self.describe(status))
                return
            }
            handle(frame)
            if fatal != nil { return }
            if amqp_frames_enqueued(connection) == 0, amqp_data_in_buffer(connection) == 0 { return }
        }
    }

    static func describe(_ status: Int32) -> String {
        if status == AMQP_STATUS_HEARTBEAT_TIMEOUT.rawValue {
            return "the broker missed two heartbeats"
        }
        if status == AMQP_STATUS_CONNECTION_CLOSED.rawValue {
            return "the broker closed the socket"
        }
        return String(cString: amqp_error_string2(status))
    }

    /// Marks the connection lost; the loop ends and fails everything pending.
    func lose(_ why: String) {
        if fatal == nil {
            fatal = .connectionClosed("lost the connection to \(endpoint): \(why).")
        }
    }

    private func handle(_ frame: amqp_frame_t) {
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return }
        let method = frame.payload.method
        guard let decoded = method.decoded else { return }
        let channelID = frame.channel
        switch Int(method.id) {
        case Int(RABBITCHAT_BASIC_DELIVER):
            let deliver = decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            let tag = consumerTagCache.string(deliver.consumer_tag)
            let deliveryTag = deliver.delivery_tag
            let redelivered = deliver.redelivered != 0
            let exchange = exchangeCache.string(deliver.exchange)
            let routingKey = routingKeyCache.string(deliver.routing_key)
            guard let (body, properties) = readContent(channelID) else { return }
            let delivery = Delivery(
                deliveryTag: deliveryTag, consumerTag: tag, redelivered: redelivered, exchange: exchange,
                routingKey: routingKey, body: body, properties: properties)
            if let consumer = consumer(channelID, tag), consumer.emit(delivery) {
                unflushed.append(consumer)
            }
        case Int(RABBITCHAT_BASIC_ACK):
            let ack = decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            if let channel = channels[channelID] {
                complete(channel.confirms.ack(ack.delivery_tag, multiple: ack.multiple != 0))
            }
        case Int(RABBITCHAT_BASIC_NACK):
            let nack = decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            if let channel = channels[channelID] {
                complete(channel.confirms.nack(nack.delivery_tag, multiple: nack.multiple != 0))
            }
        case Int(RABBITCHAT_BASIC_RETURN):
            let returned = decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let exchange = swiftString(returned.exchange)
            let routingKey = swiftString(returned.routing_key)
            guard let (body, _) = readContent(channelID), let channel = channels[channelID] else { return }
            complete(channel.confirms.returned(.init(exchange: exchange, routingKey: routingKey, body: body)))
        case Int(RABBITCHAT_BASIC_CANCEL):
            let cancel = decoded.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            let tag = swiftString(cancel.consumer_tag)
            if cancel.nowait == 0 {
                var ok = amqp_basic_cancel_ok_t(consumer_tag: cancel.consumer_tag)
                _ = amqp_send_method(connection, channelID, amqp_method_number_t(RABBITCHAT_BASIC_CANCEL_OK), &ok)
            }
            lastConsumer = nil
            channels[channelID]?.consumers.removeValue(forKey: tag)?.finish()
        case Int(RABBITCHAT_CHANNEL_CLOSE):
            let close = decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            let error = BrokerError.amqp(code: close.reply_code, text: swiftString(close.reply_text))
            var ok = amqp_channel_close_ok_t(dummy: 0)
            _ = amqp_send_method(connection, channelID, amqp_method_number_t(RABBITCHAT_CHANNEL_CLOSE_OK), &ok)
            finishChannel(channelID, error)
        case Int(RABBITCHAT_CONNECTION_CLOSE):
            let close = decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            brokerClosedConnection(code: close.reply_code, text: swiftString(close.reply_text))
        default:
            break
        }
    }

    /// The consumer `tag` of channel `channelID`, if it still consumes.
    private func consumer(_ channelID: UInt16, _ tag: String) -> DeliveryHandOver? {
        if let last = lastConsumer, last.channel == channelID, last.tag == tag { return last.handOver }
        guard let found = channels[channelID]?.consumers[tag] else { return nil }
        lastConsumer = (channelID, tag, found)
        return found
    }

    /// Hands every consumer the deliveries of this loop pass as one batch (see
    /// ``DeliveryHandOver``).
    private func flushDeliveries() {
        guard !unflushed.isEmpty else { return }
        for consumer in unflushed { consumer.flush() }
        unflushed.removeAll(keepingCapacity: true)
    }

    /// Reads the header and body frames of a delivered, returned or fetched message.
    func readContent(_ channelID: UInt16) -> ([UInt8], MessageProperties)? {
        var message = amqp_message_t()
        let reply = amqp_read_message(connection, channelID, &message, 0)
        guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
            _ = failure(from: reply, channel: channelID)
            return nil
        }
        defer { amqp_destroy_message(&message) }
        return (byteArray(message.body), MessageProperties(message.properties))
    }

    func complete(_ completions: [ConfirmTracker<PublishWaiter>.Completion]) {
        for completion in completions { completion.waiter.resume(completion.results) }
    }

    /// Turns a failed RPC reply into the caller's error, and applies its effect: a
    /// channel exception closes that channel, a connection exception or a library error
    /// ends the connection.
    func failure(from reply: amqp_rpc_reply_t, channel channelID: UInt16) -> BrokerError {
        if reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION, let decoded = reply.reply.decoded {
            if reply.reply.id == UInt32(RABBITCHAT_CHANNEL_CLOSE) {
                let close = decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                let error = BrokerError.amqp(code: close.reply_code, text: swiftString(close.reply_text))
                var ok = amqp_channel_close_ok_t(dummy: 0)
                _ = amqp_send_method(connection, channelID, amqp_method_number_t(RABBITCHAT_CHANNEL_CLOSE_OK), &ok)
                finishChannel(channelID, error)
                return error
            }
            if reply.reply.id == UInt32(RABBITCHAT_CONNECTION_CLOSE) {
                let close = decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                let text = swiftString(close.reply_text)
                brokerClosedConnection(code: close.reply_code, text: text)
                // A connection exception that this call caused (e.g. 540 NOT_IMPLEMENTED for
                // basic.get on a stream) is this call's error; CONNECTION_FORCED (an operator
                // or a shutdown) is a lost connection like any other.
                if close.reply_code == Self.connectionForced { return fatal ?? .connectionClosed(text) }
                return .amqp(code: close.reply_code, text: text)
            }
        }
        if reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION {
            lose(Self.describe(reply.library_error))
        } else {
            lose("an unexpected reply from the broker")
        }
        return fatal ?? .connectionClosed("lost the connection to \(endpoint).")
    }

    static let connectionForced: UInt16 = 320

    private func brokerClosedConnection(code: UInt16, text: String) {
        var ok = amqp_connection_close_ok_t(dummy: 0)
        _ = amqp_send_method(connection, 0, amqp_method_number_t(RABBITCHAT_CONNECTION_CLOSE_OK), &ok)
        if fatal == nil {
            fatal = .connectionClosed("the broker at \(endpoint) closed the connection with \(code) \(text); connect again.")
        }
    }

    // MARK: Channels

    func allocateChannelID() -> UInt16? {
        if let id = freeChannelIDs.popLast() { return id }
        guard nextChannelID <= maxChannels else { return nil }
        defer { nextChannelID += 1 }
        return nextChannelID
    }

    /// Forgets a closed channel: its publishes fail, its consumers finish, its number is
    /// free again.
    func finishChannel(_ id: UInt16, _ reason: BrokerError) {
        guard let channel = channels.removeValue(forKey: id) else { return }
        lastConsumer = nil
        channel.shared.markClosed(reason)
        complete(channel.confirms.failAll(reason))
        for consumer in channel.consumers.values { consumer.finish() }
        channel.consumers.removeAll()
        consumersToFinish.removeAll { $0.channel == id }
        freeChannelIDs.append(id)
    }

    /// Finishes the cancelled consumers once every frame rabbitmq-c queued during their
    /// cancel (their last deliveries) has been handled.
    private func finishCancelledConsumersIfDone() {
        guard !consumersToFinish.isEmpty, fatal == nil, let connection, amqp_frames_enqueued(connection) == 0 else { return }
        lastConsumer = nil
        for (channelID, tag) in consumersToFinish {
            channels[channelID]?.consumers.removeValue(forKey: tag)?.finish()
        }
        consumersToFinish.removeAll()
    }

    // MARK: Closing

    private func shutDown() {
        let reason: BrokerError
        if let fatal {
            reason = fatal
        } else {
            reason = .connectionClosed("the connection to \(endpoint) was closed by the application.")
            _ = amqp_connection_close(connection, Int32(AMQP_REPLY_SUCCESS))
        }
        for id in Array(channels.keys) { finishChannel(id, reason) }
        amqp_destroy_connection(connection)
        connection = nil
        mailbox.markClosed(reason)
    }
}

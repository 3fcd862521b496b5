import Broker

/// A handle on one rabbitmq-c connection; the connection itself lives on its own thread
/// (see ``ConnectionWorker``). Any task may use it. Dropping the handle does not close the
/// connection (its channels may still be in use): call `close()`.
final class RabbitMQConnection: BrokerConnection {
    let mailbox: ConnectionMailbox
    let name: String

    init(mailbox: ConnectionMailbox, name: String) {
        self.mailbox = mailbox
        self.name = name
    }

    func openChannel() async throws(BrokerError) -> any BrokerChannel {
        let shared = try await mailbox.call { worker in worker.openChannel() }
        return RabbitMQChannel(mailbox: mailbox, shared: shared)
    }

    func close() async {
        mailbox.submit(.call(run: { worker in worker.requestClose() }, fail: { _ in }))
        _ = await mailbox.waitUntilClosed()
    }

    var closeReason: BrokerError? {
        mailbox.closeReason
    }

    func waitUntilClosed() async -> BrokerError {
        await mailbox.waitUntilClosed()
    }
}

import Broker

/// A handle on one rabbitmq-c connection; the connection itself lives on its own thread
/// (see ``ConnectionWorker``). Any task may use it. Dropping the handle does not close the
/// connection (its channels may still be in use): call `close()`.
final class RabbitMQConnection: BrokerConnection {
    let core: ConnectionMailbox
    let name: String

    init(core: ConnectionMailbox, name: String) {
        self.core = core
        self.name = name
    }

    func openChannel() async throws(BrokerError) -> any BrokerChannel {
        let shared = try await core.call { worker in worker.openChannel() }
        return RabbitMQChannel(core: core, shared: shared)
    }

    func close() async {
        core.submit(.call(run: { worker in worker.requestClose() }, fail: { _ in }))
        _ = await core.waitUntilClosed()
    }

    var closeReason: BrokerError? {
        core.closeReason
    }

    func waitUntilClosed() async -> BrokerError {
        await core.waitUntilClosed()
    }
}

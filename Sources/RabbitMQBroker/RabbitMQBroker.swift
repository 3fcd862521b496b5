import Broker
import CRabbitMQ

/// The `Broker` backend for RabbitMQ (AMQP 0-9-1), on rabbitmq-c.
///
/// Each connection is owned by one dedicated OS thread (rabbitmq-c is not thread-safe);
/// calls reach it through a queue and a wake pipe, deliveries come back on each consumer's
/// `AsyncStream`, confirms and RPC results through continuations. Heartbeats are on, so a
/// dead broker is noticed within two heartbeats: every pending call then fails with
/// ``BrokerError/connectionClosed(_:)``, every consumer stream finishes and
/// `waitUntilClosed()` returns. Reconnecting is calling ``connect(name:)`` again.
public struct RabbitMQBroker: Broker {
    /// The addresses tried in order by every `connect`.
    public let urls: [AMQPURL]
    /// The AMQP heartbeat interval asked for at login (whole seconds; zero turns it off).
    public let heartbeat: Duration

    /// A broker at `url`, e.g. `amqp://guest:guest@127.0.0.1:5672/`. An empty path or `/`
    /// is the vhost `/`; `%2f` and other escapes are decoded.
    public init(url: String, heartbeat: Duration = .seconds(10)) throws(BrokerError) {
        try self.init(urls: [url], heartbeat: heartbeat)
    }

    /// A broker reachable at any of `urls` (e.g. the nodes of a cluster); each `connect`
    /// tries them in order and uses the first that accepts the login.
    public init(urls: [String], heartbeat: Duration = .seconds(10)) throws(BrokerError) {
        guard !urls.isEmpty else {
            throw .connectionFailed("no AMQP URL was given; pass one such as amqp://guest:guest@127.0.0.1:5672/")
        }
        var parsed: [AMQPURL] = []
        for url in urls { parsed.append(try AMQPURL(parsing: url)) }
        self.urls = parsed
        self.heartbeat = heartbeat
    }

    /// Loads rabbitmq-c (`librabbitmq.so.4`) unless it is loaded already; ``connect(name:)``
    /// does so first. The library is not linked at start-up, so a program that uses only
    /// the in-process broker runs without it; this says in one sentence what to install when
    /// it is missing. Thread-safe; the library is loaded once per process.
    public static func loadLibrary() throws(BrokerError) {
        if let failure = rabbitchat_librabbitmq_load() {
            throw .connectionFailed(String(cString: failure))
        }
    }

    public var displayName: String {
        urls.map(\.description).joined(separator: ", ")
    }

    /// Opens a connection named `name` (its `connection_name`, shown by
    /// `rabbitmqctl list_connections client_properties` and the management UI).
    public func connect(name: String) async throws(BrokerError) -> any BrokerConnection {
        try Self.loadLibrary()
        let mailbox = try ConnectionMailbox()
        let urls = self.urls
        let heartbeat = self.heartbeat
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, BrokerError>, Never>) in
            let started = startOSThread {
                ConnectionWorker.run(mailbox: mailbox, urls: urls, heartbeat: heartbeat, name: name, connected: continuation)
                mailbox.markThreadExited()
            }
            if !started {
                let error = BrokerError.connectionFailed("could not start a thread for the AMQP connection; the process may be out of threads.")
                mailbox.markClosed(error)
                continuation.resume(returning: .failure(error))
            }
        }
        try result.get()
        return RabbitMQConnection(mailbox: mailbox, name: name)
    }
}

import ArgumentParser
import Broker
import InMemoryBroker
import RabbitMQBroker

/// Measures what the chat server asks of a broker: confirmed persistent publishes and
/// consume+ack, on each backend, next to a raw rabbitmq-c baseline measured the same way
/// on this machine. Build with `-c release`; numbers from a debug build mean nothing.
@main
struct BrokerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "BrokerBench",
        abstract: "Confirmed-publish and consume+ack throughput of the broker backends, printed as one table.")

    enum Backend: String, ExpressibleByArgument, CaseIterable {
        case inmemory, rabbitmq, store, all
    }

    @Option(help: "Which backends to measure: inmemory, rabbitmq, store (the built-in broker with a data directory) or all.")
    var backend: Backend = .all

    @Option(help: "The data directory of the store backend (must not exist yet; default: a new one under /tmp, removed afterwards).")
    var dataDir: String?

    @Option(
        help:
            "Instead of the table: fill a data directory with this many history (stream) records and --restart-inbox waiting private messages, then time its reopen."
    )
    var restartHistory: Int?

    @Flag(
        help:
            "Instead of the table: the storage choice by measurement, the SQLite store's group commit against a minimal segmented log with a CRC32 per record (bench-only), --messages records of --size bytes batched by --window, a twentieth awaited one at a time, and from 16 publishers."
    )
    var storageChoice = false

    @Option(help: "Waiting private messages for --restart-history (persistent, in 1,000 durable queues).")
    var restartInbox = 100_000

    @Option(help: "The RabbitMQ to measure against (start one with scripts/rabbitmq.sh start).")
    var url = "amqp://guest:guest@127.0.0.1:5672/"

    @Option(help: "Messages per RabbitMQ measurement (publishes awaited one by one use a twentieth of it).")
    var messages = 20_000

    @Option(help: "Messages per simulator measurement.")
    var simulatorMessages = 200_000

    @Option(help: "Body size in bytes.")
    var size = 64

    @Option(help: "Publishes per confirm window (publishBatch size).")
    var window = 1_000

    @Option(help: "Runs per backend; the table shows each column's median (use 3 or more on a busy machine).")
    var repeats = 1

    @Flag(help: "Measure only the batched columns (consume batches, batched round trip), e.g. to profile them.")
    var batchedOnly = false

    @Option(
        parsing: .upToNextOption,
        help: "Measure only these columns, e.g. to profile one: \(BenchRow.Column.allCases.map(\.rawValue).joined(separator: ", ")).")
    var only: [BenchRow.Column] = []

    @Flag(help: "Also measure raw rabbitmq-c (one thread, no Swift concurrency) as the baseline.")
    var raw = false

    func validate() throws {
        guard messages >= window, simulatorMessages >= window, window > 0, size >= 0, repeats > 0 else {
            throw ValidationError("--messages and --simulator-messages must be at least --window, and --window positive.")
        }
    }

    func run() async throws {
        if let restartHistory {
            try await RestartBench(history: restartHistory, inbox: restartInbox, size: size, dataDir: dataDir).run()
            return
        }
        if storageChoice {
            try await StorageChoiceBench(messages: messages, window: window, size: size, repeats: repeats, dataDir: dataDir).run()
            return
        }
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        let columns: Set<BenchRow.Column> =
            if !only.isEmpty {
                Set(only)
            } else if batchedOnly {
                [.consumeBatchAck, .roundTripBatch]
            } else {
                Set(BenchRow.Column.allCases)
            }
        let useRabbitMQ = backend == .rabbitmq || backend == .all
        var raw: RawRabbitMQBench?
        var bridge: BrokerBenchRun?
        var simulator: BrokerBenchRun?
        if useRabbitMQ {
            let broker: RabbitMQBroker
            let parsed: AMQPURL
            do {
                broker = try RabbitMQBroker(url: url)
                parsed = try AMQPURL(parsing: url)
            } catch {
                throw ValidationError(error.description)
            }
            if self.raw { raw = RawRabbitMQBench(url: parsed, body: body, messages: messages, window: window, columns: columns) }
            bridge = BrokerBenchRun(
                label: "RabbitMQBroker", broker: broker, body: body, messages: messages, window: window,
                columns: columns)
        }
        if backend == .inmemory || backend == .all {
            simulator = BrokerBenchRun(
                label: "InMemoryBroker", broker: InMemoryBroker(), body: body, messages: simulatorMessages,
                window: window, columns: columns)
        }
        var store: BrokerBenchRun?
        var storeDirectory: String?
        if backend == .store || backend == .all {
            let directory = dataDir ?? RestartBench.temporaryDirectory("brokerbench-store")
            storeDirectory = dataDir == nil ? directory : nil
            let broker: InMemoryBroker
            do {
                broker = try InMemoryBroker(dataDirectory: directory)
            } catch {
                throw ValidationError(error.message)
            }
            store = BrokerBenchRun(
                label: "InMemoryBroker+store", broker: broker, body: body, messages: messages, window: window,
                columns: columns)
        }
        defer { if let storeDirectory { RestartBench.remove(storeDirectory) } }
        // Runs are interleaved, so that a busy moment of the machine hits every backend alike.
        var runs: [String: [BenchRow]] = [:]
        var order: [String] = []
        func record(_ row: BenchRow) {
            if runs[row.label] == nil { order.append(row.label) }
            runs[row.label, default: []].append(row)
        }
        for round in 1...repeats {
            if let raw {
                print("round \(round)/\(repeats): raw rabbitmq-c at \(AMQPURL.redacted(url)) ...")
                record(try raw.run())
            }
            if let bridge {
                print("round \(round)/\(repeats): RabbitMQBroker at \(AMQPURL.redacted(url)) ...")
                record(try await bridge.run())
            }
            if let simulator {
                print("round \(round)/\(repeats): InMemoryBroker ...")
                record(try await simulator.run())
            }
            if let store {
                print("round \(round)/\(repeats): InMemoryBroker with a data directory ...")
                record(try await store.run())
            }
        }
        print("")
        print(BenchRow.table(order.map { BenchRow.median(runs[$0] ?? []) }, size: size, window: window))
    }
}

extension BenchRow.Column: ExpressibleByArgument {}

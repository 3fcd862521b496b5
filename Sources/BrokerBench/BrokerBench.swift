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
        case inmemory, rabbitmq, all
    }

    @Option(help: "Which backends to measure: inmemory, rabbitmq or all.")
    var backend: Backend = .all

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

    @Flag(help: "Also measure raw rabbitmq-c (one thread, no Swift concurrency) as the baseline.")
    var raw = false

    func validate() throws {
        guard messages >= window, simulatorMessages >= window, window > 0, size >= 0, repeats > 0 else {
            throw ValidationError("--messages and --simulator-messages must be at least --window, and --window positive.")
        }
    }

    func run() async throws {
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        var rows: [BenchRow] = []
        let useRabbitMQ = backend == .rabbitmq || backend == .all
        if raw, useRabbitMQ {
            print("measuring raw rabbitmq-c at \(url) ...")
            let bench = RawRabbitMQBench(url: try AMQPURL(parsing: url), body: body, messages: messages, window: window)
            rows.append(try await median(of: repeats) { try bench.run() })
        }
        if useRabbitMQ {
            print("measuring RabbitMQBroker at \(url) ...")
            let broker: RabbitMQBroker
            do {
                broker = try RabbitMQBroker(url: url)
            } catch {
                throw ValidationError(error.description)
            }
            let bench = BrokerBenchRun(label: "RabbitMQBroker", broker: broker, body: body, messages: messages, window: window)
            rows.append(try await median(of: repeats) { try await bench.run() })
        }
        if backend == .inmemory || backend == .all {
            print("measuring InMemoryBroker ...")
            let bench = BrokerBenchRun(label: "InMemoryBroker", broker: InMemoryBroker(), body: body, messages: simulatorMessages, window: window)
            rows.append(try await median(of: repeats) { try await bench.run() })
        }
        print("")
        print(BenchRow.table(rows, size: size, window: window))
    }

    private func median(of runs: Int, _ measure: () async throws -> BenchRow) async throws -> BenchRow {
        var rows: [BenchRow] = []
        for _ in 0..<runs { rows.append(try await measure()) }
        return BenchRow.median(rows)
    }
}

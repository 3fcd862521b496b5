import Foundation
import ServerTestSupport
import Synchronization
import Testing

/// The fault scenarios that `scripts/faults.sh` ran, one test each: while `LoadTester --faults`
/// runs public and private traffic (40 clients, public 1/s, private 0.5/s; websocket,
/// xhr-streaming, xhr-polling) against two `rabbitChat` nodes for 30 s, something breaks 3 s in,
/// and no `sent` message may be lost. Each runs on RabbitMQs of its own, started and stopped
/// by the test with `scripts/rabbitmq.sh` (127.0.0.1:5692) or `scripts/rabbitmq-cluster.sh`
/// (5701-5703), never the shared one on 5672, because they break them.
///
/// Pass criteria, all deterministic (no timing is measured against a limit):
/// - every scenario: LoadTester exits 0 (every `sent` message reached every recipient,
///   duplicates dropped by msgId; no message left without `sent`, each `unavailable` retried
///   with the same id; every private message got `delivered`; every client rejoined by itself
///   and sees every client online at the end); both nodes answer /healthz 200 at the end.
/// - broker restart: both nodes answered /healthz 503 meanwhile (sampled every 0.2 s) and
///   counted a broker reconnect; clients got `unavailable`.
/// - closed connections: at least 2 connections closed; both nodes counted a broker reconnect.
/// - killed node: node 0 stopped answering; its clients lost their sessions and all rejoined.
/// - cluster: node 0 counted a broker reconnect; one quorum inbox per client.
///
/// Gated like the RabbitMQ cases: without RabbitMQ they are skipped, unless
/// `RABBITCHAT_REQUIRE_RABBITMQ=1`, when a RabbitMQ that cannot be started fails them.
/// Output (LoadTester's report and log, the nodes' logs) goes to `test-output/faults/NAME/`.
/// Knobs: `FAULTS_CLIENTS` (default 40), `FAULTS_DURATION` (seconds of sending, default 30),
/// `FAULTS_LOG_LEVEL` (the nodes' log level, default warning).
/// `scripts/faults.sh soak` keeps the long soak.
@Suite(
    "Fault scenarios under load (RabbitMQs of their own)", .serialized, .timeLimit(.minutes(10)),
    .enabled(if: TestEnvironment.rabbitMQEnabled, Comment(rawValue: TestEnvironment.skipMessage)))
struct FaultScenarioTests {
    @Test func brokerRestart() async throws {
        try await FaultScenario.run("broker-restart") { scenario in
            let rabbit = try await scenario.ownRabbitMQ()
            try await scenario.startNodes(broker: rabbit.url)
            try await scenario.startLoad()
            // The fault: the broker away for 4 s, 3 s into sending.
            try await Task.sleep(for: .seconds(3))
            try await RabbitMQControl.run(["stop_app"], url: rabbit.url)
            try await Task.sleep(for: .seconds(4))
            try await RabbitMQControl.run(["start_app"], url: rabbit.url)
            let result = try await scenario.finish()
            for node in 0..<2 {
                #expect(scenario.health[node].answered503, "node \(node) never answered /healthz 503 while the broker was down")
                #expect(result.reconnects[node] >= 1, "node \(node) counted no broker reconnect")
            }
            #expect(result.value("faults", "unavailable") >= 1, "no client got unavailable while the broker was down")
        }
    }

    @Test func closedConnections() async throws {
        try await FaultScenario.run("close-connections") { scenario in
            let rabbit = try await scenario.ownRabbitMQ()
            try await scenario.startNodes(broker: rabbit.url)
            try await scenario.startLoad()
            try await Task.sleep(for: .seconds(3))
            let pids = try await RabbitMQControl.run(["list_connections", "pid", "--no-table-headers", "--silent"], url: rabbit.url)
                .split(whereSeparator: \.isWhitespace).map(String.init)
            var closed = 0
            for pid in pids where (try? await RabbitMQControl.run(["close_connection", pid, "closing the server's connection"], url: rabbit.url)) != nil {
                closed += 1
            }
            let result = try await scenario.finish()
            #expect(closed >= 2, "expected to close at least 2 connections (one per node), closed \(closed)")
            for node in 0..<2 {
                #expect(result.reconnects[node] >= 1, "node \(node) counted no broker reconnect")
            }
        }
    }

    @Test func killedNode() async throws {
        try await FaultScenario.run("kill-node") { scenario in
            let rabbit = try await scenario.ownRabbitMQ()
            try await scenario.startNodes(broker: rabbit.url)
            try await scenario.startLoad()
            try await Task.sleep(for: .seconds(3))
            await scenario.kill(node: 0)
            try await Task.sleep(for: .seconds(3))
            try await scenario.startNode(0, broker: rabbit.url)
            let result = try await scenario.finish()
            #expect(scenario.health[0].unanswered, "node 0 never stopped answering /healthz")
            let disconnects = result.value("faults", "disconnects")
            let rejoins = result.value("faults", "reconnects")
            #expect(
                disconnects >= 1 && rejoins >= disconnects,
                "expected the clients of node 0 to lose their sessions and every one to rejoin (\(rejoins) rejoins after \(disconnects) disconnects)")
        }
    }

    @Test func brokerNodeOfAClusterKilled() async throws {
        try await FaultScenario.run("cluster") { scenario in
            let urls = try await scenario.ownCluster()
            try await scenario.startNode(0, broker: [urls[0], urls[1], urls[2]].joined(separator: ","), extra: ["--replicated-queues"])
            try await scenario.startNode(1, broker: [urls[1], urls[2], urls[0]].joined(separator: ","), extra: ["--replicated-queues"])
            try await scenario.startLoad()
            try await Task.sleep(for: .seconds(3))
            // Broker node 1 is the one server node 0 is connected to.
            try await FaultScenario.script("rabbitmq-cluster.sh", ["kill-node", "1"])
            let result = try await scenario.finish()
            #expect(result.reconnects[0] >= 1, "server node 0 did not reconnect to a surviving broker node")
            let queues = try await FaultScenario.script("rabbitmq-cluster.sh", ["ctl", "2", "list_queues", "name", "type", "--no-table-headers", "--silent"])
            let quorum = queues.split(separator: "\n").filter { $0.contains("quorum") }.count
            #expect(quorum >= scenario.clients, "expected one quorum inbox per client, found \(quorum)")
        }
    }
}

/// One scenario's processes and output: its RabbitMQ (started and stopped by it), two
/// `rabbitChat` nodes on ports of their own, their /healthz sampled, and `LoadTester --faults`.
final class FaultScenario {
    let name: String
    let output: URL
    let clients = Int(ProcessInfo.processInfo.environment["FAULTS_CLIENTS"] ?? "") ?? 40
    let duration = Int(ProcessInfo.processInfo.environment["FAULTS_DURATION"] ?? "") ?? 30
    /// The nodes' `--log-level`: `FAULTS_LOG_LEVEL` (`debug` traces every private delivery,
    /// receipt and ack), default `warning`.
    static let nodeLogLevel = ProcessInfo.processInfo.environment["FAULTS_LOG_LEVEL"] ?? "warning"
    let ports: [Int]
    let health = [HealthSamples(), HealthSamples()]
    private var nodes: [LiveServer?] = [nil, nil]
    private var samplers: [Task<Void, Never>] = []
    private var load: ServerProcess?
    private var stops: [() async -> Void] = []

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private init(name: String) throws {
        self.name = name
        output = Self.root.appendingPathComponent("test-output/faults/\(name)")
        try? FileManager.default.removeItem(at: output)
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        ports = [try FreePort.next(), try FreePort.next()]
    }

    /// Runs `body` with a fresh scenario; stops everything it started afterwards, by PID or by
    /// the script that started it, whatever happened.
    static func run(_ name: String, _ body: (FaultScenario) async throws -> Void) async throws {
        let scenario = try FaultScenario(name: name)
        do {
            try await body(scenario)
        } catch {
            await scenario.tearDown()
            throw error
        }
        await scenario.tearDown()
    }

    private func tearDown() async {
        for sampler in samplers { sampler.cancel() }
        if let load { await load.stop(grace: .seconds(5)) }
        for node in nodes.compactMap({ $0 }) { await node.stop() }
        for (index, node) in nodes.enumerated() {
            if let node { try? node.log.write(to: output.appendingPathComponent("node\(index).log"), atomically: true, encoding: .utf8) }
        }
        for stop in stops.reversed() { await stop() }
    }

    // MARK: RabbitMQ

    /// Runs `scripts/NAME` with `arguments` (and `environment` added); returns what it wrote
    /// (standard output and error, through a file). Spawned and reaped here, by its PID: a
    /// script that leaves a daemon behind (`rabbitmq.sh start`) is not always seen to end by
    /// Foundation's `Process`.
    @discardableResult
    static func script(_ name: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> String {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("rabbitchat-faults-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let quoted = ([root.appendingPathComponent("scripts/\(name)").path] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let argv = ["/bin/bash", "-c", "exec /bin/bash \(quoted) </dev/null >'\(log.path)' 2>&1"]
        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { $1 }
        let envp = merged.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // No signal blocked in the script and what it starts (Dispatch's threads block SIGTERM).
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let spawned = withCStrings(argv) { cArgv in
            withCStrings(envp) { cEnvp in posix_spawn(&pid, "/bin/bash", nil, &attributes, cArgv, cEnvp) }
        }
        guard spawned == 0 else { throw FaultScenarioFailure("could not run scripts/\(name): errno \(spawned)") }
        var status: Int32 = 0
        do {
            try await eventually("scripts/\(name) \(arguments.joined(separator: " ")) to end", timeout: .seconds(180), interval: .milliseconds(100)) {
                waitpid(pid, &status, WNOHANG) == pid
            }
        } catch {
            Glibc.kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
            throw error
        }
        let written = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let exited = status & 0x7f == 0
        let code = (status >> 8) & 0xff
        guard exited, code == 0 else {
            throw FaultScenarioFailure(
                "scripts/\(name) \(arguments.joined(separator: " ")) \(exited ? "exited \(code)" : "was killed by signal \(status & 0x7f)"): \(written.suffix(2000))"
            )
        }
        return written
    }

    private static func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
        defer { for pointer in pointers { free(pointer) } }
        return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }

    /// A RabbitMQ of the scenario's own on 127.0.0.1:`FAULTS_AMQP_PORT` (default 5692): one that
    /// answers there already is used and left running; one this starts is stopped at the end.
    /// When none can be started the test is skipped, or fails with `RABBITCHAT_REQUIRE_RABBITMQ=1`.
    func ownRabbitMQ() async throws -> (url: String, port: Int) {
        let port = Int(ProcessInfo.processInfo.environment["FAULTS_AMQP_PORT"] ?? "") ?? 5692
        let url = "amqp://guest:guest@127.0.0.1:\(port)/"
        if TestSocket.accepts(port: port) { return (url, port) }
        // A fresh node: no queues left from earlier runs to recover on every restart.
        try? FileManager.default.removeItem(atPath: "/tmp/rabbitchat-rabbitmq-\(port)/mnesia")
        let environment = ["RABBITMQ_PORT": "\(port)"]
        do {
            try await Self.script("rabbitmq.sh", ["start"], environment: environment)
        } catch {
            try Self.skipUnlessRequired("RabbitMQ could not be started on 127.0.0.1:\(port): \(error)")
        }
        stops.append {
            _ = try? await Self.script("rabbitmq.sh", ["stop"], environment: environment)
            if !TestSocket.accepts(port: port) { try? FileManager.default.removeItem(atPath: "/tmp/rabbitchat-rabbitmq-\(port)") }
        }
        return (url, port)
    }

    /// Three clustered RabbitMQ nodes (`scripts/rabbitmq-cluster.sh`), stopped by that script
    /// at the end; their AMQP URLs.
    func ownCluster() async throws -> [String] {
        do {
            try await Self.script("rabbitmq-cluster.sh", ["start"])
        } catch {
            try Self.skipUnlessRequired("the RabbitMQ cluster could not be started: \(error)")
        }
        stops.append { _ = try? await Self.script("rabbitmq-cluster.sh", ["stop"]) }
        let urls = try await Self.script("rabbitmq-cluster.sh", ["urls"]).trimmingCharacters(in: .whitespacesAndNewlines)
        return urls.split(separator: ",").map(String.init)
    }

    private static func skipUnlessRequired(_ why: String) throws -> Never {
        if TestEnvironment.requireRabbitMQ { throw FaultScenarioFailure(why) }
        try Test.cancel(Comment(rawValue: "\(why): skipped (RABBITCHAT_REQUIRE_RABBITMQ=1 fails instead)"))
    }

    // MARK: Nodes

    /// Starts both nodes on `broker` and samples their /healthz every 0.2 s.
    func startNodes(broker: String, extra: [String] = []) async throws {
        try await startNode(0, broker: broker, extra: extra)
        try await startNode(1, broker: broker, extra: extra)
    }

    /// Starts node `index` on its port (the same one again after a kill) and waits until its
    /// /healthz answers 200; its data directory and the shared secret stay in the scenario's folder.
    func startNode(_ index: Int, broker: String, extra: [String] = []) async throws {
        let port = ports[index]
        nodes[index] = try await LiveServer.start(
            executable: BuiltProduct.rabbitChat,
            arguments: [
                "--port", "\(port)", "--node-id", "faults-\(index)", "--secret-file", output.appendingPathComponent("secret").path,
                "--log-level", Self.nodeLogLevel, "--broker", broker,
            ] + extra,
            environment: ["XDG_DATA_HOME": output.appendingPathComponent("data-node\(index)").path, "RABBITCHAT_BROKER": nil],
            port: port, readiness: .healthy, timeout: .seconds(60))
        if samplers.count <= index {
            let samples = health[index]
            samplers.append(
                Task.detached {
                    while !Task.isCancelled {
                        samples.record((try? TestHTTP.request(port: port, path: "/healthz"))?.status)
                        // The sampling period of the health watch, as in faults.sh.
                        try? await Task.sleep(for: .milliseconds(200))
                    }
                })
        }
    }

    /// SIGKILLs node `index` by its PID and waits until it has ended.
    func kill(node index: Int) async {
        guard let node = nodes[index] else { return }
        node.process.signal(SIGKILL)
        _ = await node.process.waitForExit(timeout: .seconds(10))
        try? node.log.write(to: output.appendingPathComponent("node\(index)-killed.log"), atomically: true, encoding: .utf8)
        nodes[index] = nil
    }

    // MARK: Load

    /// Starts `LoadTester --faults` against both nodes and waits until all its clients joined.
    func startLoad() async throws {
        let arguments =
            [
                "--clients", "\(clients)", "--rooms", "2", "--rate", "1", "--private-rate", "0.5", "--duration", "\(duration)",
                "--drain", "60", "--transports", "websocket=2,xhr-streaming=1,xhr-polling=1", "--progress", "5", "--faults",
                "--presence-timeout", "40", "--report", output.appendingPathComponent("report.json").path,
            ] + ports.flatMap { ["--url", "http://127.0.0.1:\($0)/chat"] }
        let process = try ServerProcess(executable: BuiltProduct.path(of: "LoadTester"), arguments: arguments)
        load = process
        try await process.waitUntil(timeout: .seconds(60), "all \(clients) clients joined") {
            process.standardOutput.contains("all \(clients) clients joined") || process.standardError.contains("all \(clients) clients joined")
        }
    }

    /// The end of each node's log, for a failure's message (empty when `passed`).
    private func nodeLogExcerpts(_ passed: Bool) -> String {
        guard !passed else { return "" }
        return nodes.enumerated().map { index, node in
            "\n--- node \(index) log, last 1,500 characters:\n\(String((node?.log ?? "").suffix(1500)))"
        }.joined()
    }

    /// What every scenario must show: LoadTester passed and both nodes answer /healthz 200
    /// again. Returns the report and each node's broker reconnects.
    func finish() async throws -> FaultResult {
        guard let load else { throw FaultScenarioFailure("no load was started") }
        let status = await load.waitForExit(timeout: .seconds(Int64(duration) + 150))
        try? load.output.combined.write(to: output.appendingPathComponent("loadtester.log"), atomically: true, encoding: .utf8)
        #expect(
            status == 0,
            "LoadTester exited \(status.map(String.init) ?? "not in time"): \(load.output.combined.suffix(1500))\(nodeLogExcerpts(status == 0))")
        var reconnects: [Int] = []
        for (index, node) in nodes.enumerated() {
            let port = ports[index]
            let healthy =
                (try? await eventually("node \(index) to answer /healthz 200", timeout: .seconds(60), interval: .milliseconds(200)) {
                    (try? TestHTTP.request(port: port, path: "/healthz"))?.status == 200
                }) != nil
            #expect(healthy, "node \(index) did not answer /healthz 200 at the end")
            reconnects.append(Int((try? node?.metric("rabbitchat_broker_reconnects_total")) ?? -1))
        }
        let data = (try? Data(contentsOf: output.appendingPathComponent("report.json"))) ?? Data()
        let report = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        #expect(!report.isEmpty, "LoadTester wrote no report")
        return FaultResult(report: report, reconnects: reconnects)
    }
}

/// What a scenario's run left: LoadTester's JSON report and each node's broker reconnects.
struct FaultResult {
    var report: [String: Any]
    var reconnects: [Int]

    /// A number of the report (a path of keys, e.g. "faults", "unavailable"); 0 when absent.
    func value(_ keys: String...) -> Int {
        var value: Any? = report
        for key in keys { value = (value as? [String: Any])?[key] }
        return (value as? Int) ?? (value as? Double).map { Int($0) } ?? 0
    }
}

/// A node's /healthz answers over the scenario, as faults.sh's health files kept them.
final class HealthSamples: Sendable {
    private let samples = Mutex<[Int?]>([])

    func record(_ status: Int?) { samples.withLock { $0.append(status) } }

    /// Whether it answered 503 (up, the broker away) at least once.
    var answered503: Bool { samples.withLock { $0.contains(503) } }
    /// Whether it did not answer at least once.
    var unanswered: Bool { samples.withLock { $0.contains(where: { $0 == nil }) } }
}

struct FaultScenarioFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

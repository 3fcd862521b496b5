import Broker
import InMemoryBroker
import ServerTestSupport
import Testing

/// The differential test: seeded random sequences of AMQP operations run in lockstep on the
/// simulator and on RabbitMQ; after every step the observable results must be equal: what
/// each step returned (including which error code), what each consumer got in what order
/// with which redelivered flags, and which channels and consumers are closed.
///
/// Replay one seed with `RABBITCHAT_DIFF_SEED=<seed>`; every failure names its seed.
/// `RABBITCHAT_DIFF_RUNS=<n>` runs seeds 1…n (default 8).
@Suite("Differential: simulator vs RabbitMQ")
struct DifferentialTests {
    static let seeds: [UInt64] = {
        if let text = TestEnvironment.environment("RABBITCHAT_DIFF_SEED"), let seed = UInt64(text) { return [seed] }
        let runs = TestEnvironment.environment("RABBITCHAT_DIFF_RUNS").flatMap { UInt64($0) } ?? 8
        return Array(1...max(runs, 1))
    }()

    static let steps = 120

    @Test(arguments: seeds)
    func randomOperationSequencesObserveTheSameOnBothBackends(seed: UInt64) async throws {
        try await withTestBroker(.rabbitMQ) { rabbit in
            try await withTestBroker(.inMemory) { simulator in
                try await compare(seed: seed, simulator: DifferentialWorld(simulator), rabbit: DifferentialWorld(rabbit))
            }
        }
    }

    /// Runs the seed's operations in lockstep. At each step in `restartAt` both brokers restart
    /// (the worlds know how), after a few fixed steps that leave something for the restart to
    /// keep: three persistent messages in the durable queue q1, the first taken by `basic.get`
    /// and not acked (so that its redelivered flag is at stake), the others never delivered
    /// (unless a consumer of q1 takes them).
    func compare(
        seed: UInt64, simulator: DifferentialWorld, rabbit: DifferentialWorld,
        steps: Int = Self.steps, restartAt: Set<Int> = []
    ) async throws {
        try await simulator.setUp()
        try await rabbit.setUp()
        var generator = SeededGenerator(seed: seed)
        var log: [String] = []
        var nextBody = 0
        var nextSlot = 0
        for step in 0..<steps {
            let operations =
                restartAt.contains(step)
                ? Self.beforeRestart(simulator, &nextBody) + [.restart]
                : [Self.agreed(Self.next(&generator, simulator, &nextBody, &nextSlot), simulator, rabbit)]
            for operation in operations {
                let expected = await simulator.run(operation)
                let actual = await rabbit.run(operation)
                log.append("\(step): \(operation) -> \(expected)")
                if expected != actual {
                    Self.fail(seed, log, "step \(step) \(operation): simulator said '\(expected)', RabbitMQ said '\(actual)'")
                    return
                }
                try await Self.barrier(after: operation, simulator, rabbit)
                if let difference = await Self.converge(simulator, rabbit) {
                    Self.fail(seed, log, difference)
                    return
                }
            }
        }
        // A barrier instead of a quiet period: every open consumer cancelled and read to the end.
        await simulator.cancelConsumers()
        await rabbit.cancelConsumers()
        if let difference = await Self.converge(simulator, rabbit) {
            Self.fail(seed, log, difference)
        }
    }

    /// The fixed steps before a restart (see ``compare(seed:simulator:rabbit:steps:restartAt:)``),
    /// on the first open channel (connecting one when none is open).
    private static func beforeRestart(_ world: DifferentialWorld, _ nextBody: inout Int) -> [DifferentialOperation] {
        world.absorb()
        var operations: [DifferentialOperation] = []
        let open = (0..<DifferentialWorld.channelSlots).first { world.channels[$0] != nil && world.channels[$0]?.closeReason == nil }
        let ch = open ?? 0
        if open == nil {
            if world.connections[0] == nil || world.connections[0]?.closeReason != nil { operations.append(.connect(connection: 0)) }
            operations.append(.openChannel(channel: 0))
        }
        operations.append(.declareQueue(channel: ch, queue: 1, mismatched: false))
        for _ in 0..<3 {
            nextBody += 1
            operations.append(.publish(channel: ch, exchange: nil, key: "", queue: 1, mandatory: false, persistent: true, body: "m\(nextBody)"))
        }
        operations.append(.get(channel: ch, queue: 1, autoAck: false))
        return operations
    }

    private static func fail(_ seed: UInt64, _ log: [String], _ what: String) {
        let message =
            "Differential run with seed \(seed) diverged (replay: RABBITCHAT_DIFF_SEED=\(seed)): \(what)\nLast steps:\n"
            + log.suffix(60).joined(separator: "\n")
        print(message)
        Issue.record(Comment(rawValue: message))
    }

    /// RabbitMQ applies acks, closes and requeues asynchronously: give the queues a round
    /// trip (a passive declare on the same channel reaches the queue after the ack) or a
    /// moment before the next step, on both sides alike.
    private static func barrier(after operation: DifferentialOperation, _ simulator: DifferentialWorld, _ rabbit: DifferentialWorld) async throws {
        switch operation {
        case .settle(let ch, _, _, _):
            let existing = Set(simulator.t.inMemory?.queueNames ?? [])
            for q in 0..<DifferentialWorld.queueCount where existing.contains(simulator.queue(q)) {
                if q == 4 && simulator.exclusiveOwner != ch / 2 { continue }
                let a = await simulator.run(.checkQueue(channel: ch, queue: q))
                let b = await rabbit.run(.checkQueue(channel: ch, queue: q))
                if a != b { return }
            }
            try await Task.sleep(for: .milliseconds(10))
        case .closeChannel, .closeConnection, .cancel:
            try await Task.sleep(for: .milliseconds(60))
        case .deleteQueue, .purge:
            try await Task.sleep(for: .milliseconds(10))
        default:
            break
        }
    }

    /// Waits (bounded) until RabbitMQ's observable state equals the simulator's; returns the
    /// difference when it does not.
    private static func converge(_ simulator: DifferentialWorld, _ rabbit: DifferentialWorld) async -> String? {
        // Both sides are read anew each round: the simulator decides synchronously, but the
        // test's collectors see a finished stream only when their own task gets to it.
        var expected = await simulator.snapshot()
        let deadline = ContinuousClock.now + .seconds(3)
        var actual = await rabbit.snapshot()
        while actual != expected, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
            expected = await simulator.snapshot()
            actual = await rabbit.snapshot()
        }
        guard actual != expected else { return nil }
        let lines = zip(expected, actual).filter { $0 != $1 }.map { "  simulator: \($0)\n  RabbitMQ:  \($1)" }
        return "observable state differs:\n" + lines.joined(separator: "\n")
            + (expected.count != actual.count ? "\n  (\(expected.count) vs \(actual.count) lines)" : "")
    }

    /// A `multiple` settle covers every earlier delivery of the channel; RabbitMQ's queues
    /// deliver concurrently, so which deliveries of other queues came earlier is not
    /// determined. When the two backends disagree on that set, settle just the one.
    private static func agreed(_ operation: DifferentialOperation, _ simulator: DifferentialWorld, _ rabbit: DifferentialWorld) -> DifferentialOperation {
        guard case .settle(let ch, let body, let q, let kind) = operation else { return operation }
        rabbit.absorb()
        func covered(_ world: DifferentialWorld) -> Set<String> {
            guard let index = world.unacked[ch].firstIndex(where: { $0.delivery.text == body && $0.queue == q }) else { return [] }
            return Set(world.unacked[ch][...index].map { "\($0.queue):\($0.delivery.text)" })
        }
        guard covered(simulator) != covered(rabbit) else { return operation }
        switch kind {
        case .ack(true): return .settle(channel: ch, body: body, queue: q, kind: .ack(multiple: false))
        case .nack(true, let requeue): return .settle(channel: ch, body: body, queue: q, kind: .nack(multiple: false, requeue: requeue))
        default: return operation
        }
    }

    /// Picks the next operation, using the simulator's state to keep most steps meaningful.
    private static func next(_ g: inout SeededGenerator, _ world: DifferentialWorld, _ nextBody: inout Int, _ nextSlot: inout Int) -> DifferentialOperation {
        let open = (0..<DifferentialWorld.channelSlots).filter { world.channels[$0]?.closeReason == nil && world.channels[$0] != nil }
        let ch =
            (open.isEmpty || Int.random(in: 0..<10, using: &g) == 0)
            ? Int.random(in: 0..<DifferentialWorld.channelSlots, using: &g) : open.randomElement(using: &g)!
        let q = Int.random(in: 0..<DifferentialWorld.queueCount, using: &g)
        let x = Int.random(in: 0..<DifferentialWorld.exchangeKinds.count, using: &g)
        let bindingKeys = ["a", "b", "a.b", "a.*", "#", "*.b"]
        let routingKeys = ["a", "b", "a.b", "c"]
        world.absorb()
        if world.channels[ch]?.closeReason != nil, Bool.random(using: &g) {
            return world.connections[ch / 2]?.closeReason == nil ? .openChannel(channel: ch) : .connect(connection: ch / 2)
        }
        if !(world.t.inMemory?.queueNames.contains(world.queue(q)) ?? true), Bool.random(using: &g) {
            return .declareQueue(channel: ch, queue: q, mismatched: false)
        }
        let roll = Int.random(in: 0..<100, using: &g)
        switch roll {
        case 0..<28:
            nextBody += 1
            let toDefault = Bool.random(using: &g)
            return .publish(
                channel: ch, exchange: toDefault ? nil : x, key: routingKeys.randomElement(using: &g)!, queue: q,
                mandatory: Int.random(in: 0..<3, using: &g) == 0, persistent: Bool.random(using: &g), body: "m\(nextBody)")
        case 28..<46:
            let candidates = (0..<DifferentialWorld.channelSlots).filter { !world.unacked[$0].isEmpty }
            guard let target = candidates.randomElement(using: &g) else { return .get(channel: ch, queue: q, autoAck: false) }
            let index = Int.random(in: 0..<world.unacked[target].count, using: &g)
            let kind: DifferentialOperation.SettleKind =
                switch Int.random(in: 0..<3, using: &g) {
                case 0: .ack(multiple: Bool.random(using: &g))
                case 1: .nack(multiple: Bool.random(using: &g), requeue: Bool.random(using: &g))
                default: .reject(requeue: Bool.random(using: &g))
                }
            let entry = world.unacked[target][index]
            return .settle(channel: target, body: entry.delivery.text, queue: entry.queue, kind: kind)
        case 46..<54:
            return .get(channel: ch, queue: q, autoAck: Bool.random(using: &g))
        case 54..<63:
            nextSlot += 1
            return .consume(
                channel: ch, queue: q, slot: nextSlot, prefetch: UInt16.random(in: 1...3, using: &g),
                noAck: Int.random(in: 0..<8, using: &g) == 0, exclusive: Int.random(in: 0..<8, using: &g) == 0)
        case 63..<67:
            guard let slot = world.consumers.keys.sorted().randomElement(using: &g) else { return .declareQueue(channel: ch, queue: q, mismatched: false) }
            return .cancel(slot: slot)
        case 67..<77:
            return .declareQueue(channel: ch, queue: q, mismatched: Int.random(in: 0..<8, using: &g) == 0)
        case 77..<85:
            return .bind(channel: ch, queue: q, exchange: x, key: bindingKeys.randomElement(using: &g)!)
        case 85..<88:
            return .unbind(channel: ch, queue: q, exchange: x, key: bindingKeys.randomElement(using: &g)!)
        case 88..<90:
            return .deleteQueue(channel: ch, queue: q)
        case 90..<92:
            return .purge(channel: ch, queue: q)
        case 92..<95:
            return world.channels[ch]?.closeReason == nil ? .closeChannel(channel: ch) : .openChannel(channel: ch)
        case 95..<97:
            return .openChannel(channel: ch)
        default:
            let c = Int.random(in: 0..<DifferentialWorld.connectionSlots, using: &g)
            return world.connections[c]?.closeReason == nil ? .closeConnection(connection: c) : .connect(connection: c)
        }
    }
}

/// The durability layer against the model: the same seeded operations, with restarts among
/// them, on the simulator alone (whose `restart()` keeps exactly the durable state in memory)
/// and on the simulator with a data directory (whose `restart()` closes and rebuilds
/// everything from the store). Both must observe the same after every step. The simulator's
/// restart itself is held to RabbitMQ by `RestartContractTests` and `InMemoryFaultTests`.
extension DifferentialTests {
    @Test(arguments: seeds)
    func withRestartsTheStoreRebuildsExactlyWhatTheSimulatorKeeps(seed: UInt64) async throws {
        try await withTestBroker(.inMemory) { model in
            try await withTestBroker(.dataDir) { stored in
                let expected = DifferentialWorld(model, durableExchanges: true)
                let actual = DifferentialWorld(stored, durableExchanges: true)
                try await expected.setUp()
                try await actual.setUp()
                var generator = SeededGenerator(seed: seed &+ 1_000)
                var log: [String] = []
                var nextBody = 0
                var nextSlot = 0
                var restarts = 0
                for step in 0..<Self.steps {
                    let operation: DifferentialOperation =
                        Int.random(in: 0..<20, using: &generator) == 0
                        ? .restart : Self.next(&generator, expected, &nextBody, &nextSlot)
                    if case .restart = operation { restarts += 1 }
                    let a = await expected.run(operation)
                    let b = await actual.run(operation)
                    log.append("\(step): \(operation) -> \(a)")
                    if a != b {
                        Self.fail(seed, log, "step \(step) \(operation): in memory said '\(a)', with a data directory '\(b)'")
                        return
                    }
                    if let difference = await Self.converge(expected, actual) {
                        Self.fail(seed, log, difference)
                        return
                    }
                }
                #expect(restarts > 0)
            }
        }
    }
}

/// The store against RabbitMQ itself: the simulator with a data directory and a private
/// RabbitMQ node run the same seeded operations in lockstep (`DifferentialTests`), with a few
/// restarts among them (`restart()` on the simulator, a real reopen of the store; `stop_app`
/// and `start_app` on RabbitMQ's node, seconds each). After every step, the same observable
/// state, redelivered flags included. It needs the private node of the restart contract
/// (`RABBITCHAT_RESTART_RABBITMQ_PORT`, which scripts/test sets): without it it is skipped,
/// and under `RABBITCHAT_REQUIRE_RABBITMQ=1` it fails. It lives in the restart contract's
/// suite, which runs its tests one at a time: both restart that node. Seeds:
/// `RABBITCHAT_DIFF_SEED`, or `RABBITCHAT_DIFF_RUNS` (default 2 here, to keep its cost near
/// half a minute).
extension RabbitMQRestartContractTests {
    static let differentialSeeds: [UInt64] = {
        if let text = TestEnvironment.environment("RABBITCHAT_DIFF_SEED"), let seed = UInt64(text) { return [seed] }
        let runs = TestEnvironment.environment("RABBITCHAT_DIFF_RUNS").flatMap { UInt64($0) } ?? 2
        return Array(1...max(runs, 1))
    }()

    static let restartsPerRun = 2
    static let stepsWithRestarts = 90

    @Test(
        .enabled(
            if: port != nil || TestEnvironment.requireRabbitMQ,
            "set RABBITCHAT_RESTART_RABBITMQ_PORT to a private RabbitMQ node's port (RABBITMQ_PORT=5694 scripts/rabbitmq.sh start) to run the differential test with restarts on RabbitMQ"
        ),
        arguments: differentialSeeds)
    func differentialRunsWithRestartsObserveTheSameOnTheStoreAndOnRabbitMQ(seed: UInt64) async throws {
        let port = try #require(
            Self.port,
            "RABBITCHAT_RESTART_RABBITMQ_PORT is not set under RABBITCHAT_REQUIRE_RABBITMQ=1: start a private node (RABBITMQ_PORT=5694 scripts/rabbitmq.sh start) and set the variable to its port, as scripts/test does."
        )
        let url = "amqp://guest:guest@127.0.0.1:\(port)/"
        let rabbit = try TestBroker(.rabbitMQ, rabbitMQURL: url)
        let restarts = Counter()
        do {
            try await withTestBroker(.dataDir) { simulator in
                var generator = SeededGenerator(seed: seed &+ 2_000)
                var restartAt: Set<Int> = []
                while restartAt.count < Self.restartsPerRun {
                    restartAt.insert(Int.random(in: 10..<Self.stepsWithRestarts, using: &generator))
                }
                let restart: () async throws -> Void = {
                    try await RabbitMQControl.run(["stop_app"], url: url)
                    try await RabbitMQControl.run(["start_app"], url: url)
                    try await Self.waitUntilAccepting(rabbit)
                    restarts.add()
                }
                try await DifferentialTests().compare(
                    seed: seed, simulator: DifferentialWorld(simulator, durableExchanges: true),
                    rabbit: DifferentialWorld(rabbit, durableExchanges: true, restartRabbitMQ: restart),
                    steps: Self.stepsWithRestarts, restartAt: restartAt)
            }
            await rabbit.cleanUp()
        } catch {
            await rabbit.cleanUp()
            throw error
        }
        #expect(restarts.value == Self.restartsPerRun, "RabbitMQ restarted \(restarts.value) times, not \(Self.restartsPerRun)")
    }

    /// Counts restarts (from the restart closure, which runs on the test's own task).
    final class Counter {
        var value = 0
        func add() { value += 1 }
    }

    /// Waits (at most 30 s) until RabbitMQ accepts a connection again after `start_app`.
    static func waitUntilAccepting(_ rabbit: TestBroker) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            do {
                await (try await rabbit.broker.connect(name: rabbit.prefix + "probe")).close()
                return
            } catch {
                if ContinuousClock.now >= deadline { throw error }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }
}

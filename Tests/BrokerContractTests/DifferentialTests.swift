import Broker
import BrokerTestSupport
import InMemoryBroker
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

    private func compare(seed: UInt64, simulator: DifferentialWorld, rabbit: DifferentialWorld) async throws {
        try await simulator.setUp()
        try await rabbit.setUp()
        var generator = SeededGenerator(seed: seed)
        var log: [String] = []
        var nextBody = 0
        var nextSlot = 0
        for step in 0..<Self.steps {
            let operation = Self.agreed(Self.next(&generator, simulator, &nextBody, &nextSlot), simulator, rabbit)
            let expected = await simulator.run(operation)
            let actual = await rabbit.run(operation)
            log.append("\(step): \(operation) -> \(expected)")
            if expected != actual {
                Self.fail(seed, log, "step \(step) \(operation): simulator said '\(expected)', RabbitMQ said '\(actual)'")
                return
            }
            try await Self.barrier(after: operation, simulator, rabbit)
            if let difference = await Self.converge(simulator, rabbit, quiet: false) {
                Self.fail(seed, log, difference)
                return
            }
        }
        if let difference = await Self.converge(simulator, rabbit, quiet: true) {
            Self.fail(seed, log, difference)
        }
    }

    private static func fail(_ seed: UInt64, _ log: [String], _ what: String) {
        let message = "Differential run with seed \(seed) diverged (replay: RABBITCHAT_DIFF_SEED=\(seed)): \(what)\nLast steps:\n" + log.suffix(60).joined(separator: "\n")
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
    /// difference when it does not. With `quiet`, first waits for stragglers.
    private static func converge(_ simulator: DifferentialWorld, _ rabbit: DifferentialWorld, quiet: Bool) async -> String? {
        if quiet { try? await Task.sleep(for: .milliseconds(300)) }
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
        return "observable state differs:\n" + lines.joined(separator: "\n") + (expected.count != actual.count ? "\n  (\(expected.count) vs \(actual.count) lines)" : "")
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
        let ch = (open.isEmpty || Int.random(in: 0..<10, using: &g) == 0) ? Int.random(in: 0..<DifferentialWorld.channelSlots, using: &g) : open.randomElement(using: &g)!
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
            return .publish(channel: ch, exchange: toDefault ? nil : x, key: routingKeys.randomElement(using: &g)!, queue: q,
                            mandatory: Int.random(in: 0..<3, using: &g) == 0, persistent: Bool.random(using: &g), body: "m\(nextBody)")
        case 28..<46:
            let candidates = (0..<DifferentialWorld.channelSlots).filter { !world.unacked[$0].isEmpty }
            guard let target = candidates.randomElement(using: &g) else { return .get(channel: ch, queue: q, autoAck: false) }
            let index = Int.random(in: 0..<world.unacked[target].count, using: &g)
            let kind: DifferentialOperation.SettleKind = switch Int.random(in: 0..<3, using: &g) {
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
            return .consume(channel: ch, queue: q, slot: nextSlot, prefetch: UInt16.random(in: 1...3, using: &g),
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
                    let operation: DifferentialOperation = Int.random(in: 0..<20, using: &generator) == 0
                        ? .restart : Self.next(&generator, expected, &nextBody, &nextSlot)
                    if case .restart = operation { restarts += 1 }
                    let a = await expected.run(operation)
                    let b = await actual.run(operation)
                    log.append("\(step): \(operation) -> \(a)")
                    if a != b {
                        Self.fail(seed, log, "step \(step) \(operation): in memory said '\(a)', with a data directory '\(b)'")
                        return
                    }
                    if let difference = await Self.converge(expected, actual, quiet: false) {
                        Self.fail(seed, log, difference)
                        return
                    }
                }
                #expect(restarts > 0)
            }
        }
    }
}

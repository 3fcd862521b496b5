import ChatClient
import Histogram
import NIOCore
import NIOPosix

/// One load run: connect and join every client at the ramp rate, send for the duration,
/// drain, collect every ledger, verify, and report. Progress lines go to `print` as it runs.
struct LoadRun {
    let scenario: LoadScenario
    let log: @Sendable (String) -> Void

    /// The run failed before verifying anything (nothing listens, clients could not join).
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func run() async throws -> LoadReport {
        let plan = scenario.plan
        try await preflight()
        let servers = resolveServers()
        let rssBefore = servers.map { $0.residentBytes() }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: scenario.threads)
        do {
            let report = try await run(plan: plan, group: group, servers: servers, rssBefore: rssBefore)
            try? await group.shutdownGracefully()
            return report
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private func run(
        plan: LoadPlan,
        group: MultiThreadedEventLoopGroup,
        servers: [ServerProcess],
        rssBefore: [Int?]
    ) async throws -> LoadReport {
        let loops = Array(group.makeIterator())
        var statistics: [NIOLoopBoundBox<LoopStatistics>] = []
        for loop in loops {
            statistics.append(try await loop.submit { NIOLoopBoundBox(LoopStatistics(), eventLoop: loop) }.get())
        }
        let counters = ProgressCounters()

        // Connect and join, at the ramp rate.
        let connectStart = ContinuousClock.now
        var users: [NIOLoopBound<SimulatedUser>] = []
        users.reserveCapacity(scenario.clients)
        let progress = ProgressPrinter(scenario: scenario, counters: counters, statistics: statistics, log: log)
        var nextProgress = ContinuousClock.now + .seconds(scenario.progressInterval)
        try await ramp(scenario.clients, phase: "connecting", progress: progress, nextProgress: &nextProgress) { index in
            let loop = loops[index % loops.count]
            let stats = statistics[index % loops.count]
            let endpoint = scenario.endpoint(for: index)
            let transport = scenario.transports.transport(for: index)
            let padding = scenario.padding
            let ignored = scenario.faults.ignorePublicDelivery[index]
            let resumes = scenario.resumeDrops != nil
            let recovery = scenario.faultTolerant || resumes ? FaultRecovery(endpoints: scenario.endpoints) : nil
            users.append(
                try await loop.submit {
                    let user = SimulatedUser(
                        index: index,
                        plan: plan,
                        endpoint: endpoint,
                        transport: transport,
                        eventLoop: loop,
                        statistics: stats.value,
                        counters: counters,
                        padding: padding,
                        ignoredPublicDelivery: ignored,
                        recovery: recovery,
                        resumes: resumes
                    )
                    let handle = NIOLoopBound(user, eventLoop: loop)
                    user.connect(handle: handle)
                    return handle
                }.get()
            )
        }
        // The ramp runs slower than asked when the clients' loops are busy (a big chat's
        // welcomes are large): every client gets at least 30 s after its connection started.
        try await settle(scenario.clients, from: connectStart, phase: "joining", progress: progress, nextProgress: &nextProgress) {
            counters.load(.joined) + counters.load(.failedToJoin)
        }
        let connectSeconds = (ContinuousClock.now - connectStart).seconds
        let joined = counters.load(.joined)
        if joined < scenario.clients { try await Self.fail(users, done: joined, verb: "joined", seconds: connectSeconds) }
        log("all \(joined) clients joined in \(Self.format(seconds: connectSeconds))")
        let rssJoined = servers.map { $0.residentBytes() }

        // `--rejoin-away`: everyone leaves at once and comes back by device session.
        var rejoinSeconds: Double?
        if let away = scenario.rejoinAway {
            rejoinSeconds = try await rejoinAll(users, away: away, counters: counters, progress: progress, nextProgress: &nextProgress)
        }

        // Send.
        let sendStart = ContinuousClock.now
        let until = SimulatedUser.now() + UInt64(scenario.duration * 1_000_000_000)
        let publicRate = scenario.rate
        let privateRate = scenario.privateRate
        for (index, user) in users.enumerated() {
            var drop: (after: Double, away: Double)?
            if let drops = scenario.resumeDrops, drops.drops(index) {
                drop = (Double.random(in: drops.moment) * scenario.duration, Double.random(in: drops.away))
            }
            let planned = drop
            user.eventLoop.execute {
                user.value.startSending(publicRate: publicRate, privateRate: privateRate, until: until, drop: planned)
            }
        }
        let sendEnd = sendStart + .seconds(scenario.duration)
        while ContinuousClock.now < sendEnd {
            try await Task.sleep(until: min(sendEnd, nextProgress))
            if ContinuousClock.now >= nextProgress {
                await progress.print(phase: "sending")
                nextProgress = ContinuousClock.now + .seconds(scenario.progressInterval)
            }
        }
        let rssSent = servers.map { $0.residentBytes() }

        // Drain.
        let drainDeadline = ContinuousClock.now + .seconds(scenario.drain)
        while !counters.isDrained, ContinuousClock.now < drainDeadline {
            try await Task.sleep(for: .milliseconds(20))
            if ContinuousClock.now >= nextProgress {
                await progress.print(phase: "draining")
                nextProgress = ContinuousClock.now + .seconds(scenario.progressInterval)
            }
        }
        let deliveryWindow = (ContinuousClock.now - sendStart).seconds
        let presenceNotConverged = scenario.faultTolerant ? try await Self.awaitPresence(users, timeout: scenario.presenceTimeout) : 0
        await progress.print(phase: "done")

        // Collect and verify.
        let ledgers = try await Self.collect(users) { user -> ClientLedger in
            user.finish()
            return user.ledger
        }
        var latency = LoopStatistics.makeHistogram()
        var connect = LoopStatistics.makeHistogram()
        var rejoinLatency = LoopStatistics.makeHistogram()
        for box in statistics {
            let (l, c, r) = try await box.eventLoop.submit { (box.value.latency, box.value.connect, box.value.rejoin) }.get()
            latency.add(l)
            connect.add(c)
            rejoinLatency.add(r)
        }
        var verdict = DeliveryVerifier.verify(plan: plan, ledgers: ledgers)
        verdict.tolerated.presenceNotConverged = presenceNotConverged
        var rejoin: RejoinFigures?
        if rejoinSeconds != nil {
            var figures = RejoinFigures()
            for one in try await Self.collect(users, { $0.rejoin }) { figures.add(one) }
            rejoin = figures
            if figures.newDevice > 0 {
                verdict.violations.record(.unexpected, "\(figures.newDevice) rejoins by device session got a welcome for another device")
            }
        }
        if presenceNotConverged > 0 {
            verdict.violations.record(
                .unexpected, "\(presenceNotConverged) clients did not see every client online within \(Int(scenario.presenceTimeout)) s of the end")
        }
        return LoadReport(
            scenario: scenario,
            connectSeconds: connectSeconds,
            connectLatency: connect,
            rejoinSeconds: rejoinSeconds,
            rejoinLatency: rejoinLatency,
            rejoin: rejoin,
            sendSeconds: scenario.duration,
            deliveryWindowSeconds: deliveryWindow,
            latency: latency,
            verdict: verdict,
            servers: zip(servers, zip(rssBefore, zip(rssJoined, rssSent))).map { server, rss in
                LoadReport.ServerMemory(pid: server.pid, before: rss.0, joined: rss.1.0, end: rss.1.1)
            }
        )
    }

    /// Fails fast, with one sentence, when nothing listens at one of the URLs or what listens
    /// there is not a SockJS service (its `/info` does not answer 200).
    private func preflight() async throws {
        for endpoint in scenario.endpoints {
            let outcome = try await HTTPStatusProbe.get(
                "\(endpoint.prefix)/info",
                at: endpoint,
                on: MultiThreadedEventLoopGroup.singleton.next()
            ).get()
            switch outcome {
            case .status(200):
                continue
            case .status(let code):
                throw Failure(
                    description:
                        "The server at \(endpoint) answered \(code) to \(endpoint.prefix)/info: check that the URL ends with the chat's SockJS prefix (/chat)."
                )
            case .failed(let reason) where reason.hasPrefix("Nothing is listening"):
                throw Failure(
                    description: "Nothing is listening at \(endpoint): start the server (scripts/run starts it on port 9191) or pass its address with --url."
                )
            case .failed(let reason):
                throw Failure(description: reason)
            }
        }
    }

    private func resolveServers() -> [ServerProcess] {
        if !scenario.serverPIDs.isEmpty { return scenario.serverPIDs.map(ServerProcess.init(pid:)) }
        let local = ["127.0.0.1", "localhost", "::1"]
        var found: [ServerProcess] = []
        for endpoint in scenario.endpoints where local.contains(endpoint.host) {
            if let server = ServerProcess.listening(onPort: endpoint.port), !found.contains(server) { found.append(server) }
        }
        return found
    }

    /// Starts `count` clients at the ramp rate (`start` with each index, in order), printing
    /// progress as `phase`.
    func ramp(
        _ count: Int, phase: String, progress: ProgressPrinter, nextProgress: inout ContinuousClock.Instant,
        start: (Int) async throws -> Void
    ) async throws {
        let begin = ContinuousClock.now
        var started = 0
        while started < count {
            let due = min(count, max(started + 1, Int((ContinuousClock.now - begin).seconds * scenario.ramp) + 1))
            while started < due {
                try await start(started)
                started += 1
            }
            if ContinuousClock.now >= nextProgress {
                await progress.print(phase: phase)
                nextProgress = ContinuousClock.now + .seconds(scenario.progressInterval)
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Waits until `settled()` reaches `count`, for at most the join timeout from `start` (and
    /// at least 30 s from now: the ramp runs slower than asked when the clients' loops are busy).
    func settle(
        _ count: Int, from start: ContinuousClock.Instant, phase: String, progress: ProgressPrinter, nextProgress: inout ContinuousClock.Instant,
        settled: () -> Int
    ) async throws {
        let deadline = max(start + .seconds(scenario.joinTimeout), ContinuousClock.now + .seconds(30))
        while settled() < count, ContinuousClock.now < deadline {
            if ContinuousClock.now >= nextProgress {
                await progress.print(phase: phase)
                nextProgress = ContinuousClock.now + .seconds(scenario.progressInterval)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Ends every client and throws the run's failure, naming the first five that did not get
    /// their welcome (`verb`: "joined" or "rejoined").
    static func fail(_ users: [NIOLoopBound<SimulatedUser>], done: Int, verb: String, seconds: Double) async throws -> Never {
        let reasons = try await collect(users) { user in
            user.phase == .joined ? nil : "u\(user.index) (\(user.transport) to \(user.endpoint)): \(user.closeReason ?? "no welcome yet")"
        }
        await finishAll(users)
        let first = reasons.compactMap { $0 }.prefix(5).joined(separator: "\n  ")
        throw Failure(description: "Only \(done) of \(users.count) clients \(verb) within \(Int(seconds)) s; the first that did not:\n  \(first)")
    }

    /// Runs `body` on every user's loop and returns the results in user order.
    static func collect<T: Sendable>(
        _ users: [NIOLoopBound<SimulatedUser>],
        _ body: @escaping @Sendable (SimulatedUser) -> T
    ) async throws -> [T] {
        var futures: [EventLoopFuture<T>] = []
        futures.reserveCapacity(users.count)
        for user in users { futures.append(user.eventLoop.submit { body(user.value) }) }
        var results: [T] = []
        results.reserveCapacity(users.count)
        for future in futures { results.append(try await future.get()) }
        return results
    }

    static func finishAll(_ users: [NIOLoopBound<SimulatedUser>]) async {
        _ = try? await collect(users) { $0.finish() }
    }

    static func format(seconds: Double) -> String {
        seconds < 10 ? "\((seconds * 100).rounded() / 100) s" : "\((seconds * 10).rounded() / 10) s"
    }
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}

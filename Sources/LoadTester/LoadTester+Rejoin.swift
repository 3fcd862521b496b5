import NIOCore

/// `--rejoin-away`: once every client joined, all close their sessions at once, stay away a
/// few seconds, and come back at the ramp rate by their device session token (a join with no
/// password check and no new device: Specs/chat-protocol.md, "Devices"). The run measures
/// connect→welcome of these rejoins beside the first joins, then sends and verifies as usual.
/// Against a server from before device sessions the clients rejoin by the HMAC token, so one
/// LoadTester binary compares both in the same minute.
struct RejoinFigures: Sendable, Equatable, Codable {
    /// Clients that got their welcome again.
    var rejoined = 0
    /// Clients whose rejoin was refused or whose session closed before the welcome.
    var failed = 0
    /// Rejoins that named a device session token, and those that named the HMAC token.
    var bySession = 0
    var byToken = 0
    /// Rejoins whose welcome named another device than the first (or none): a rejoin by session
    /// token must reuse its device.
    var newDevice = 0

    mutating func add(_ other: RejoinFigures) {
        rejoined += other.rejoined
        failed += other.failed
        bySession += other.bySession
        byToken += other.byToken
        newDevice += other.newDevice
    }
}

extension LoadRun {
    /// Closes every client's session at once, waits `away` seconds, then rejoins them at the
    /// ramp rate and waits (bounded like the first joins) for every welcome. Returns the
    /// seconds from the first rejoin to the last welcome; throws when a client could not rejoin.
    func rejoinAll(
        _ users: [NIOLoopBound<SimulatedUser>],
        away: Double,
        counters: ProgressCounters,
        progress: ProgressPrinter,
        nextProgress: inout ContinuousClock.Instant
    ) async throws -> Double {
        _ = try await Self.collect(users) { $0.leaveForRejoin() }
        log("all \(users.count) clients left; rejoining by device session in \(Self.format(seconds: away))")
        try await Task.sleep(for: .milliseconds(Int(away * 1000)))
        let start = ContinuousClock.now
        var started = 0
        while started < users.count {
            let elapsed = (ContinuousClock.now - start).seconds
            let due = min(users.count, max(started + 1, Int(elapsed * scenario.ramp) + 1))
            while started < due {
                let user = users[started]
                user.eventLoop.execute { user.value.rejoinNow() }
                started += 1
            }
            if ContinuousClock.now >= nextProgress {
                await progress.print(phase: "rejoining")
                nextProgress = ContinuousClock.now + .seconds(scenario.progressInterval)
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let deadline = max(start + .seconds(scenario.joinTimeout), ContinuousClock.now + .seconds(30))
        while counters.load(.rejoined) + counters.load(.failedToRejoin) < users.count, ContinuousClock.now < deadline {
            if ContinuousClock.now >= nextProgress {
                await progress.print(phase: "rejoining")
                nextProgress = ContinuousClock.now + .seconds(scenario.progressInterval)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let seconds = (ContinuousClock.now - start).seconds
        let rejoined = counters.load(.rejoined)
        guard rejoined == users.count else {
            let reasons = try await Self.collect(users) { user in
                user.phase == .joined ? nil : "u\(user.index) (\(user.transport) to \(user.endpoint)): \(user.closeReason ?? "no welcome yet")"
            }
            await Self.finishAll(users)
            let first = reasons.compactMap { $0 }.prefix(5).joined(separator: "\n  ")
            throw Failure(description: "Only \(rejoined) of \(users.count) clients rejoined within \(Int(seconds)) s; the first that did not:\n  \(first)")
        }
        log("all \(rejoined) clients rejoined in \(Self.format(seconds: seconds))")
        return seconds
    }
}

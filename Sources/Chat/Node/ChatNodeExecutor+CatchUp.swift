import Broker

/// The executor of ``CatchUpMachine``: it feeds the machine what happened (a link came up or
/// went, a stream record was read, a secret record came, a join wants to be served, a timer
/// fired) and carries out the actions it returns, in order. It decides nothing about when joins
/// may be served or whether the node's secret is the chat's.
extension ChatNodeExecutor {
    typealias CatchUps = CatchUpMachine<ContinuousClock.Instant>

    static func catchUpTimings(_ configuration: ChatConfiguration) -> CatchUps.Timings {
        CatchUps.Timings(catchUpTimeout: configuration.takeoverTimeout, secretCheckWindow: configuration.secretCheckWindow)
    }

    /// Waits until the node caught up (claims and history complete, the secret check over);
    /// false when the broker is down or it takes too long.
    func waitUntilCaughtUp() async -> Bool {
        if catchUp.caughtUp { return true }
        let id = nextWaiter
        nextWaiter += 1
        return await withCheckedContinuation { continuation in
            catchUpResumers[id] = continuation
            run(catchUp.wait(id, now: .now))
        }
    }

    /// Carries out the machine's actions, in order.
    func run(_ actions: [CatchUps.Action]) {
        for action in actions {
            switch action {
            case .startTimer(let timer):
                catchUpTimers.start(timer.kind, deadline: timer.deadline) { [weak self] in await self?.catchUpTimerFired($0) }
            case .cancelTimer(let kind):
                catchUpTimers.cancel(kind)
            case .resume(let waiter, let caughtUp):
                if !caughtUp, catchUp.generation != nil {
                    logger.warning(
                        "A join waited for the node to catch up until its deadline and is answered unavailable",
                        metadata: [
                            "claims": "\(catchUp.claimsCaughtUp)", "state": "\(catchUp.stateCaughtUp)", "history": "\(catchUp.historyCaughtUp)",
                            "secretChecked": "\(catchUp.secretChecked)",
                        ])
                }
                catchUpResumers.removeValue(forKey: waiter)?.resume(returning: caughtUp)
            case .sayHello(let generation):
                guard let link, link.generation == generation else { continue }
                sayHello(generation: generation, on: link.publish)
            case .answerHello(let node, let differing):
                if let theirs = differing {
                    logger.warning(
                        "A node with another secret file tried to join the chat; it refuses to start, this node goes on",
                        metadata: ["node": "\(node)", "its fingerprint": "\(theirs)", "this fingerprint": "\(fingerprint)"])
                }
                Task { await self.answerHello(node) }
            case .secretConfirmed:
                secretConfirmed.store(true, ordering: .relaxed)
            case .refuse(let mismatch):
                refuseToStart(other: (mismatch.node, mismatch.fingerprint))
            }
        }
    }

    private func catchUpTimerFired(_ firing: MachineTimers<CatchUps.TimerKind>.Firing) {
        guard catchUpTimers.take(firing) else { return }
        run(catchUp.timerFired(firing.key))
    }
}

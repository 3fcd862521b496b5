extension ChatNodeExecutor {
    /// Returns once this join may make its broker calls (``SessionsMachine/enterGate(_:)``, at
    /// most `ChatLimits.joinsInFlight` at once, the others in arrival order). Every call is
    /// paired with ``leaveJoinGate()``.
    func enterJoinGate() async {
        let id = nextWaiter
        nextWaiter += 1
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            joinGateResumers[id] = continuation
            let actions = sessionsMachine.enterGate(id)
            // Only `letIn`, which resumes without awaiting: the continuation is resumed here.
            for case .letIn(let waiter) in actions { joinGateResumers.removeValue(forKey: waiter)?.resume() }
        }
    }

    /// This join's broker calls are done: the oldest waiting join goes on.
    func leaveJoinGate() {
        for case .letIn(let waiter) in sessionsMachine.leaveGate() { joinGateResumers.removeValue(forKey: waiter)?.resume() }
    }
}

extension ChatNodeCore {
    /// Returns once this join may make its broker calls (``JoinGate``, at most
    /// `ChatLimits.joinsInFlight` at once, the others in arrival order). Every call is paired
    /// with ``leaveJoinGate()``.
    func enterJoinGate() async {
        let id = nextWaiter
        nextWaiter += 1
        guard !joinGate.arrive(id) else { return }
        await withCheckedContinuation { continuation in
            joinGateWaiters[id] = continuation
        }
    }

    /// This join's broker calls are done: the oldest waiting join goes on.
    func leaveJoinGate() {
        if let next = joinGate.leave() {
            joinGateWaiters.removeValue(forKey: next)?.resume()
        }
    }
}

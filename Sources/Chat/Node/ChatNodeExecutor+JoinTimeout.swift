/// The join timeout: a connection that has not joined within `ChatConfiguration.joinTimeout`
/// is closed (4004), as ``SessionsMachine`` decides when its join deadline passes.
extension ChatNodeExecutor {
    /// A connection was attached: its join deadline starts.
    func attached(_ session: ChatSession) {
        runJoinTimer(sessionsMachine.attached(session.id, now: .now), session: session)
    }

    /// The session's connection ended (joined or not): its join deadline, if pending, is
    /// cancelled, then the session ends (``sessionEnded(_:)``).
    func detached(_ sessionId: UInt64) async {
        runJoinTimer(sessionsMachine.detached(sessionId), session: nil)
        await sessionEnded(sessionId)
    }

    /// Carries out the join timeout's actions, in order. `session` is the connection the
    /// actions are about (nil when none is closed).
    private func runJoinTimer(_ actions: [Sessions.JoinTimerAction], session: ChatSession?) {
        for action in actions {
            switch action {
            case .startTimer(let timer):
                joinTimers.start(timer.session, deadline: timer.deadline) { [weak self, weak session] firing in
                    await self?.joinTimerFired(firing, session: session)
                }
            case .cancelTimer(let sessionId):
                joinTimers.cancel(sessionId)
            case .closeForJoinTimeout:
                guard let session, !session.isClosed else { continue }
                session.outlet.close(code: ChatCloseCode.joinTimeout, reason: "Join timeout")
            }
        }
    }

    private func joinTimerFired(_ firing: MachineTimers<UInt64>.Firing, session: ChatSession?) {
        guard joinTimers.take(firing) else { return }
        runJoinTimer(sessionsMachine.joinTimerFired(firing.key), session: session)
    }
}

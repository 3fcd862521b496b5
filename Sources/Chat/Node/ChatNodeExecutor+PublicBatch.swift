extension ChatNodeExecutor {
    /// Sends one room's messages of a history batch (a run of at most
    /// ``PublicFanOut/defaultFrameLimit``, in stream order) to the room's local sessions: one
    /// transport frame, encoded once, the same bytes for every session.
    ///
    /// No timer and no state: the messages go out in the actor turn that read them, so a
    /// session entering or leaving the room (another actor turn) gets a batch entirely or not
    /// at all, and its `entered`/welcome history holds exactly what it did not get live.
    func sendPublic(_ frames: [String], to outlets: [any ChatOutlet]) {
        guard !outlets.isEmpty, !frames.isEmpty else { return }
        if frames.count == 1 {
            broadcaster.broadcast(frames[0], to: outlets)
        } else {
            broadcaster.broadcast(batch: frames, to: outlets)
        }
    }
}

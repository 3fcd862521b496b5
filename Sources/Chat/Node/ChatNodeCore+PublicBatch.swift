extension ChatNodeCore {
    /// A room's public messages not yet handed to its sessions, with the sessions that were in
    /// the room when the first of them came: exactly those get the batch (a session entering
    /// later has the messages in its `entered`/welcome history; one leaving flushes first).
    struct PublicBatch {
        var frames: [String]
        let outlets: [any ChatOutlet]
    }

    /// The most messages one batch holds; a room that fills one sends it at once, so a batch
    /// is bounded whatever the rate.
    static let publicBatchLimit = 64

    /// Queues a public message for its room's sessions: the node gathers a room's messages for
    /// `publicBatchInterval` and sends them as one frame, so a busy room costs each session one
    /// write per interval instead of one per message.
    func queuePublic(_ frame: String, room: String, outlets: [any ChatOutlet]) {
        guard configuration.publicBatchInterval > .zero else {
            broadcaster.broadcast(frame, to: outlets)
            return
        }
        publicBatches[room, default: PublicBatch(frames: [], outlets: outlets)].frames.append(frame)
        if publicBatches[room]?.frames.count ?? 0 >= Self.publicBatchLimit {
            flushPublic(room: room)
        } else if !publicFlushScheduled {
            publicFlushScheduled = true
            let interval = configuration.publicBatchInterval
            Task { [weak self] in
                try? await Task.sleep(for: interval)
                await self?.flushPublic()
            }
        }
    }

    /// Sends every room's waiting messages.
    func flushPublic() {
        publicFlushScheduled = false
        let batches = publicBatches
        publicBatches.removeAll(keepingCapacity: true)
        for batch in batches.values { send(batch) }
    }

    /// Sends one room's waiting messages now (before its membership changes).
    func flushPublic(room: String) {
        guard let batch = publicBatches.removeValue(forKey: room) else { return }
        send(batch)
    }

    private func send(_ batch: PublicBatch) {
        if batch.frames.count == 1 {
            broadcaster.broadcast(batch.frames[0], to: batch.outlets)
        } else {
            broadcaster.broadcast(batch: batch.frames, to: batch.outlets)
        }
    }
}

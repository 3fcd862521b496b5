/// The node's reading of the history stream, as a value that decides and an executor that acts
/// (the shape of postgres-nio's `PoolStateMachine`, like ``PublishMachine``).
///
/// It keeps the history index (``RoomHistory``: what welcomes, `entered` and `history`
/// answers page through) and where the stream was read up to. Per batch of records it decides
/// what each record means: how far the stream was read (for ``CatchUpMachine``), which of this
/// node's public messages came back (for ``PublishMachine``'s read-back), and which room's
/// messages go to that room's local sessions, one ``Action/send(room:frames:)`` per room and
/// run of frames (``PublicFanOut``). It also runs the probe for where the stream ends when a
/// link comes up: its deadline is a value (``ProbeTimer``), and the first of the probe's
/// delivery, its consumer's end or the deadline answers it.
///
/// `ChatNodeExecutor` (ChatNodeExecutor+Link.swift) feeds it the batches and the probe's
/// events and carries out the actions it returns, in order. No broker, no tasks, no clock:
/// tests drive it with values (Specs/chat-protocol.md, "Delivery guarantees": `HistoryMachineTests`).
struct HistoryMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// One record of the history stream.
    struct Record: Sendable, Hashable {
        var offset: Int64?
        var body: [UInt8]
    }

    enum Action: Sendable, Hashable {
        /// The stream was read up to `offset` (``CatchUpMachine/historyRead(offset:)``).
        case readUpTo(offset: Int64)
        /// The public message `msgId` came back through the stream (``PublishMachine/readBack(_:now:)``).
        case readBack(msgId: String)
        /// A record could not be read; it was skipped (logged).
        case skippedUnreadable
        /// One room's messages of the batch, in stream order, go to the room's local sessions
        /// (as one transport frame).
        case send(room: String, frames: [String])
    }

    /// The deadline of the end probe `probe`.
    struct ProbeTimer: Sendable, Hashable {
        var probe: Int
        var deadline: Instant
    }

    enum ProbeAction: Sendable, Hashable {
        case startTimer(ProbeTimer)
        case cancelTimer(probe: Int)
        /// The probe is over: the stream ends at `end` (nil: unknown, the node reads it from
        /// its first record). The probe's consumer is closed.
        case answer(probe: Int, end: Int64?)
    }

    /// Every public message read, by room, bounded (``RoomHistory``).
    private(set) var history: RoomHistory
    /// The offset of the last record read.
    private(set) var lastOffset: Int64?
    /// Records read since the node started (to show that a start reads a bounded part).
    private(set) var recordsRead = 0
    /// The end probe under way, if one is.
    private(set) var probe: Int?
    private var nextProbe = 1
    private let probeTimeout: Duration
    /// The most messages of one room in one transport frame (``PublicFanOut/defaultFrameLimit``).
    private let frameLimit: Int

    /// - Parameters:
    ///   - probeTimeout: how long the end probe waits for its delivery (the takeover timeout).
    init(history: RoomHistory, probeTimeout: Duration, frameLimit: Int = PublicFanOut.defaultFrameLimit) {
        self.history = history
        self.probeTimeout = probeTimeout
        self.frameLimit = frameLimit
    }

    // MARK: Reading

    /// A batch of records, read in one turn: each one is indexed, and each room's public
    /// messages of the batch are sent to the room's local sessions together (membership is the
    /// same for the whole batch). `hasMembers` says whether a room has local sessions; it is
    /// asked once per room and batch.
    mutating func read(_ batch: [Record], hasMembers: (String) -> Bool) -> [Action] {
        var actions: [Action] = []
        var fanOut = PublicFanOut()
        var members: [String: Bool] = [:]
        for record in batch {
            guard let message = read(record, into: &actions), let room = message.room else { continue }
            let local =
                members[room]
                ?? {
                    let found = hasMembers(room)
                    members[room] = found
                    return found
                }()
            if local { fanOut.append(ChatFrameCodec.encode(.message(message)), room: room) }
        }
        for send in fanOut.sends(frameLimit: frameLimit) {
            actions.append(.send(room: send.room, frames: send.frames))
        }
        return actions
    }

    /// Indexes one record: returns the public message it carries, if any.
    private mutating func read(_ record: Record, into actions: inout [Action]) -> ChatMessage? {
        recordsRead += 1
        if let offset = record.offset {
            lastOffset = offset
            history.noteRead(offset: offset)
            actions.append(.readUpTo(offset: offset))
        }
        guard let decoded = BrokerRecord.decode(record.body) else {
            actions.append(.skippedUnreadable)
            return nil
        }
        guard decoded.kind == .say, let msgId = decoded.msgId, let from = decoded.from, let room = decoded.room,
            let text = decoded.text, let ts = decoded.ts, ChatName.isValid(room)
        else { return nil }
        actions.append(.readBack(msgId: msgId))
        let message = ChatMessage(msgId: msgId, from: from, room: room, text: text, ts: ts, seq: record.offset)
        history.append(message, room: room)
        return message
    }

    // MARK: Answers

    /// The answer to `enter`: the room's newest `historyOnJoin` messages within
    /// `historyBytesPerReply`, and whether older ones are kept.
    func entered(_ room: String, limits: ChatLimits) -> Entered {
        let page = history.page(in: room, limit: limits.historyOnJoin, maxBytes: limits.historyBytesPerReply)
        return Entered(room: room, history: page.messages, more: page.more)
    }

    /// The answer to `history` (``RoomHistory/answer(_:maxBytes:)``): the newest `limit`
    /// (default ``ClientFrame/defaultHistoryLimit``) messages before `before` within
    /// `historyBytesPerReply` and whether older ones are kept; with `after`, a `gap` when the
    /// node no longer holds every message after it, then the oldest messages after it.
    func page(_ request: HistoryRequest, limits: ChatLimits) -> [ServerFrame] {
        history.answer(request, maxBytes: limits.historyBytesPerReply)
    }

    /// Where the next link's history consumer starts: after the last record read (a
    /// reconnect), else `readOnStart` records back from the stream's `end`, else its first
    /// record.
    func start(end: Int64?, readOnStart: Int) -> StartOffset {
        if let lastOffset { return .offset(lastOffset + 1) }
        if let end { return .offset(max(0, end - Int64(readOnStart))) }
        return .first
    }

    enum StartOffset: Sendable, Hashable {
        case first
        case offset(Int64)
    }

    // MARK: The end probe

    /// The probe's consumer is started (its `sync` record was published just before): it
    /// waits for the first delivery until the probe timeout. Returns the probe's id.
    mutating func probeStarted(now: Instant) -> (probe: Int, actions: [ProbeAction]) {
        let id = nextProbe
        nextProbe += 1
        var actions: [ProbeAction] = []
        if let old = probe { actions += [.cancelTimer(probe: old), .answer(probe: old, end: nil)] }
        probe = id
        actions.append(.startTimer(ProbeTimer(probe: id, deadline: now.advanced(by: probeTimeout))))
        return (id, actions)
    }

    /// The probe's consumer delivered its first record (at `offset`, nil when the broker gave
    /// none), or ended without one (`offset` nil).
    mutating func probeRead(_ probe: Int, offset: Int64?) -> [ProbeAction] {
        guard self.probe == probe else { return [] }
        self.probe = nil
        return [.cancelTimer(probe: probe), .answer(probe: probe, end: offset)]
    }

    /// The probe's deadline passed without a delivery: the end is unknown.
    mutating func probeTimerFired(_ probe: Int) -> [ProbeAction] {
        guard self.probe == probe else { return [] }
        self.probe = nil
        return [.answer(probe: probe, end: nil)]
    }
}

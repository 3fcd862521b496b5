import OrderedCollections

/// What a welcome carries of its rooms' history, and what follows it for the rooms the join
/// resumes (Specs/chat-protocol.md, "Resume without gaps").
public struct WelcomeHistory: Sendable, Hashable {
    /// The newest messages of each entered room the join does not resume.
    public var history: [String: [ChatMessage]] = [:]
    /// The rooms of ``history`` of which older messages are kept, sorted.
    public var moreHistory: [String] = []
    /// The frames that follow the welcome: per resumed room, in the order of the join's rooms,
    /// a `gap` when the node no longer holds all it missed, then a `history` with `after`.
    public var followUp: [ServerFrame] = []

    public init(history: [String: [ChatMessage]] = [:], moreHistory: [String] = [], followUp: [ServerFrame] = []) {
        self.history = history
        self.moreHistory = moreHistory
        self.followUp = followUp
    }
}

extension RoomHistory {
    /// The frames answering a `history` request: the newest messages (before `before`), or with
    /// `after` a `gap` when the node no longer holds every message after it, then the oldest
    /// messages after it.
    public func answer(_ request: HistoryRequest, maxBytes: Int) -> [ServerFrame] {
        let limit = request.limit ?? ClientFrame.defaultHistoryLimit
        if let after = request.after {
            return frames(in: request.room, after: after, limit: limit, maxBytes: maxBytes)
        }
        let page = page(in: request.room, before: request.before, limit: limit, maxBytes: maxBytes)
        return [.history(History(room: request.room, messages: page.messages, more: page.more))]
    }

    /// A `gap` when needed, then the `history` with `after` of `room`.
    public func frames(in room: String, after: Int64, limit: Int, maxBytes: Int) -> [ServerFrame] {
        let page = page(in: room, after: after, limit: limit, maxBytes: maxBytes)
        return Self.frames(room: room, after: after, messages: page.messages, more: page.more, gapNext: page.gapNext)
    }

    private static func frames(room: String, after: Int64, messages: [ChatMessage], more: Bool, gapNext: Int64?) -> [ServerFrame] {
        var frames: [ServerFrame] = []
        if let next = gapNext { frames.append(.gap(Gap(room: room, after: after, next: next))) }
        frames.append(.history(History(room: room, messages: messages, more: more, after: after)))
        return frames
    }

    /// A welcome's history of `rooms`: the newest `limit` messages (and at most `maxBytes`) of
    /// each room not in `resume`; for each room in `resume`, the frames of
    /// ``frames(in:after:limit:maxBytes:)`` instead, with the same bounds.
    ///
    /// A resumed room's page holds at least one message when one follows, even one larger than
    /// its share; so that many rooms of large messages cannot add up past the session's
    /// outbound cap, the pages of a join's resumed rooms hold at most `maxBytes` × the number of
    /// rooms together (the welcome's whole budget, in join order). A room whose page would pass
    /// it gets a `history` with no message and `more`: the client pages on with the same
    /// `after` (a `history` request lists at least one message when one follows).
    public func welcome(rooms: OrderedSet<String>, resume: [String: Int64], limit: Int, maxBytes: Int) -> WelcomeHistory {
        var result = WelcomeHistory()
        let (total, overflow) = max(0, maxBytes).multipliedReportingOverflow(by: max(1, rooms.count))
        var left = overflow ? Int.max : total
        for room in rooms {
            if let after = resume[room] {
                let page = pageAfter(in: room, after: after, limit: limit, maxBytes: maxBytes)
                if page.bytes > left {
                    result.followUp += Self.frames(room: room, after: after, messages: [], more: true, gapNext: page.gapNext)
                } else {
                    left -= page.bytes
                    result.followUp += Self.frames(room: room, after: after, messages: page.messages, more: page.more, gapNext: page.gapNext)
                }
            } else {
                let page = page(in: room, limit: limit, maxBytes: maxBytes)
                result.history[room] = page.messages
                if page.more { result.moreHistory.append(room) }
            }
        }
        result.moreHistory.sort()
        return result
    }
}

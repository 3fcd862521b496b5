import DequeModule

/// The newest public messages of every room, as every node reads them from the history
/// stream: bounded per room (`capacity`, the oldest dropped first), ordered by `seq`.
public struct RoomHistory: Sendable, Hashable {
    public let capacity: Int
    private var rooms: [String: Deque<ChatMessage>] = [:]

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Every room that has history, sorted.
    public var roomNames: [String] { rooms.keys.sorted() }

    /// Adds a message read from the stream (in stream order, so `seq` increases).
    public mutating func append(_ message: ChatMessage, room: String) {
        rooms[room, default: Deque()].append(message)
        if rooms[room]!.count > capacity { rooms[room]!.removeFirst() }
    }

    /// The newest `limit` messages of `room` with `seq` below `before` (all when nil), oldest first.
    public func messages(in room: String, before: Int64? = nil, limit: Int) -> [ChatMessage] {
        guard let messages = rooms[room], limit > 0 else { return [] }
        var end = messages.endIndex
        if let before {
            while end > messages.startIndex, let seq = messages[end - 1].seq, seq >= before { end -= 1 }
        }
        let start = max(messages.startIndex, end - limit)
        return Array(messages[start..<end])
    }
}

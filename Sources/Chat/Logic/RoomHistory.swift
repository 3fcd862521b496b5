import DequeModule
import OrderedCollections

/// The newest public messages of every room, as every node reads them from the history
/// stream, ordered by `seq`. Bounded per room by count (`capacity`) and bytes
/// (`maxRoomBytes`), and in all by bytes (`maxTotalBytes`) and rooms (`maxRooms`): past a
/// room's own cap its oldest message goes; past a total, the least recently active room loses
/// its oldest messages (its whole history past `maxRooms`). Forgotten messages stay in the
/// stream; a room forgotten whole shows no history until it speaks again.
public struct RoomHistory: Sendable, Hashable {
    public let capacity: Int
    public let maxRoomBytes: Int
    public let maxTotalBytes: Int
    public let maxRooms: Int
    private var rooms: [String: Room] = [:]
    /// Room names, least recently active first.
    private var recency: OrderedSet<String> = []
    /// What ``cost(of:)`` says of every message kept.
    public private(set) var totalBytes = 0

    private struct Room: Sendable, Hashable {
        var messages = Deque<ChatMessage>()
        var bytes = 0
    }

    public init(capacity: Int, maxRoomBytes: Int = .max, maxTotalBytes: Int = .max, maxRooms: Int = .max) {
        self.capacity = max(1, capacity)
        self.maxRoomBytes = max(1, maxRoomBytes)
        self.maxTotalBytes = max(1, maxTotalBytes)
        self.maxRooms = max(1, maxRooms)
    }

    /// Every room that has history, sorted.
    public var roomNames: [String] { rooms.keys.sorted() }

    /// The `limit` rooms with the most recent message, sorted by name.
    public func recentRoomNames(limit: Int) -> [String] {
        recency.suffix(max(0, limit)).sorted()
    }

    /// Bytes a message is counted as: its strings and about what a `ChatMessage` costs besides.
    public static func cost(of message: ChatMessage) -> Int {
        message.text.utf8.count + message.msgId.utf8.count + message.from.utf8.count + (message.room?.utf8.count ?? 0) + 96
    }

    /// Adds a message read from the stream (in stream order, so `seq` increases).
    public mutating func append(_ message: ChatMessage, room: String) {
        let cost = Self.cost(of: message)
        var entry = rooms.removeValue(forKey: room) ?? Room()
        entry.messages.append(message)
        entry.bytes += cost
        totalBytes += cost
        while entry.messages.count > 1, entry.messages.count > capacity || entry.bytes > maxRoomBytes {
            let dropped = entry.messages.removeFirst()
            entry.bytes -= Self.cost(of: dropped)
            totalBytes -= Self.cost(of: dropped)
        }
        rooms[room] = entry
        if recency.last != room {
            recency.remove(room)
            recency.append(room)
        }
        while recency.count > maxRooms, let oldest = recency.first { forget(oldest) }
        // The least recently active room pays first; the newest message itself always stays.
        while totalBytes > maxTotalBytes, let oldest = recency.first {
            if oldest == room, rooms[room]?.messages.count ?? 0 <= 1 { break }
            guard var victim = rooms[oldest], let dropped = victim.messages.popFirst() else {
                forget(oldest)
                continue
            }
            victim.bytes -= Self.cost(of: dropped)
            totalBytes -= Self.cost(of: dropped)
            if victim.messages.isEmpty {
                forget(oldest)
            } else {
                rooms[oldest] = victim
            }
        }
    }

    private mutating func forget(_ room: String) {
        if let entry = rooms.removeValue(forKey: room) { totalBytes -= entry.bytes }
        recency.remove(room)
    }

    /// The newest `limit` messages of `room` with `seq` below `before` (all when nil), oldest
    /// first, and no more of them than fit in `maxBytes` (each counted as `cost(of:)`, about its
    /// size in a frame).
    public func messages(in room: String, before: Int64? = nil, limit: Int, maxBytes: Int = .max) -> [ChatMessage] {
        page(in: room, before: before, limit: limit, maxBytes: maxBytes).messages
    }

    /// ``messages(in:before:limit:maxBytes:)``, and whether older messages of the room are kept
    /// than the oldest one given (`more`: the client may page on with `before`).
    public func page(in room: String, before: Int64? = nil, limit: Int, maxBytes: Int = .max) -> (messages: [ChatMessage], more: Bool) {
        guard let messages = rooms[room]?.messages else { return ([], false) }
        var end = messages.endIndex
        if let before {
            while end > messages.startIndex, let seq = messages[end - 1].seq, seq >= before { end -= 1 }
        }
        var start = end
        var bytes = 0
        while start > messages.startIndex, end - start < limit {
            let size = Self.cost(of: messages[start - 1])
            guard size <= maxBytes - bytes else { break }
            bytes += size
            start -= 1
        }
        return (Array(messages[start..<end]), start > messages.startIndex)
    }
}

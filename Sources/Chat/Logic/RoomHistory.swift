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
    /// The offset of the first stream record read (nil: none yet): messages before it were never
    /// read, so the node holds no room complete before it.
    private var firstRead: Int64?
    /// The newest `seq` of any room forgotten whole (-1: none): a room that appears after a
    /// forget may have lost messages up to there.
    private var forgottenThrough: Int64 = -1

    private struct Room: Sendable, Hashable {
        var messages = Deque<ChatMessage>()
        /// ``wireCost(of:)`` of each message of ``messages``, in the same order (counted once,
        /// as the message is read: answers add them up on every page).
        var wireCosts = Deque<Int>()
        var bytes = 0
        /// The node holds every message of the room with a `seq` from here on.
        var from: Int64
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

    /// Bytes a message is counted as in an answer's byte budget: ``cost(of:)`` with each of the
    /// text's characters counted as its bytes at worst on the wire, escaped twice (in the chat
    /// frame's JSON, then in the SockJS frame's JSON string, where the script transports escape
    /// `<`, `>` and `&` too): a `"` is 4 bytes there (`\\\"`), a `<` 6 (`\u003c`), a U+2028 7. The
    /// same as ``cost(of:)`` for text that needs no escape. So an answer within its budget stays
    /// within it on the wire, whatever its text, and never reaches the session's 1 MiB outbound
    /// cap (Specs/bounds.md).
    public static func wireCost(of message: ChatMessage) -> Int {
        var bytes = message.msgId.utf8.count + message.from.utf8.count + (message.room?.utf8.count ?? 0) + 96
        for scalar in message.text.unicodeScalars { bytes += wireWidth(scalar) }
        return bytes
    }

    /// The most bytes one character of a text takes in a SockJS frame (see ``wireCost(of:)``).
    static func wireWidth(_ scalar: Unicode.Scalar) -> Int {
        switch scalar.value {
        case 0x22, 0x5C: 4
        case 0x08, 0x09, 0x0A, 0x0C, 0x0D: 3
        case 0x00..<0x20: 7
        case 0x3C, 0x3E, 0x26: 6
        case 0x20..<0x80: 1
        case 0x80..<0x800: 2
        case 0x200C...0x200F, 0x2028...0x202F, 0x2060...0x206F, 0xFFF0...0xFFFF: 7
        case 0x800..<0x10000: 3
        default: 4
        }
    }

    /// The node read the stream record at `offset` (any record, a message or not), in stream
    /// order: the first one read is where the node's knowledge of every room begins.
    public mutating func noteRead(offset: Int64) {
        if firstRead == nil { firstRead = offset }
    }

    /// The `seq` from which the node holds every message of `room` (it may be past the room's
    /// newest message): a client resuming before it may have missed messages it cannot get here.
    public func completeFrom(in room: String) -> Int64 {
        rooms[room]?.from ?? newRoomFrom
    }

    private var newRoomFrom: Int64 { max(firstRead ?? 0, forgottenThrough &+ 1) }

    /// Adds a message read from the stream (in stream order, so `seq` increases).
    public mutating func append(_ message: ChatMessage, room: String) {
        if let seq = message.seq { noteRead(offset: seq) }
        let cost = Self.cost(of: message)
        var entry = rooms.removeValue(forKey: room) ?? Room(from: newRoomFrom)
        entry.messages.append(message)
        entry.wireCosts.append(Self.wireCost(of: message))
        entry.bytes += cost
        totalBytes += cost
        while entry.messages.count > 1, entry.messages.count > capacity || entry.bytes > maxRoomBytes {
            let dropped = entry.messages.removeFirst()
            entry.wireCosts.removeFirst()
            if let seq = dropped.seq { entry.from = max(entry.from, seq &+ 1) }
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
            victim.wireCosts.removeFirst()
            victim.bytes -= Self.cost(of: dropped)
            totalBytes -= Self.cost(of: dropped)
            if let seq = dropped.seq { victim.from = max(victim.from, seq &+ 1) }
            if victim.messages.isEmpty {
                forget(oldest)
            } else {
                rooms[oldest] = victim
            }
        }
    }

    private mutating func forget(_ room: String) {
        if let entry = rooms.removeValue(forKey: room) {
            totalBytes -= entry.bytes
            forgottenThrough = max(forgottenThrough, entry.messages.last?.seq ?? entry.from &- 1)
        }
        recency.remove(room)
    }

    /// The newest `limit` messages of `room` with `seq` below `before` (all when nil), oldest
    /// first, and no more of them than fit in `maxBytes` (each counted as `wireCost(of:)`, its
    /// size in a frame at worst).
    public func messages(in room: String, before: Int64? = nil, limit: Int, maxBytes: Int = .max) -> [ChatMessage] {
        page(in: room, before: before, limit: limit, maxBytes: maxBytes).messages
    }

    /// ``messages(in:before:limit:maxBytes:)``, and whether older messages of the room are kept
    /// than the oldest one given (`more`: the client may page on with `before`).
    public func page(in room: String, before: Int64? = nil, limit: Int, maxBytes: Int = .max) -> (messages: [ChatMessage], more: Bool) {
        guard let messages = rooms[room]?.messages, let costs = rooms[room]?.wireCosts else { return ([], false) }
        var end = messages.endIndex
        if let before {
            while end > messages.startIndex, let seq = messages[end - 1].seq, seq >= before { end -= 1 }
        }
        var start = end
        var bytes = 0
        while start > messages.startIndex, end - start < limit {
            let size = costs[start - 1]
            guard size <= maxBytes - bytes else { break }
            bytes += size
            start -= 1
        }
        return (Array(messages[start..<end]), start > messages.startIndex)
    }

    /// The oldest `limit` messages of `room` with `seq` above `after`, oldest first, no more of
    /// them than fit in `maxBytes` but at least one when there is one; `more` when newer ones
    /// follow the newest given (the client pages on with `after` = its `seq`), and `gapNext` when
    /// the node no longer holds every message after `after`: it holds all of them from there.
    public func page(in room: String, after: Int64, limit: Int, maxBytes: Int = .max) -> (messages: [ChatMessage], more: Bool, gapNext: Int64?) {
        let page = pageAfter(in: room, after: after, limit: limit, maxBytes: maxBytes)
        return (page.messages, page.more, page.gapNext)
    }

    /// How many messages of `room` not from `author` the node holds with `seq` above `after`,
    /// at most `cap` (the welcome's `unread`): what the node no longer holds is not counted.
    public func count(in room: String, after: Int64, cap: Int, excluding author: String? = nil) -> Int {
        guard let messages = rooms[room]?.messages else { return 0 }
        var low = messages.startIndex
        var high = messages.endIndex
        while low < high {
            let middle = low + (high - low) / 2
            if (messages[middle].seq ?? .min) <= after { low = middle + 1 } else { high = middle }
        }
        var count = 0
        for index in low..<messages.endIndex where messages[index].from != author {
            count += 1
            if count >= cap { break }
        }
        return count
    }

    /// ``page(in:after:limit:maxBytes:)`` and the bytes (``wireCost(of:)``) of its messages.
    func pageAfter(in room: String, after: Int64, limit: Int, maxBytes: Int) -> (messages: [ChatMessage], more: Bool, gapNext: Int64?, bytes: Int) {
        let from = completeFrom(in: room)
        let gapNext: Int64? = after < from &- 1 ? from : nil
        guard let messages = rooms[room]?.messages, let costs = rooms[room]?.wireCosts else { return ([], false, gapNext, 0) }
        // The first message with a larger `seq` (they increase): a binary search.
        var low = messages.startIndex
        var high = messages.endIndex
        while low < high {
            let middle = low + (high - low) / 2
            if (messages[middle].seq ?? .min) <= after { low = middle + 1 } else { high = middle }
        }
        var end = low
        var bytes = 0
        while end < messages.endIndex, end - low < max(1, limit) {
            let size = costs[end]
            guard end == low || size <= maxBytes - bytes else { break }
            bytes += size
            end += 1
        }
        return (Array(messages[low..<end]), end < messages.endIndex, gapNext, bytes)
    }
}

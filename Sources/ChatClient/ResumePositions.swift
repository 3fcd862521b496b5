import ChatProtocol

/// What a client has of each room, from the frames it received in order: the position it names
/// in a join's `resume` (Specs/chat-protocol.md, "Resume without gaps"), and which messages of a
/// frame are new to it. While a resume pages on (its `history` said `more`), live messages of the
/// room come before the older pages: they are kept aside by `seq`, and a page that lists one of
/// them again does not give it twice.
public struct ResumePositions: Sendable, Hashable {
    /// Room → the `seq` up to which the client has every message the server holds.
    public private(set) var rooms: [String: Int64] = [:]
    /// Rooms paging on after a resume: the `seq`s of live messages received past the position.
    private var ahead: [String: Set<Int64>] = [:]

    public init(rooms: [String: Int64] = [:]) { self.rooms = rooms }

    /// The `after` to page on with for `room` while its last resume or `history` said `more`.
    public func pagingAfter(in room: String) -> Int64? { ahead[room] == nil ? nil : rooms[room] }

    /// The join's `resume` for `joining` rooms: the positions of those the client has.
    public func resume(for joining: [String]) -> [String: Int64] {
        var result: [String: Int64] = [:]
        for room in joining { if let seq = rooms[room] { result[room] = seq } }
        return result
    }

    /// The messages of `frame` the client did not have yet, in order; the positions move. A
    /// private message is always new; a `history` answer to `before` (older messages) is
    /// returned as it is and moves nothing.
    public mutating func observe(_ frame: ServerFrame) -> [ChatMessage] {
        switch frame {
        case .message(let message):
            guard let room = message.room, let seq = message.seq else { return [message] }
            return live(message, room: room, seq: seq) ? [message] : []
        case .welcome(let welcome):
            return welcome.history.keys.sorted().flatMap { room in newest(welcome.history[room] ?? [], room: room) }
        case .entered(let entered):
            return newest(entered.history, room: entered.room)
        case .gap(let gap):
            if gap.next > 0 { rooms[gap.room] = max(rooms[gap.room] ?? gap.next - 1, gap.next - 1) }
            return []
        case .history(let history):
            guard history.after != nil else { return history.messages }
            return page(history)
        default:
            return []
        }
    }

    private mutating func live(_ message: ChatMessage, room: String, seq: Int64) -> Bool {
        if let have = rooms[room], seq <= have { return false }
        if var seen = ahead[room] {
            guard seen.insert(seq).inserted else { return false }
            ahead[room] = seen
        } else {
            rooms[room] = seq
        }
        return true
    }

    /// A welcome's or `entered`'s newest messages: the room's position is their newest.
    private mutating func newest(_ messages: [ChatMessage], room: String) -> [ChatMessage] {
        messages.filter { message in message.seq.map { live(message, room: room, seq: $0) } ?? true }
    }

    /// An answer to `after`: every message it lists after the position is new unless it came
    /// live already; the position moves to its newest; without `more` the paging is over.
    private mutating func page(_ history: History) -> [ChatMessage] {
        let room = history.room
        var seen = ahead[room] ?? []
        var fresh: [ChatMessage] = []
        for message in history.messages {
            guard let seq = message.seq else { continue }
            if let have = rooms[room], seq <= have { continue }
            rooms[room] = seq
            if seen.remove(seq) == nil { fresh.append(message) }
        }
        if history.more {
            ahead[room] = seen
        } else {
            ahead[room] = nil
            if let newest = seen.max() { rooms[room] = max(rooms[room] ?? newest, newest) }
        }
        return fresh
    }
}

/// The public messages of one batch of history records, grouped by room for sending.
///
/// The node reads the history stream in the batches the broker hands over (one per unit of
/// broker work) and sends each room's messages of a batch to the room's sessions as one
/// transport frame: under load a batch holds more messages, so a busy room costs each session
/// fewer writes, and no timer adds latency. Pure: the node fills it while reading a batch on
/// its actor (membership cannot change meanwhile) and then sends ``sends``.
///
/// Order: within a room, messages keep the order they had in the stream; rooms come in the
/// order of their first message in the batch (rooms are independent streams for a client).
/// Bounded by the batch it is made from (at most the history consumer's prefetch window).
public struct PublicFanOut: Sendable, Hashable {
    /// One room's messages of a batch, in stream order.
    public struct RoomFrames: Sendable, Hashable {
        public let room: String
        public internal(set) var frames: [String]
    }

    /// The most messages that travel in one transport frame: a room with more in one batch
    /// sends them as several frames of at most this many (bounds the size of a frame, and with
    /// it what one write adds to a session's outbound queue).
    public static let defaultFrameLimit = 64

    private var rooms: [RoomFrames] = []
    private var indexOfRoom: [String: Int] = [:]

    public init() {}

    /// True when the batch held no public message for a local session.
    public var isEmpty: Bool { rooms.isEmpty }

    /// How many messages were added, over all rooms.
    public var messageCount: Int { rooms.reduce(0) { $0 + $1.frames.count } }

    /// Adds an encoded `message` frame for `room`, after the ones already added for it.
    public mutating func append(_ frame: String, room: String) {
        if let index = indexOfRoom[room] {
            rooms[index].frames.append(frame)
        } else {
            indexOfRoom[room] = rooms.count
            rooms.append(RoomFrames(room: room, frames: [frame]))
        }
    }

    /// What to send: per room, its messages cut into runs of at most `frameLimit`, each run one
    /// transport frame; rooms in the order of their first message, runs in stream order.
    public func sends(frameLimit: Int = defaultFrameLimit) -> [RoomFrames] {
        let limit = max(1, frameLimit)
        var result: [RoomFrames] = []
        result.reserveCapacity(rooms.count)
        for entry in rooms {
            if entry.frames.count <= limit {
                result.append(entry)
                continue
            }
            var start = 0
            while start < entry.frames.count {
                let end = min(start + limit, entry.frames.count)
                result.append(RoomFrames(room: entry.room, frames: Array(entry.frames[start..<end])))
                start = end
            }
        }
        return result
    }
}

/// Who is who in one load run: how many clients, which room each is in, and the names.
/// Decided before the first connect, so every check is against this plan and not against
/// what the server says.
struct LoadPlan: Sendable, Equatable {
    let naming: LoadNaming
    /// Client index → room index.
    let roomOf: [Int]
    /// Room index → client indexes, ascending.
    let members: [[Int]]
    /// Client index → its place in its room's `members` (a receiver's ledger is indexed by it).
    let slotInRoom: [Int]
    /// Client index → nick, room index → room name (made once: every delivery compares them).
    let nicks: [String]
    let roomNames: [String]

    init(naming: LoadNaming, roomOf: [Int]) {
        self.naming = naming
        self.roomOf = roomOf
        let roomCount = (roomOf.max() ?? -1) + 1
        var members = [[Int]](repeating: [], count: roomCount)
        for (client, room) in roomOf.enumerated() { members[room].append(client) }
        self.members = members
        var slotInRoom = [Int](repeating: 0, count: roomOf.count)
        for room in members { for (slot, client) in room.enumerated() { slotInRoom[client] = slot } }
        self.slotInRoom = slotInRoom
        self.nicks = roomOf.indices.map(naming.nick)
        self.roomNames = (0..<roomCount).map(naming.room)
    }

    /// The nick of client `index` (any index, also outside the plan).
    func nick(_ index: Int) -> String { nicks.indices.contains(index) ? nicks[index] : naming.nick(index) }

    /// The name of room `index` (any index, also outside the plan).
    func room(_ index: Int) -> String { roomNames.indices.contains(index) ? roomNames[index] : naming.room(index) }

    /// Clients spread round-robin over `rooms` rooms.
    init(naming: LoadNaming, clients: Int, rooms: Int) {
        self.init(naming: naming, roomOf: (0..<clients).map { $0 % max(1, rooms) })
    }

    var clientCount: Int { roomOf.count }

    /// How many clients a message to `target` must reach.
    func recipientCount(_ target: LoadTarget) -> Int {
        switch target {
        case .room(let room): members.indices.contains(room) ? members[room].count : 0
        case .user: 1
        }
    }
}

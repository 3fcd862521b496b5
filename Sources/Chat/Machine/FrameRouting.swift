/// What one decoded client frame does (Specs/chat-protocol.md, "Client frames" and the order
/// rules under "Conventions"), decided without the broker, a task or a clock.
/// `ChatNodeExecutor.process` (ChatNodeExecutor+Messages.swift) carries the route out: it
/// publishes, acks, answers, and runs `join`, `enter` and `leave` through their machines.
enum FrameRoute: Sendable, Equatable {
    /// A `join` (``JoinMachine`` runs it).
    case join(JoinRequest)
    /// Answer with this error and do nothing else; `refused` says whether it counts as a
    /// refused frame (the metric of frames turned away).
    case answer(ChatProtocolError, refused: Bool)
    case enter(room: String)
    case leave(room: String)
    /// Publish a public message (``PublishMachine``, kind `say`) to `room`.
    case say(id: String, room: String, text: String)
    /// Publish a private message (``PublishMachine``, kind `tell`) to `to`.
    case tell(id: String, to: String, text: String)
    case ack(msgIds: [String])
    /// Protect the nick with a password, or change it (``AccountsMachine``).
    case setPassword(SetPasswordRequest)
    /// List the user's devices (``AccountsMachine/deviceList(of:current:limit:)``).
    case devices
    /// Sign out one device, this one (`device` nil) or every one (``AccountsMachine/signOut(nick:current:device:everywhere:now:)``).
    case signOut(device: String?, everywhere: Bool)
    case history(HistoryRequest)
    /// Mark a room read up to `upTo` (``ReadStateMachine``).
    case read(room: String, upTo: Int64)
    /// Store the user's settings (``ReadStateMachine``).
    case settings(privateReceipts: Bool)
    case users(prefix: String, limit: Int)
    /// Publish a `typing` record with `routingKey` (best effort, no confirm).
    case typing(room: String?, to: String?, routingKey: String)
    /// Nothing: a `typing` over its own rate is dropped without a word (Specs/bounds.md).
    case drop
}

/// The routing of one client frame, as a pure function of what it reads.
enum FrameRouting {
    /// The route of `frame` from a session that joined as `joined` (nil: not joined).
    /// - Parameters:
    ///   - order: the send-order verdict of a frame with an `id` (``SendOrderHold``); asked
    ///     only for a joined session's frame that has one.
    ///   - typingAdmitted: whether a `typing` is within its rate; asked only for a `typing`
    ///     that may be sent.
    static func route(
        _ frame: ClientFrame, joined: (nick: String, rooms: SessionRooms)?, order: (String) -> SendOrderHold.Verdict, typingAdmitted: () -> Bool
    ) -> FrameRoute {
        if case .join(let request) = frame { return .join(request) }
        guard let joined else {
            return .answer(ChatProtocolError(.notJoined, "Join first: send a join frame with your nick.", id: frame.id), refused: false)
        }
        if let id = frame.id, case .refuse(let waitingFor) = order(id) {
            return .answer(
                ChatProtocolError(
                    .unavailable, "Your earlier message \(waitingFor.prefix(ClientFrame.maxIdBytes)) was not accepted: send it again first, then this one.",
                    id: id),
                refused: true)
        }
        switch frame {
        case .join(let request):
            return .join(request)
        case .enter(let request):
            return .enter(room: request.room)
        case .leave(let request):
            return .leave(room: request.room)
        case .say(let request):
            let room = request.room ?? ChatName.lobby
            guard joined.rooms.contains(room) else { return .answer(notInRoom(room, id: request.id), refused: false) }
            return .say(id: request.id, room: room, text: request.text)
        case .tell(let request):
            return .tell(id: request.id, to: request.to, text: request.text)
        case .ack(let request):
            return .ack(msgIds: request.msgIds)
        case .setPassword(let request):
            return .setPassword(request)
        case .devices:
            return .devices
        case .signOut(let request):
            return .signOut(device: request.device, everywhere: request.everywhere ?? false)
        case .history(let request):
            return .history(request)
        case .read(let request):
            // Validation let only rooms through (private conversations come with their stream).
            return .read(room: request.room ?? ChatName.lobby, upTo: request.upTo)
        case .settings(let request):
            return .settings(privateReceipts: request.privateReceipts)
        case .users(let request):
            return .users(prefix: request.prefix ?? "", limit: request.limit ?? ClientFrame.defaultUsersLimit)
        case .typing(let request):
            if let room = request.room, !joined.rooms.contains(room) { return .answer(notInRoom(room, id: nil), refused: false) }
            guard typingAdmitted() else { return .drop }
            let key = request.room.map(ChatTopology.typingRoomKey) ?? ChatTopology.typingUserKey(request.to ?? "")
            return .typing(room: request.room, to: request.to, routingKey: key)
        }
    }

    static func notInRoom(_ room: String, id: String?) -> ChatProtocolError {
        ChatProtocolError(.notInRoom, "You are not in the room \(room): enter it first.", id: id)
    }
}

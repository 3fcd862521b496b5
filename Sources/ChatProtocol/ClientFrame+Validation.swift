extension ClientFrame {
    /// The most bytes a client `id` or a `msgId` in an `ack` may have.
    public static let maxIdBytes = 128
    /// The most msgIds in one `ack`.
    public static let maxAckIds = 1000
    /// The fewest and most bytes of a password (UTF-8).
    public static let passwordBytes = 8...256
    /// A password sign-in that failed, whatever was wrong (it never says which part).
    public static let signInFailed = "The nick and password do not match: check both and try again."
    /// A join by a session token that is unknown or was signed out.
    public static let sessionFailed = "This device is signed out (or its session is unknown): sign in again with your password."
    /// The characters of a session token (base64url of 32 bytes, no padding).
    public static let sessionCharacters = 43
    /// The label of a device whose join named none.
    public static let defaultDeviceLabel = "Unnamed device"
    /// The fewest and most characters of a device label.
    public static let deviceLabelCharacters = 1...64
    /// The most bytes of a device id in `signOut` (ids are 12 hex digits).
    public static let maxDeviceIdBytes = 64
    /// The fewest and most bytes of a join's `nonce`.
    public static let nonceBytes = 16...128
    /// The most rooms in one `join`.
    public static let maxJoinRooms = 100
    /// The most ids a join lists as `pending`.
    public static let maxJoinPending = 100
    /// The most messages one `history` request returns.
    public static let maxHistoryLimit = 100
    /// The most nicks one `users` answer lists, and how many without `limit`.
    public static let maxUsersLimit = 100
    public static let defaultUsersLimit = 50
    /// What `history` returns without `limit`.
    public static let defaultHistoryLimit = 50

    /// Checks every field against the protocol's rules and limits, or throws the error frame
    /// the client gets. A frame that passes can be executed as it is.
    public func validate(limits: ClientFrameLimits) throws(ChatProtocolError) {
        switch self {
        case .join(let join):
            guard ChatName.isValid(join.nick) else {
                throw ChatProtocolError(.invalidNick, "A nick is 1 to 32 letters, digits, '_', '.' or '-': pick another one.")
            }
            if let token = join.token, token.utf8.count > 256 {
                throw ChatProtocolError(.authFailed, "This token is not valid for this nick: join with the token you got in your first welcome.")
            }
            if let password = join.password, !Self.passwordBytes.contains(password.utf8.count) {
                throw ChatProtocolError(.authFailed, Self.signInFailed)
            }
            if let session = join.session, !Self.isSessionToken(session) {
                throw ChatProtocolError(.authFailed, Self.sessionFailed)
            }
            if let label = join.device {
                guard Self.deviceLabelCharacters.contains(label.unicodeScalars.count), !label.unicodeScalars.contains(where: Self.isControl) else {
                    throw ChatProtocolError(
                        .badRequest,
                        "'device' is a label of \(Self.deviceLabelCharacters.lowerBound) to \(Self.deviceLabelCharacters.upperBound) characters without control characters: shorten it."
                    )
                }
            }
            if let nonce = join.nonce {
                guard Self.nonceBytes.contains(nonce.utf8.count), nonce.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                    throw ChatProtocolError(
                        .badRequest,
                        "'nonce' must be \(Self.nonceBytes.lowerBound) to \(Self.nonceBytes.upperBound) printable ASCII characters, random, the same on every retry of this join."
                    )
                }
            }
            if let pending = join.pending {
                guard pending.count <= Self.maxJoinPending, pending.allSatisfy({ !$0.isEmpty && $0.utf8.count <= Self.maxIdBytes }) else {
                    throw ChatProtocolError(
                        .badRequest, "'pending' lists at most \(Self.maxJoinPending) ids of 1 to \(Self.maxIdBytes) bytes: list the oldest unanswered ones.")
                }
            }
            if let rooms = join.rooms {
                guard rooms.count <= Self.maxJoinRooms else {
                    throw ChatProtocolError(.badRequest, "A join may enter at most \(Self.maxJoinRooms) rooms: enter the others later.")
                }
                for room in rooms { try Self.checkRoom(room) }
            }
            if let resume = join.resume?.rooms { try Self.checkResume(resume, rooms: join.rooms ?? [ChatName.lobby]) }
        case .enter(let request), .leave(let request):
            try Self.checkRoom(request.room)
        case .setPassword(let request):
            guard Self.passwordBytes.contains(request.password.utf8.count) else {
                throw ChatProtocolError(
                    .weakPassword,
                    "A password is \(Self.passwordBytes.lowerBound) to \(Self.passwordBytes.upperBound) bytes: pick a longer (or shorter) one.")
            }
            if let current = request.current, !Self.passwordBytes.contains(current.utf8.count) {
                throw ChatProtocolError(.authFailed, "That is not your current password: send it as 'current' to change your password.")
            }
        case .devices, .settings:
            break
        case .read(let request):
            guard request.with == nil else {
                throw ChatProtocolError(.badRequest, "Read positions of private conversations ('with') are not served yet: send 'read' with a 'room'.")
            }
            guard let room = request.room else { throw ChatProtocolError(.badRequest, "A read names its 'room': add it.") }
            try Self.checkRoom(room)
            guard request.upTo >= 0 else { throw ChatProtocolError(.badRequest, "'upTo' is the seq of a message you were sent: 0 or more.") }
        case .signOut(let request):
            if let device = request.device {
                guard request.everywhere != true else {
                    throw ChatProtocolError(.badRequest, "A signOut names a 'device' or 'everywhere', not both: send two.")
                }
                guard !device.isEmpty, device.utf8.count <= Self.maxDeviceIdBytes else {
                    throw ChatProtocolError(.unknownDevice, "No device of yours has that id: ask 'devices' for the ids, then sign out one of them.")
                }
            }
        case .say(let say):
            try Self.checkId(say.id)
            if let room = say.room { try Self.checkRoom(room, id: say.id) }
            try Self.checkText(say.text, id: say.id, limits: limits)
        case .tell(let tell):
            try Self.checkId(tell.id)
            guard ChatName.isValid(tell.to) else {
                throw ChatProtocolError(.invalidNick, "'to' must be a nick of 1 to 32 letters, digits, '_', '.' or '-'.", id: tell.id)
            }
            try Self.checkText(tell.text, id: tell.id, limits: limits)
        case .ack(let ack):
            guard ack.msgIds.count <= Self.maxAckIds else {
                throw ChatProtocolError(.badRequest, "An ack may name at most \(Self.maxAckIds) msgIds: send several acks.")
            }
            for msgId in ack.msgIds where msgId.utf8.count > Self.maxIdBytes || msgId.isEmpty {
                throw ChatProtocolError(.badRequest, "Each msgId in an ack must be a msgId the server sent.")
            }
        case .history(let request):
            try Self.checkRoom(request.room)
            if let limit = request.limit, !(1...Self.maxHistoryLimit).contains(limit) {
                throw ChatProtocolError(.badRequest, "'limit' must be between 1 and \(Self.maxHistoryLimit).")
            }
            if let after = request.after {
                guard request.before == nil else {
                    throw ChatProtocolError(.badRequest, "A history request names 'before' or 'after', not both: send two requests.")
                }
                guard after >= 0 else {
                    throw ChatProtocolError(.badRequest, "'after' must be a seq you received (0 or more): send the seq of your newest message of the room.")
                }
            }
        case .users(let request):
            if let prefix = request.prefix, !prefix.isEmpty, !ChatName.isValid(prefix) {
                throw ChatProtocolError(.badRequest, "'prefix' must be the start of a nick: up to 32 letters, digits, '_', '.' or '-'.")
            }
            if let limit = request.limit, !(1...Self.maxUsersLimit).contains(limit) {
                throw ChatProtocolError(.badRequest, "'limit' must be between 1 and \(Self.maxUsersLimit).")
            }
        case .typing(let request):
            switch (request.room, request.to) {
            case (let room?, nil):
                try Self.checkRoom(room)
            case (nil, let to?):
                guard ChatName.isValid(to) else {
                    throw ChatProtocolError(.invalidNick, "'to' must be a nick of 1 to 32 letters, digits, '_', '.' or '-'.")
                }
            default:
                throw ChatProtocolError(.badRequest, "A typing frame names exactly one of 'room' or 'to'.")
            }
        }
    }

    /// 43 base64url characters: the shape of a session token (its value is checked by the node).
    static func isSessionToken(_ text: String) -> Bool {
        text.utf8.count == sessionCharacters
            && text.utf8.allSatisfy { (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D || $0 == 0x5F }
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || scalar.value == 0x7F
    }

    private static func checkRoom(_ room: String, id: String? = nil) throws(ChatProtocolError) {
        guard ChatName.isValid(room) else {
            throw ChatProtocolError(.invalidRoom, "A room name is 1 to 32 letters, digits, '_', '.' or '-': pick another one.", id: id)
        }
    }

    private static func checkResume(_ resume: [String: Int64], rooms: [String]) throws(ChatProtocolError) {
        guard resume.count <= maxJoinRooms else {
            throw ChatProtocolError(.badRequest, "'resume' names at most \(maxJoinRooms) rooms: resume the others with 'history' and 'after'.")
        }
        let joined = Set(rooms)
        for (room, seq) in resume.sorted(by: { $0.key < $1.key }) {
            try checkRoom(room)
            guard seq >= 0 else {
                throw ChatProtocolError(
                    .badRequest, "A position in 'resume' must be a seq you received (0 or more): send the seq of your newest message of \(room).")
            }
            guard joined.contains(room) else {
                throw ChatProtocolError(.badRequest, "'resume' names \(room), which is not in 'rooms': list it in 'rooms' too.")
            }
        }
    }

    private static func checkId(_ id: String) throws(ChatProtocolError) {
        guard !id.isEmpty, id.utf8.count <= maxIdBytes else {
            throw ChatProtocolError(.badRequest, "'id' must be a string of 1 to \(maxIdBytes) bytes, unique for each message you send.")
        }
    }

    private static func checkText(_ text: String, id: String, limits: ClientFrameLimits) throws(ChatProtocolError) {
        var count = 0
        for scalar in text.unicodeScalars {
            count += 1
            let value = scalar.value
            if value < 0x20 && value != 0x09 && value != 0x0A && value != 0x0D || value == 0x7F {
                throw ChatProtocolError(.badRequest, "The text contains a control character: remove it and send again.", id: id)
            }
        }
        guard count > 0 else {
            throw ChatProtocolError(.badRequest, "The text is empty: type something first.", id: id)
        }
        guard count <= limits.maxTextScalars else {
            throw ChatProtocolError(.tooLarge, "The text is longer than \(limits.maxTextScalars) characters: split it into several messages.", id: id)
        }
    }
}

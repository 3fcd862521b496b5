/// One broken guarantee, spelled out for the summary. A message is named by its sender and
/// the sender's sequence number (`u3#17`: client 3's 17th message).
struct Violation: Hashable, Sendable, Codable, CustomStringConvertible {
    enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        /// A confirmed message never reached a client that should have it.
        case loss
        /// A client got the same message more than once.
        case duplicate
        /// A client got a sender's messages out of the order they were sent in.
        case misorder
        /// A client got a message not meant for it (another room, another user's private message).
        case leak
        /// A message arrived with a `from` other than its sender.
        case wrongFrom = "wrong-from"
        /// The sender never got `sent` for a message (and no error).
        case unconfirmed
        /// The server refused a message with an error frame.
        case refused
        /// A private message's sender never got `delivered` for it.
        case missingReceipt = "missing-receipt"
        /// A message arrived with a `msgId` other than the one its sender was told.
        case msgIdMismatch = "msgid-mismatch"
        /// A frame no client of this run should get, or one it could not read.
        case unexpected
        /// A client's session closed before the run was over.
        case disconnected
        /// `--resume-drops`: a resume answered with a `gap` (with default retention nothing is dropped).
        case gap
    }

    var kind: Kind
    var detail: String

    var description: String { "\(kind.rawValue): \(detail)" }
}

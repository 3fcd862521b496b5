import FoundationEssentials

/// What the chat puts in a broker message body (JSON), one shape for every kind; which fields
/// are set depends on `kind` (Specs/amqp-topology.md, "Message bodies").
struct BrokerRecord: Sendable, Hashable, Codable {
    enum Kind: String, Sendable, Hashable, Codable {
        /// A public message, in the history stream.
        case say
        /// A nick claim, in the history stream; the first claim of a nick wins.
        case claim
        /// A node's marker, in the history stream: it has read everything before it.
        case sync
        /// A private message, in the addressee's queue.
        case tell
        /// A receipt, in the sender's queue.
        case delivered
        /// A node's full local roster, on the presence exchange.
        case roster
        /// A join that takes a nick over, on the presence exchange.
        case takeover
        /// Someone is typing, on the public exchange.
        case typing
        /// A starting node's secret fingerprint, on the presence exchange: running nodes answer.
        case hello
        /// A running node's answer to a `hello` (`to` is the starting node), on the presence exchange.
        case fingerprint
    }

    var kind: Kind
    var msgId: String?
    var from: String?
    var to: String?
    var room: String?
    var text: String?
    var ts: Int64?
    var nick: String?
    var node: String?
    var marker: String?
    var nicks: [String]?
    /// On a claim: ``NickToken/claimant(for:nonce:)`` of the join that made it, when it had a nonce.
    var claimant: String?
    /// On a `hello` or a `fingerprint`: the publishing node's ``SecretFingerprint``.
    var fingerprint: String?

    init(
        kind: Kind, msgId: String? = nil, from: String? = nil, to: String? = nil, room: String? = nil, text: String? = nil,
        ts: Int64? = nil, nick: String? = nil, node: String? = nil, marker: String? = nil, nicks: [String]? = nil,
        claimant: String? = nil, fingerprint: String? = nil
    ) {
        self.kind = kind
        self.msgId = msgId
        self.from = from
        self.to = to
        self.room = room
        self.text = text
        self.ts = ts
        self.nick = nick
        self.node = node
        self.marker = marker
        self.nicks = nicks
        self.claimant = claimant
        self.fingerprint = fingerprint
    }

    var body: [UInt8] { Array(ChatFrameCodec.encodeValue(self).utf8) }

    static func decode(_ body: [UInt8]) -> BrokerRecord? {
        try? JSONDecoder().decode(BrokerRecord.self, from: Data(body))
    }
}

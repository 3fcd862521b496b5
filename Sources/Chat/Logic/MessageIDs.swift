import Crypto
import FoundationEssentials

/// Derives `msgId`: the first 16 bytes of HMAC-SHA256 over the sender and the client's `id`,
/// in hex. Stable for a sender and an `id` on every node and across restarts, so a retry after
/// a reconnect to another node still carries the same `msgId`, and clients drop it.
public struct MessageIDs: Sendable {
    private let key: SymmetricKey

    public init(secret: [UInt8]) {
        key = SymmetricKey(data: secret)
    }

    /// The `msgId` of the message that `sender` sent with client id `id`.
    public func messageId(sender: String, clientId: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("rabbitchat-msg\u{0}\(sender.utf8.count)\u{0}\(sender)\u{0}\(clientId)".utf8), using: key)
        var hex = ""
        hex.reserveCapacity(32)
        for byte in mac.prefix(16) {
            hex.append(Self.digits[Int(byte >> 4)])
            hex.append(Self.digits[Int(byte & 0x0F)])
        }
        return hex
    }

    private static let digits = Array("0123456789abcdef")
}

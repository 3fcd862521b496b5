import Crypto
import FoundationEssentials

extension NickToken {
    /// What a claim record carries for a join's `nonce`: HMAC-SHA256 of the nick and the nonce
    /// under the shared secret, base64url. A retry of that join (same nick and nonce) on any node
    /// derives the same value, so the node can tell that the claim is this client's; the nonce
    /// itself never leaves the join, so reading the history stream does not reveal it.
    public func claimant(for nick: String, nonce: String) -> String {
        let input = Data("rabbitchat-claim\u{0}\(nick.utf8.count)\u{0}\(nick)\u{0}\(nonce)".utf8)
        return Self.base64URL(Data(HMAC<SHA256>.authenticationCode(for: input, using: key)))
    }
}

import Crypto
import FoundationEssentials

/// The proof that a client owns a claimed nick: HMAC-SHA256 of the nick under the secret that
/// every node shares, base64url without padding. Any node can check it; nothing is stored.
public struct NickToken: Sendable {
    let key: SymmetricKey

    public init(secret: [UInt8]) {
        key = SymmetricKey(data: secret)
    }

    /// The token of `nick`.
    public func token(for nick: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Self.input(nick), using: key)
        return Self.base64URL(Data(mac))
    }

    /// True when `token` is the token of `nick`; compared in constant time.
    public func verify(_ token: String, for nick: String) -> Bool {
        guard let mac = Self.decodeBase64URL(token), mac.count == SHA256.byteCount else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Self.input(nick), using: key)
    }

    private static func input(_ nick: String) -> Data {
        Data("rabbitchat-nick\u{0}\(nick)".utf8)
    }

    static func base64URL(_ data: Data) -> String {
        var text = data.base64EncodedString()
        text = text.replacing("+", with: "-").replacing("/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    static func decodeBase64URL(_ text: String) -> Data? {
        var base64 = text.replacing("-", with: "+").replacing("_", with: "/")
        while base64.utf8.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}

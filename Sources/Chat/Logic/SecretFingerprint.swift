import Crypto
import FoundationEssentials

/// What a node says about its secret so that nodes can tell whether they share it, without
/// saying the secret: the first 8 bytes of SHA-256 over HMAC-SHA256(secret, "rabbitChat
/// fingerprint"), as 16 hex digits. The HMAC's fixed input is used nowhere else (tokens sign
/// `rabbitchat-nick\0<nick>`), so the fingerprint is no token and no token is a fingerprint;
/// 64 bits tell two random secrets apart, and reveal nothing useful about a 256-bit key.
public enum SecretFingerprint {
    public static func of(_ secret: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("rabbitChat fingerprint".utf8), using: SymmetricKey(data: secret))
        let digest = SHA256.hash(data: Data(mac))
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest.prefix(8) {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Why a node refused to start: its secret differs from the one the chat's nodes use.
public struct ChatNodeRefused: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ sentence: String) {
        description = sentence
    }
}

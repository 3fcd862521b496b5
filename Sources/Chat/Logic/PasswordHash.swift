import Crypto
import CryptoExtras
import FoundationEssentials

/// A password as the broker keeps it (Specs/chat-protocol.md, "Passwords"): only its scrypt
/// hash, with the salt and the parameters that made it, so the parameters can be raised later.
/// Deriving is slow on purpose (about 150 ms at the defaults): call it off the node's actor.
struct PasswordHash: Sendable, Hashable, Codable {
    /// scrypt's cost `N` (`rounds`), a power of two.
    var n: Int
    /// scrypt's block size `r`.
    var r: Int
    /// scrypt's parallelism `p`.
    var p: Int
    var salt: [UInt8]
    var hash: [UInt8]

    static let defaultN = 1 << 15
    static let defaultR = 8
    static let defaultP = 1
    static let saltBytes = 16
    static let hashBytes = 32
    /// The bytes a password may have (UTF-8), both ends included: `weak_password` outside.
    static let passwordBytes = 8...256
    /// The largest `N` a record may ask for (a hostile record must not cost the node gigabytes).
    static let maxN = 1 << 20

    enum Failure: Error, Sendable, Hashable {
        /// The parameters are not ones this node derives with (not a power of two, too costly).
        case badParameters
    }

    /// Hashes `password` with a fresh random salt and the default parameters (`n`: scrypt's cost).
    static func make(password: String, n: Int = defaultN) throws -> PasswordHash {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<saltBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return try make(password: password, salt: salt, n: n, r: defaultR, p: defaultP)
    }

    static func make(password: String, salt: [UInt8], n: Int, r: Int, p: Int) throws -> PasswordHash {
        let hash = try derive(password: password, salt: salt, n: n, r: r, p: p)
        return PasswordHash(n: n, r: r, p: p, salt: salt, hash: hash)
    }

    /// Whether `password` is the one hashed here; the comparison takes the same time wherever
    /// the bytes differ.
    func verify(_ password: String) throws -> Bool {
        let candidate = try Self.derive(password: password, salt: salt, n: n, r: r, p: p)
        guard candidate.count == hash.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(candidate, hash) { difference |= a ^ b }
        return difference == 0
    }

    private static func derive(password: String, salt: [UInt8], n: Int, r: Int, p: Int) throws -> [UInt8] {
        guard n > 1, n <= maxN, n & (n - 1) == 0, (1...32).contains(r), (1...4).contains(p), !salt.isEmpty else {
            throw Failure.badParameters
        }
        let key = try KDF.Scrypt.deriveKey(
            from: Array(password.utf8), salt: salt, outputByteCount: hashBytes, rounds: n, blockSize: r, parallelism: p)
        return key.withUnsafeBytes { Array($0) }
    }
}

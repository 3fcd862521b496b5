#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The key that signs nick tokens. Every node of one chat must read the same file: a token
/// issued by one node is then accepted by all of them.
///
/// The file holds 64 hexadecimal digits (32 random bytes) and a newline. When it does not exist
/// it is created with a fresh key, readable and writable by its owner only (mode 600), so a first
/// start needs no setup.
struct SecretFile {
    /// Where the key lives.
    let path: String

    /// The smallest key that is accepted from a file someone wrote by hand.
    static let minimumKeyBytes = 16

    /// Reads the key, creating the file with a random key first when it is absent.
    /// - Returns: the key bytes and whether the file was created now.
    func loadOrCreate() throws(StartupError) -> (key: [UInt8], created: Bool) {
        if let existing = try readKey() {
            return (existing, false)
        }
        var generator = SystemRandomNumberGenerator()
        let key = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        try create(contents: Self.hex(key) + "\n")
        // Another node may have created it at the same moment: whatever is on disk wins.
        guard let stored = try readKey() else {
            throw StartupError("The secret file \(path) vanished right after it was created; check what else writes there.")
        }
        return (stored, stored == key)
    }

    /// The key in the file, or nil when there is no file.
    func readKey() throws(StartupError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StartupError("Cannot read the secret file \(path) (\(Self.errnoText())); fix its permissions or choose another with --secret-file.")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count <= 65_536 {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StartupError("Cannot read the secret file \(path) (\(Self.errnoText())); fix its permissions or choose another with --secret-file.")
            }
            if n == 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return try Self.key(from: bytes, path: path)
    }

    /// The key from the file's bytes: 64 (or any even number of) hex digits, or else the raw bytes.
    static func key(from bytes: [UInt8], path: String) throws(StartupError) -> [UInt8] {
        let trimmed = Array(bytes.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
        let key = unhex(trimmed) ?? trimmed
        guard key.count >= minimumKeyBytes else {
            throw StartupError("The secret file \(path) holds fewer than \(minimumKeyBytes) bytes of key; delete it to have a new one generated, or copy the file of the other nodes.")
        }
        return key
    }

    /// Writes the key to a temporary file beside `path`, then links it to `path`: `link` never
    /// replaces an existing file and makes the whole file appear at once, so a node starting at
    /// the same moment reads either no file or the complete key (never half of one). When
    /// another node linked first, its key stays.
    private func create(contents: String) throws(StartupError) {
        let directory = Self.directory(of: path)
        if !directory.isEmpty { try Self.makeDirectories(directory) }
        let temporary = "\(path).\(getpid()).\(UInt64.random(in: 0 ... .max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if fd < 0 {
            throw StartupError("Cannot create the secret file \(path) (\(Self.errnoText())); choose a writable place with --secret-file.")
        }
        defer { unlink(temporary) }
        do {
            defer { close(fd) }
            let bytes = Array(contents.utf8)
            var written = 0
            while written < bytes.count {
                let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StartupError("Cannot write the secret file \(path) (\(Self.errnoText())); choose a writable place with --secret-file.")
                }
                written += n
            }
            fsync(fd)
        }
        if link(temporary, path) != 0 && errno != EEXIST {
            throw StartupError("Cannot create the secret file \(path) (\(Self.errnoText())); choose a writable place with --secret-file.")
        }
    }

    private static func makeDirectories(_ directory: String) throws(StartupError) {
        var prefix = directory.hasPrefix("/") ? "/" : ""
        for part in directory.split(separator: "/") {
            prefix += part
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw StartupError("Cannot create the folder \(prefix) for the secret file (\(errnoText())); choose another place with --secret-file.")
            }
            prefix += "/"
        }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func unhex(_ text: [UInt8]) -> [UInt8]? {
        guard !text.isEmpty, text.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 2)
        var i = 0
        while i < text.count {
            guard let hi = nibble(text[i]), let lo = nibble(text[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}

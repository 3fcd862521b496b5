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

    /// The smallest key that is accepted from a file someone wrote by hand: 32 bytes, as many
    /// as a generated key (HMAC-SHA256's block of security).
    static let minimumKeyBytes = 32

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

    /// The key in the file, or nil when there is no file. A file that group or others may
    /// read (or write) is refused: anyone who reads it can sign tokens for every nick.
    func readKey() throws(StartupError) -> [UInt8]? {
        guard let bytes = try PrivateFile.readBytes(path, what: "secret file", option: "--secret-file", limit: 65_536) else {
            return nil
        }
        return try Self.key(from: bytes, path: path)
    }

    /// The key from the file's bytes: 64 (or any even number of) hex digits, or else the raw bytes.
    static func key(from bytes: [UInt8], path: String) throws(StartupError) -> [UInt8] {
        let trimmed = Array(bytes.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
        let key = unhex(trimmed) ?? trimmed
        guard key.count >= minimumKeyBytes else {
            throw StartupError(
                "The secret file \(path) holds \(key.count) bytes of key, fewer than the \(minimumKeyBytes) needed; delete it to have a new one generated (then copy it to every node), or copy the file of the other nodes."
            )
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

/// A file that holds a secret (the token key, broker passwords): read only when no one but its
/// owner may read or write it, and only up to a size limit.
enum PrivateFile {
    /// The file's bytes; nil when it does not exist. Refuses, with one sentence saying what to
    /// do, a file whose mode lets group or others in, one that is not a regular file, and one
    /// larger than `limit` bytes. The mode is checked on the opened descriptor, so a file
    /// swapped in between the check and the read is not read.
    static func readBytes(_ path: String, what: String, option: String, limit: Int) throws(StartupError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StartupError("Cannot read the \(what) \(path) (\(SecretFile.errnoText())); fix its permissions or choose another with \(option).")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw StartupError("Cannot read the \(what) \(path) (\(SecretFile.errnoText())); fix its permissions or choose another with \(option).")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw StartupError("The \(what) \(path) is not a regular file; point \(option) at a file.")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw StartupError(
                "The \(what) \(path) can be read or written by other users (mode \(String(mode, radix: 8))); run `chmod 600 \(path)` and start again.")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StartupError("Cannot read the \(what) \(path) (\(SecretFile.errnoText())); fix its permissions or choose another with \(option).")
            }
            if n == 0 { break }
            guard bytes.count + n <= limit else {
                throw StartupError("The \(what) \(path) is larger than \(limit) bytes; point \(option) at the right file.")
            }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return bytes
    }

    /// The file's text (UTF-8); a missing file is an error here.
    static func read(_ path: String, what: String, option: String, limit: Int) throws(StartupError) -> String {
        guard let bytes = try readBytes(path, what: what, option: option, limit: limit) else {
            throw StartupError("The \(what) \(path) does not exist; check the path given to \(option).")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw StartupError("The \(what) \(path) is not UTF-8 text; point \(option) at the right file.")
        }
        return text
    }
}

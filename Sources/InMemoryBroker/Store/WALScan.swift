#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a SQLite write-ahead log (`store.sqlite-wal`) before SQLite opens it, to find the
/// bytes after its last complete transaction: what a crash tore (a transaction whose frames
/// were not all written, or were written but not synced). SQLite's own recovery ignores
/// those bytes (it checks the same salts and checksums); this scan only lets the store
/// *say* that it dropped them. The format is SQLite's (https://sqlite.org/fileformat.html,
/// "WAL file format"); `Specs/storage.md` has the recovery rule.
public struct WALScan: Equatable, Sendable {
    /// Bytes up to the end of the last valid commit frame (0: no valid transaction).
    public var validBytes: Int
    /// The size of the file.
    public var fileBytes: Int
    /// Complete transactions found.
    public var transactions: Int

    /// Bytes after the last complete transaction, which recovery drops.
    public var tornBytes: Int { fileBytes - validBytes }

    static let headerSize = 32
    static let frameHeaderSize = 24

    /// Scans the log at `path`; nil when there is none.
    static func scan(path: String) -> WALScan? {
        guard let bytes = readFile(path) else { return nil }
        return scan(bytes)
    }

    public static func scan(_ bytes: [UInt8]) -> WALScan {
        var result = WALScan(validBytes: 0, fileBytes: bytes.count, transactions: 0)
        guard bytes.count >= headerSize else { return result }
        let magic = bigEndian(bytes, 0)
        guard magic & 0xFFFF_FFFE == 0x377F_0682 else { return result }
        let bigEndianSums = magic & 1 == 1
        let pageSize = Int(bigEndian(bytes, 8))
        guard pageSize >= 512, pageSize <= 65_536, pageSize & (pageSize - 1) == 0 else { return result }
        var sums = checksum(bytes, 0..<24, bigEndian: bigEndianSums, (0, 0))
        guard sums.0 == bigEndian(bytes, 24), sums.1 == bigEndian(bytes, 28) else { return result }
        let salt1 = bigEndian(bytes, 16)
        let salt2 = bigEndian(bytes, 20)
        var offset = headerSize
        let frameSize = frameHeaderSize + pageSize
        while frameSize <= bytes.count - offset {
            guard bigEndian(bytes, offset + 8) == salt1, bigEndian(bytes, offset + 12) == salt2,
                bigEndian(bytes, offset) != 0
            else { break }
            sums = checksum(bytes, offset..<(offset + 8), bigEndian: bigEndianSums, sums)
            sums = checksum(bytes, (offset + frameHeaderSize)..<(offset + frameSize), bigEndian: bigEndianSums, sums)
            guard sums.0 == bigEndian(bytes, offset + 16), sums.1 == bigEndian(bytes, offset + 20) else { break }
            offset += frameSize
            if bigEndian(bytes, offset - frameSize + 4) != 0 {
                result.validBytes = offset
                result.transactions += 1
            }
        }
        return result
    }

    private static func bigEndian(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }

    /// SQLite's WAL checksum: over pairs of 32-bit words, each pair added into both sums.
    private static func checksum(_ bytes: [UInt8], _ range: Range<Int>, bigEndian big: Bool, _ start: (UInt32, UInt32)) -> (UInt32, UInt32) {
        var (s0, s1) = start
        var index = range.lowerBound
        while index + 8 <= range.upperBound {
            let x0: UInt32
            let x1: UInt32
            if big {
                x0 = bigEndian(bytes, index)
                x1 = bigEndian(bytes, index + 4)
            } else {
                x0 = UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24
                x1 = UInt32(bytes[index + 4]) | UInt32(bytes[index + 5]) << 8 | UInt32(bytes[index + 6]) << 16 | UInt32(bytes[index + 7]) << 24
            }
            s0 = s0 &+ x0 &+ s1
            s1 = s1 &+ x1 &+ s0
            index += 8
        }
        return (s0, s1)
    }

    static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return bytes
    }
}

import Broker
import InMemoryBroker
import ServerTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A crash in the middle of a write: the newest transaction of the store's write-ahead log
/// is cut short or damaged at every byte. The store must open with exactly the earlier,
/// confirmed messages and say in one log line that it dropped the torn tail
/// (`Specs/storage.md`, "Recovery").
@Suite struct StoreTornTailTests {
    static let messages = 6

    @Test func aTruncatedOrCorruptedNewestTransactionIsDroppedWithOneLogLineAtEveryByte() async throws {
        let source = try TemporaryDirectory.make(prefix: "rabbitchat-torn-source")
        defer { TemporaryDirectory.remove(source) }
        let broker = try InMemoryBroker(dataDirectory: source, log: { _ in })
        let channel = try await broker.connect(name: "writer").openChannel()
        try await channel.declareQueue("q", options: .durable)
        var walBefore = 0
        for index in 1...Self.messages {
            if index == Self.messages { walBefore = Self.read(source + "/store.sqlite-wal").count }
            try await channel.send("message \(index)", key: "q", persistent: true)
        }
        // The files as a crash right now would leave them (the broker is still open).
        let database = Self.read(source + "/store.sqlite")
        let wal = Self.read(source + "/store.sqlite-wal")
        broker.close()
        #expect(walBefore > 32 && wal.count > walBefore, "the newest publish should be the last transaction of the log")
        let earlier = (1..<Self.messages).map { "message \($0)" }
        let all = earlier + ["message \(Self.messages)"]

        // Intact: everything is there and nothing is said.
        #expect(try await Self.reopen(database, wal) == (all, []))

        // Cut exactly at the start of the newest transaction: a crash before it wrote a byte.
        // Nothing is torn, nothing is said.
        #expect(try await Self.reopen(database, Array(wal[..<walBefore])) == (earlier, []))

        // Every byte, through the scan that finds the torn tail (what SQLite's recovery drops).
        var scanFailures: [String] = []
        for cut in walBefore..<wal.count {
            for damage in [Damage.truncate, .corrupt] where !(damage == .truncate && cut == walBefore) {
                let scan = WALScan.scan(Self.damaged(wal, damage, at: cut))
                if scan.validBytes != walBefore || scan.tornBytes == 0 { scanFailures.append("\(damage) at \(cut): \(scan)") }
            }
        }
        #expect(scanFailures.isEmpty, "the scan misjudged \(scanFailures.count) damaged logs, first: \(scanFailures.prefix(3))")

        // Opening the store: at every byte with RABBITCHAT_TORN_EVERY_BYTE=1 (about 4 minutes in a
        // debug build), else at every byte of the frame header and a stride through the page.
        let everyByte = TestEnvironment.environment("RABBITCHAT_TORN_EVERY_BYTE") == "1"
        let header = (walBefore + 1)..<(walBefore + 32)
        let offsets =
            everyByte
            ? Array((walBefore + 1)..<wal.count)
            : Array(header) + Array(stride(from: walBefore + 32, to: wal.count, by: 97)) + [wal.count - 1]
        let target = try TemporaryDirectory.make(prefix: "rabbitchat-torn")
        defer { TemporaryDirectory.remove(target) }
        var failures = 0
        for cut in offsets {
            for damage in [Damage.truncate, .corrupt] {
                let (texts, lines) = try await Self.reopen(database, Self.damaged(wal, damage, at: cut), in: target)
                let tornLines = lines.filter { $0.contains("torn tail") }
                if texts != earlier || tornLines.count != 1 || lines.count != 1 {
                    failures += 1
                    if failures <= 5 {
                        Issue.record("\(damage) at WAL byte \(cut) of \(wal.count): got \(texts.count) messages, log \(lines)")
                    }
                }
            }
        }
        #expect(failures == 0, "\(failures) of \(offsets.count * 2) damaged logs did not recover to the confirmed state with one log line")
    }

    static func damaged(_ wal: [UInt8], _ damage: Damage, at cut: Int) -> [UInt8] {
        var torn = wal
        switch damage {
        case .truncate: torn.removeSubrange(cut...)
        case .corrupt: torn[cut] ^= 0xFF
        }
        return torn
    }

    enum Damage: CustomStringConvertible {
        case truncate, corrupt
        var description: String { self == .truncate ? "truncated" : "corrupted" }
    }

    /// Opens a store made of these two files and returns the texts queued in `q` and the log lines.
    static func reopen(_ database: [UInt8], _ wal: [UInt8], in reuse: String? = nil) async throws -> ([String], [String]) {
        let directory = try reuse ?? TemporaryDirectory.make(prefix: "rabbitchat-torn")
        defer { if reuse == nil { TemporaryDirectory.remove(directory) } }
        unlink(directory + "/store.sqlite-shm")
        write(database, to: directory + "/store.sqlite")
        write(wal, to: directory + "/store.sqlite-wal")
        let lines = Mutex<[String]>([])
        let broker = try InMemoryBroker(dataDirectory: directory, log: { line in lines.withLock { $0.append(line) } })
        let channel = try await broker.connect(name: "reader").openChannel()
        var texts: [String] = []
        while let delivery = try await channel.get(queue: "q", autoAck: false) { texts.append(delivery.text) }
        broker.close()
        return (texts, lines.withLock { $0 })
    }

    static func read(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return bytes
    }

    static func write(_ bytes: [UInt8], to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}

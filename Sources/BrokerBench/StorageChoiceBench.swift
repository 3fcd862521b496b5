import CSQLite
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The storage choice by measurement (`Specs/storage.md`, "Why SQLite"): the built-in
/// broker's SQLite store against a minimal hand-written segmented append-only log with a
/// CRC32 per record, at the storage layer, behind the same group-commit writer.
///
/// Only for this comparison: `ComparisonSegmentLog` lives in the BrokerBench target and the
/// product never uses it. Both engines get the same records (an 8-byte id, an 8-byte
/// timestamp and the body) from the same ``ComparisonGroupCommit`` (one writer thread takes
/// everything that arrived, writes it, syncs once, then resumes the waiters), in three
/// workloads:
/// - batched: one publisher, `window` records submitted together, then awaited;
/// - await each: one publisher, one record submitted and awaited at a time;
/// - 16 publishers each awaiting one record at a time (what group commit is for).
struct StorageChoiceBench {
    let messages: Int
    let window: Int
    let size: Int
    let repeats: Int
    let dataDir: String?

    static let publishers = 16

    func run() async throws {
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        let workloads: [(String, Workload)] = [
            ("batched (\(window) a window)", .batched(count: messages, window: window)),
            ("await each", .awaitEach(count: max(1, messages / 20))),
            ("\(Self.publishers) publishers, await each", .concurrent(publishers: Self.publishers, each: max(1, messages / 80))),
        ]
        let engines = ["SQLite store (WAL, synchronous=FULL)", "segmented log + CRC32 + fdatasync (comparison only)"]
        var rates = Array(repeating: Array(repeating: [Double](), count: workloads.count), count: engines.count)
        var syncs = Array(repeating: Array(repeating: [Double](), count: workloads.count), count: engines.count)
        for round in 1...repeats {
            // Interleaved, so that a busy moment of the machine hits both engines alike.
            for (w, (name, workload)) in workloads.enumerated() {
                for e in engines.indices {
                    let directory = dataDir.map { "\($0)/e\(e)-w\(w)-r\(round)" } ?? RestartBench.temporaryDirectory("brokerbench-storage")
                    if dataDir != nil { mkdir(directory, 0o700) }
                    defer { Self.removeTree(directory) }
                    let engine: any ComparisonEngine = e == 0 ? try ComparisonSQLite(directory: directory) : try ComparisonSegmentLog(directory: directory)
                    let committer = ComparisonGroupCommit(engine: engine)
                    let started = ContinuousClock.now
                    let count = try await workload.run(committer, body: body)
                    let elapsed = ContinuousClock.now - started
                    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                    let stored = try engine.verify()
                    guard stored == count else {
                        throw StoreBenchError("\(engines[e]) holds \(stored) valid records after \(name), not the \(count) confirmed.")
                    }
                    rates[e][w].append(Double(count) / seconds)
                    syncs[e][w].append(Double(count) / Double(max(1, committer.commits)))
                    engine.close()
                    print("round \(round)/\(repeats): \(name): \(engines[e]): \(Int(Double(count) / seconds)) records/s, \(committer.commits) syncs")
                }
            }
        }
        print("")
        print("| \(size)-byte records, median of \(repeats) | " + workloads.map(\.0).joined(separator: " | ") + " |")
        print("|---|" + workloads.map { _ in "---:|" }.joined())
        for e in engines.indices {
            let cells = workloads.indices.map { w in
                "\(Int(Self.median(rates[e][w]))) /s (\(Self.fixed(Self.median(syncs[e][w]))) a sync)"
            }
            print("| \(engines[e]) | " + cells.joined(separator: " | ") + " |")
        }
        let ratios = workloads.indices.map { w in Self.fixed(Self.median(rates[1][w]) / max(1, Self.median(rates[0][w])), digits: 2) }
        print("| log ÷ SQLite | " + ratios.joined(separator: " | ") + " |")
    }

    enum Workload {
        case batched(count: Int, window: Int)
        case awaitEach(count: Int)
        case concurrent(publishers: Int, each: Int)

        /// Submits the records and waits for each to be durable; returns how many.
        func run(_ committer: ComparisonGroupCommit, body: [UInt8]) async throws -> Int {
            switch self {
            case .batched(let count, let window):
                var sent = 0
                while sent < count {
                    let n = min(window, count - sent)
                    let ticket = committer.submit((0..<n).map { ComparisonRecord(id: Int64(sent + $0), body: body) })
                    try await committer.waitDurable(ticket)
                    sent += n
                }
                return count
            case .awaitEach(let count):
                for id in 0..<count {
                    try await committer.waitDurable(committer.submit([ComparisonRecord(id: Int64(id), body: body)]))
                }
                return count
            case .concurrent(let publishers, let each):
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for p in 0..<publishers {
                        group.addTask {
                            for i in 0..<each {
                                let id = Int64(p * each + i)
                                try await committer.waitDurable(committer.submit([ComparisonRecord(id: id, body: body)]))
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                return publishers * each
            }
        }
    }

    /// `value` with `digits` decimals (no Foundation in this target).
    static func fixed(_ value: Double, digits: Int = 1) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int((value * scale).rounded())
        let fraction = String(abs(scaled) % Int(scale))
        return "\(scaled / Int(scale)).\(String(repeating: "0", count: digits - fraction.count))\(fraction)"
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    /// Removes a bench directory and the files in it (flat: segments or the SQLite files).
    static func removeTree(_ path: String) {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(path)
    }
}

struct StoreBenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

struct ComparisonRecord: Sendable {
    let id: Int64
    let body: [UInt8]
}

/// One storage engine of the comparison: `write` makes a group of records durable with one
/// sync; `verify` reads everything back and counts the valid records.
protocol ComparisonEngine: AnyObject, Sendable {
    func write(_ records: [ComparisonRecord]) throws
    func verify() throws -> Int
    func close()
}

/// The group-commit writer both engines sit behind: the same scheme as the store's
/// `DurableStore` (a serial writer queue takes everything pending, writes it, syncs once,
/// then resumes every waiter it covered).
final class ComparisonGroupCommit: Sendable {
    private struct State {
        var pending: [ComparisonRecord] = []
        var submitted: UInt64 = 0
        var committed: UInt64 = 0
        var writerRunning = false
        var failure: StoreBenchError?
        var waiters: [(ticket: UInt64, continuation: CheckedContinuation<Result<Void, StoreBenchError>, Never>)] = []
        var commits = 0
    }

    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "BrokerBench.storage-choice.writer")
    let engine: any ComparisonEngine

    init(engine: any ComparisonEngine) { self.engine = engine }

    var commits: Int { state.withLock { $0.commits } }

    func submit(_ records: [ComparisonRecord]) -> UInt64 {
        let (ticket, start) = state.withLock { state -> (UInt64, Bool) in
            state.pending.append(contentsOf: records)
            state.submitted += 1
            guard !state.writerRunning else { return (state.submitted, false) }
            state.writerRunning = true
            return (state.submitted, true)
        }
        if start { queue.async { self.drain() } }
        return ticket
    }

    func waitDurable(_ ticket: UInt64) async throws {
        let result: Result<Void, StoreBenchError> = await withCheckedContinuation { continuation in
            let now: Result<Void, StoreBenchError>? = state.withLock { state in
                if state.committed >= ticket { return .success(()) }
                if let failure = state.failure { return .failure(failure) }
                state.waiters.append((ticket, continuation))
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
        try result.get()
    }

    private func drain() {
        while true {
            let (records, ticket) = state.withLock { state -> ([ComparisonRecord], UInt64) in
                if state.pending.isEmpty { state.writerRunning = false }
                defer { state.pending.removeAll(keepingCapacity: true) }
                return (state.pending, state.submitted)
            }
            if records.isEmpty { return }
            var failure: StoreBenchError?
            do { try engine.write(records) } catch { failure = StoreBenchError("\(error)") }
            let ready = state.withLock { state -> [CheckedContinuation<Result<Void, StoreBenchError>, Never>] in
                if let failure {
                    state.failure = failure
                } else {
                    state.committed = ticket
                    state.commits += 1
                }
                var ready: [CheckedContinuation<Result<Void, StoreBenchError>, Never>] = []
                state.waiters.removeAll { waiter in
                    guard failure != nil || waiter.ticket <= ticket else { return false }
                    ready.append(waiter.continuation)
                    return true
                }
                return ready
            }
            for continuation in ready { continuation.resume(returning: failure.map { .failure($0) } ?? .success(())) }
        }
    }
}

/// The store's side: the same pragmas, table and statement as `DurableStore` (WAL,
/// `synchronous=FULL`, one `BEGIN IMMEDIATE … COMMIT` per group, `INSERT OR REPLACE` into
/// `messages`).
///
/// `@unchecked Sendable`: the connection is used only on the committer's serial writer queue,
/// and by `verify`/`close` after every write returned.
final class ComparisonSQLite: ComparisonEngine, @unchecked Sendable {
    private var db: OpaquePointer?
    private var insert: OpaquePointer?
    private let path: String
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(directory: String) throws {
        path = directory + "/store.sqlite"
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK else {
            throw StoreBenchError("cannot open \(path)")
        }
        try exec(
            """
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=FULL;
            PRAGMA journal_size_limit=0;
            CREATE TABLE messages(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, exchange TEXT NOT NULL, routing_key TEXT NOT NULL, properties BLOB NOT NULL, body BLOB NOT NULL);
            """)
        guard
            sqlite3_prepare_v2(
                db, "INSERT OR REPLACE INTO messages(id, ts, exchange, routing_key, properties, body) VALUES (?1, ?2, '', 'bench', x'', ?3)", -1, &insert, nil)
                == SQLITE_OK
        else {
            throw StoreBenchError("prepare: \(String(cString: sqlite3_errmsg(db)))")
        }
    }

    private func exec(_ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw StoreBenchError("\(sql.prefix(40)): \(String(cString: sqlite3_errmsg(db)))") }
    }

    func write(_ records: [ComparisonRecord]) throws {
        try exec("BEGIN IMMEDIATE")
        let ts = Int64(time(nil))
        for record in records {
            sqlite3_bind_int64(insert, 1, record.id)
            sqlite3_bind_int64(insert, 2, ts)
            _ = record.body.withUnsafeBytes { sqlite3_bind_blob(insert, 3, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count), Self.transient) }
            guard sqlite3_step(insert) == SQLITE_DONE else { throw StoreBenchError("insert: \(String(cString: sqlite3_errmsg(db)))") }
            sqlite3_reset(insert)
        }
        try exec("COMMIT")
    }

    func verify() throws -> Int {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM messages", -1, &statement, nil) == SQLITE_OK, sqlite3_step(statement) == SQLITE_ROW else {
            throw StoreBenchError("count: \(String(cString: sqlite3_errmsg(db)))")
        }
        defer { sqlite3_finalize(statement) }
        return Int(sqlite3_column_int64(statement, 0))
    }

    func close() {
        sqlite3_finalize(insert)
        sqlite3_close_v2(db)
        insert = nil
        db = nil
    }
}

/// The hand-written log of the comparison, never used by the product: numbered segment
/// files (`00000000.log`, …) of at most `segmentBytes`; each record is `length` (UInt32 LE),
/// `crc32` of the payload (UInt32 LE) and the payload (id and timestamp as Int64 LE, then
/// the body). A group is one `write` of all its records and one `fdatasync`; a new segment
/// also fsyncs the directory.
///
/// `@unchecked Sendable`: the descriptor and offsets are used only on the committer's serial
/// writer queue, and by `verify`/`close` after every write returned.
final class ComparisonSegmentLog: ComparisonEngine, @unchecked Sendable {
    let directory: String
    let segmentBytes: Int
    private var fd: Int32 = -1
    private var segment = 0
    private var offset = 0
    private var buffer: [UInt8] = []

    init(directory: String, segmentBytes: Int = 64 << 20) throws {
        self.directory = directory
        self.segmentBytes = segmentBytes
        try openSegment()
    }

    private func segmentPath(_ n: Int) -> String {
        let digits = String(n)
        return directory + "/" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits + ".log"
    }

    private func openSegment() throws {
        if fd >= 0 { Glibc.close(fd) }
        fd = open(segmentPath(segment), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreBenchError("open \(segmentPath(segment)): \(String(cString: strerror(errno)))") }
        offset = 0
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            _ = fsync(dir)
            Glibc.close(dir)
        }
    }

    func write(_ records: [ComparisonRecord]) throws {
        buffer.removeAll(keepingCapacity: true)
        let ts = Int64(time(nil))
        for record in records {
            let payloadCount = 16 + record.body.count
            if offset + buffer.count + 8 + payloadCount > segmentBytes, offset + buffer.count > 0 {
                try flush()
                guard fdatasync(fd) == 0 else { throw StoreBenchError("fdatasync: \(String(cString: strerror(errno)))") }
                segment += 1
                try openSegment()
            }
            let start = buffer.count
            Self.appendLE(UInt32(payloadCount), to: &buffer)
            Self.appendLE(UInt32(0), to: &buffer)
            Self.appendLE(UInt64(bitPattern: record.id), to: &buffer)
            Self.appendLE(UInt64(bitPattern: ts), to: &buffer)
            buffer.append(contentsOf: record.body)
            let crc = buffer.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[(start + 8)...])) }
            withUnsafeBytes(of: crc.littleEndian) { buffer.replaceSubrange((start + 4)..<(start + 8), with: $0) }
        }
        try flush()
        guard fdatasync(fd) == 0 else { throw StoreBenchError("fdatasync: \(String(cString: strerror(errno)))") }
    }

    private func flush() throws {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreBenchError("write: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        offset += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    /// Reads every segment and counts the records whose length and checksum hold, up to the
    /// first that does not (the recovery rule a real log would have).
    func verify() throws -> Int {
        var count = 0
        for n in 0...segment {
            let file = open(segmentPath(n), O_RDONLY | O_CLOEXEC)
            guard file >= 0 else { throw StoreBenchError("open \(segmentPath(n)): \(String(cString: strerror(errno)))") }
            defer { Glibc.close(file) }
            var info = stat()
            _ = fstat(file, &info)
            var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
            let read = bytes.withUnsafeMutableBytes { pread(file, $0.baseAddress, $0.count, 0) }
            guard read == bytes.count else { throw StoreBenchError("short read of \(segmentPath(n))") }
            var at = 0
            while at + 8 <= bytes.count {
                let length = Int(Self.readLE32(bytes, at))
                guard length <= bytes.count - at - 8 else { break }
                let crc = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[(at + 8)..<(at + 8 + length)])) }
                guard crc == Self.readLE32(bytes, at + 4) else { break }
                count += 1
                at += 8 + length
            }
        }
        return count
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    static func appendLE<T: FixedWidthInteger>(_ value: T, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
    }

    static func readLE32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, as zlib), one table lookup a byte.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for byte in bytes { crc = t[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return crc ^ 0xFFFF_FFFF
    }
}

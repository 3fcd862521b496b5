import Broker
import CSQLite
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One change to the durable state, made by the simulator under its lock and written by
/// the store's writer in the same order (`Specs/storage.md`).
enum StoreOp: Sendable {
    case putExchange(name: String, kind: ExchangeKind, autoDelete: Bool, arguments: AMQPTable)
    /// Also deletes the exchange's bindings.
    case deleteExchange(name: String)
    case putQueue(id: Int64, name: String, autoDelete: Bool, arguments: AMQPTable)
    /// Also deletes the queue's messages and bindings.
    case deleteQueue(id: Int64, name: String)
    case bind(exchange: String, queue: String, key: String, arguments: AMQPTable)
    case unbind(exchange: String, queue: String, key: String, arguments: AMQPTable)
    /// A persistent message of a durable classic queue (`seq`), or a stream entry (offset).
    case putMessage(queue: Int64, seq: Int64, timestamp: Int64, payload: SimPayload)
    case deleteMessage(queue: Int64, seq: Int64)
    /// A stored classic message was handed to a consumer or `basic.get` that must ack it: after
    /// a restart it comes back with `redelivered=true`. Written lazily, with the next commit.
    case markDelivered(queue: Int64, seq: Int64)
    /// Deletes a stream's entries below `offset` (retention).
    case trim(queue: Int64, below: Int64)
}

/// What the store holds, read at open: the simulator is rebuilt from it.
struct StoreSnapshot {
    struct Exchange {
        let name: String
        let kind: ExchangeKind
        let autoDelete: Bool
        let arguments: AMQPTable
    }
    struct Queue {
        let id: Int64
        let name: String
        let autoDelete: Bool
        let arguments: AMQPTable
    }
    struct Binding {
        let exchange: String
        let queue: String
        let key: String
        let arguments: AMQPTable
    }
    struct Message {
        let queue: Int64
        let seq: Int64
        let timestamp: Int64
        let payload: SimPayload
        let delivered: Bool
    }

    var exchanges: [Exchange] = []
    var queues: [Queue] = []
    var bindings: [Binding] = []
    /// Ordered by queue id, then seq (offset).
    var messages: [Message] = []
}

/// The built-in broker's store: one SQLite database in WAL mode (`store.sqlite`) in the data
/// directory, locked against a second process by `flock` on `lock`.
///
/// Writes are group-committed: the simulator hands each operation's changes over under its
/// lock (``submit(_:)``, which keeps their order), and one writer thread (a serial dispatch
/// queue) takes everything that has arrived, writes it in one transaction and commits with
/// `synchronous=FULL` (the WAL is fsynced before the commit returns). Only then are the
/// publishers waiting on those changes (``waitDurable(_:)``) resumed: a confirm means on disk.
///
/// `@unchecked Sendable`: the SQLite connection and statements are touched only on `queue`
/// (a serial queue); every other mutable field is inside the `Mutex` `state`.
final class DurableStore: @unchecked Sendable {
    let directory: String
    let databasePath: String
    private let lockDescriptor: Int32
    private let queue = DispatchQueue(label: "rabbitChat.store.writer")
    private var db: SQLiteConnection?
    private var statements: Statements?

    private struct State {
        var pending: [StoreOp] = []
        var submitted: UInt64 = 0
        var committed: UInt64 = 0
        var writerRunning = false
        var failure: StoreError?
        var waiters: [(ticket: UInt64, continuation: CheckedContinuation<Result<Void, StoreError>, Never>)] = []
        var commits: UInt64 = 0
    }

    private let state = Mutex(State())

    static let databaseName = "store.sqlite"
    static let lockName = "lock"
    /// `PRAGMA user_version` of the format this code writes.
    static let formatVersion: Int64 = 2
    /// Queue ids are shifted into the top bits of a message's row id: `id << 40 | seq`.
    static let seqBits: Int64 = 40
    static let maxSeq: Int64 = (1 << seqBits) - 1

    /// Opens (creating when absent) the store in `directory` (made with mode 0700 when it
    /// does not exist), or throws a one-sentence error: locked by another process, not
    /// readable, not a store.
    init(directory: String, log: @Sendable (String) -> Void) throws(StoreError) {
        self.directory = directory
        databasePath = directory + "/" + Self.databaseName
        try Self.makeDirectory(directory)
        let lockPath = directory + "/" + Self.lockName
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StoreError(
                "cannot open \(lockPath): \(String(cString: strerror(errno))); check the data directory's permissions or choose another with --data-dir.")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            let owner = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self).trimmingSpaces : "another process"
            closeDescriptor(fd)
            throw StoreError(
                "the data directory \(directory) is in use by \(owner.isEmpty ? "another process" : "process \(owner)"); stop that server first, or start this one with another --data-dir or --in-memory."
            )
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        lockDescriptor = fd
        do throws(StoreError) {
            if let scan = WALScan.scan(path: databasePath + "-wal"), scan.tornBytes > 0 {
                log(
                    "store \(databasePath): dropped a torn tail of \(scan.tornBytes) bytes after the last complete transaction of its write-ahead log (\(scan.transactions) complete transactions kept); what was confirmed before the crash is all there."
                )
            }
            let connection = try SQLiteConnection(path: databasePath)
            try Self.configure(connection)
            db = connection
            statements = try Statements(connection)
        } catch {
            statements = nil
            db = nil
            closeDescriptor(fd)
            throw error
        }
    }

    deinit {
        statements = nil
        db = nil
        closeDescriptor(lockDescriptor)
    }

    private static func makeDirectory(_ path: String) throws(StoreError) {
        var parts: [Substring] = []
        var current = ""
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            parts.append(part)
            current += (current.isEmpty && !path.hasPrefix("/") ? "" : "/") + part
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw StoreError(
                    "cannot create the data directory \(current): \(String(cString: strerror(errno))); create it yourself or choose another with --data-dir.")
            }
        }
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw StoreError("the data directory \(path) is not a directory; choose another with --data-dir.")
        }
        guard access(path, R_OK | W_OK | X_OK) == 0 else {
            throw StoreError("the data directory \(path) is not readable and writable by this user; fix its permissions or choose another with --data-dir.")
        }
    }

    private static func configure(_ db: SQLiteConnection) throws(StoreError) {
        let version = try db.integer("PRAGMA user_version")
        if version > formatVersion {
            throw StoreError(
                "the store \(db.path) was written by a newer rabbitChat (format \(version)); run that version, or move the data directory away to start over.")
        }
        // WAL with synchronous=FULL: every commit fsyncs the log before it returns.
        // journal_size_limit=0: the log is cut back to its first transaction each time it restarts.
        guard try db.prepare("PRAGMA journal_mode=WAL").stepText() == "wal" else {
            throw StoreError("the store \(db.path) cannot use write-ahead logging; put the data directory on a local file system.")
        }
        try db.execute(
            """
            PRAGMA synchronous=FULL;
            PRAGMA journal_size_limit=0;
            PRAGMA foreign_keys=OFF;
            CREATE TABLE IF NOT EXISTS exchanges(name TEXT PRIMARY KEY, kind TEXT NOT NULL, auto_delete INTEGER NOT NULL, arguments BLOB NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS queues(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, auto_delete INTEGER NOT NULL, arguments BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS bindings(exchange TEXT NOT NULL, queue TEXT NOT NULL, key TEXT NOT NULL, arguments BLOB NOT NULL, PRIMARY KEY(exchange, queue, key, arguments)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, exchange TEXT NOT NULL, routing_key TEXT NOT NULL, properties BLOB NOT NULL, body BLOB NOT NULL, delivered INTEGER NOT NULL DEFAULT 0);
            """)
        // Format 1 had no delivered mark: add the column (every message of it reads as never
        // delivered, as format 1 restored them).
        if try db.integer("SELECT COUNT(*) FROM pragma_table_info('messages') WHERE name = 'delivered'") == 0 {
            try db.execute("ALTER TABLE messages ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0")
        }
        try db.execute("PRAGMA user_version=\(formatVersion)")
        // What the WAL held (after a crash) goes into the database and the log starts empty.
        try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    /// The statements the writer runs, prepared once.
    private struct Statements {
        let begin, commit, rollback: SQLiteStatement
        let putExchange, deleteExchange, deleteExchangeBindings: SQLiteStatement
        let putQueue, deleteQueue, deleteQueueBindings, deleteRange: SQLiteStatement
        let bind, unbind: SQLiteStatement
        let putMessage, deleteMessage, markDelivered: SQLiteStatement

        init(_ db: SQLiteConnection) throws(StoreError) {
            begin = try db.prepare("BEGIN IMMEDIATE")
            commit = try db.prepare("COMMIT")
            rollback = try db.prepare("ROLLBACK")
            putExchange = try db.prepare("INSERT OR REPLACE INTO exchanges(name, kind, auto_delete, arguments) VALUES (?1, ?2, ?3, ?4)")
            deleteExchange = try db.prepare("DELETE FROM exchanges WHERE name = ?1")
            deleteExchangeBindings = try db.prepare("DELETE FROM bindings WHERE exchange = ?1")
            putQueue = try db.prepare("INSERT OR REPLACE INTO queues(id, name, auto_delete, arguments) VALUES (?1, ?2, ?3, ?4)")
            deleteQueue = try db.prepare("DELETE FROM queues WHERE id = ?1")
            deleteQueueBindings = try db.prepare("DELETE FROM bindings WHERE queue = ?1")
            deleteRange = try db.prepare("DELETE FROM messages WHERE id >= ?1 AND id < ?2")
            bind = try db.prepare("INSERT OR IGNORE INTO bindings(exchange, queue, key, arguments) VALUES (?1, ?2, ?3, ?4)")
            unbind = try db.prepare("DELETE FROM bindings WHERE exchange = ?1 AND queue = ?2 AND key = ?3 AND arguments = ?4")
            putMessage = try db.prepare("INSERT OR REPLACE INTO messages(id, ts, exchange, routing_key, properties, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            deleteMessage = try db.prepare("DELETE FROM messages WHERE id = ?1")
            markDelivered = try db.prepare("UPDATE messages SET delivered = 1 WHERE id = ?1")
        }
    }

    static func rowID(queue: Int64, seq: Int64) -> Int64 { queue << seqBits | seq }

    // MARK: Reading

    /// Reads everything (on the writer queue, after what was submitted is written).
    func load() throws(StoreError) -> StoreSnapshot {
        let result: Result<StoreSnapshot, StoreError> = queue.sync {
            drainOnQueue()
            guard let db else { return .failure(StoreError("the store \(databasePath) is closed.")) }
            do throws(StoreError) {
                return .success(try Self.read(db))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private static func read(_ db: SQLiteConnection) throws(StoreError) -> StoreSnapshot {
        var snapshot = StoreSnapshot()
        let exchanges = try db.prepare("SELECT name, kind, auto_delete, arguments FROM exchanges ORDER BY name")
        while try exchanges.step() {
            guard let kind = ExchangeKind(rawValue: exchanges.text(1)) else { throw StoreCodec.corrupt }
            snapshot.exchanges.append(
                .init(
                    name: exchanges.text(0), kind: kind, autoDelete: exchanges.int64(2) != 0,
                    arguments: try StoreCodec.decodeTable(exchanges.blob(3))))
        }
        let queues = try db.prepare("SELECT id, name, auto_delete, arguments FROM queues ORDER BY id")
        while try queues.step() {
            snapshot.queues.append(
                .init(
                    id: queues.int64(0), name: queues.text(1), autoDelete: queues.int64(2) != 0,
                    arguments: try StoreCodec.decodeTable(queues.blob(3))))
        }
        let bindings = try db.prepare("SELECT exchange, queue, key, arguments FROM bindings")
        while try bindings.step() {
            snapshot.bindings.append(
                .init(
                    exchange: bindings.text(0), queue: bindings.text(1), key: bindings.text(2),
                    arguments: try StoreCodec.decodeTable(bindings.blob(3))))
        }
        let messages = try db.prepare("SELECT id, ts, exchange, routing_key, properties, body, delivered FROM messages ORDER BY id")
        // Consecutive messages usually share exchange, routing key and properties: compare the
        // raw bytes and make a new String or properties value only when they change (a restart
        // reads up to millions of rows).
        var exchange = RawColumnCache()
        var key = RawColumnCache()
        var propertiesBytes = RawColumnCache()
        var properties = MessageProperties()
        snapshot.messages.reserveCapacity(Int(try db.integer("SELECT COUNT(*) FROM messages")))
        while try messages.step() {
            let id = messages.int64(0)
            exchange.update(messages, 2)
            key.update(messages, 3)
            if propertiesBytes.update(messages, 4) {
                properties = try StoreCodec.decodeProperties(propertiesBytes.bytes)
            }
            let payload = SimPayload(exchange: exchange.text, routingKey: key.text, body: messages.blob(5), properties: properties)
            snapshot.messages.append(
                .init(
                    queue: id >> seqBits, seq: id & maxSeq, timestamp: messages.int64(1), payload: payload,
                    delivered: messages.int64(6) != 0))
        }
        return snapshot
    }

    // MARK: Writing

    /// Hands over the changes of one simulator operation, in order, and returns the ticket to
    /// wait on for them to be durable. Called under the simulator's lock.
    func submit(_ ops: [StoreOp]) -> UInt64 {
        let (ticket, start) = state.withLock { state -> (UInt64, Bool) in
            state.pending.append(contentsOf: ops)
            state.submitted += 1
            guard !state.writerRunning else { return (state.submitted, false) }
            state.writerRunning = true
            return (state.submitted, true)
        }
        if start { queue.async { self.drainOnQueue() } }
        return ticket
    }

    /// The number of the newest submitted batch (a ticket covering everything so far).
    var submittedTicket: UInt64 { state.withLock { $0.submitted } }

    /// Returns when the changes of `ticket` (and every earlier one) are committed to disk, or
    /// throws the store's failure.
    func waitDurable(_ ticket: UInt64) async throws(StoreError) {
        let result: Result<Void, StoreError> = await withCheckedContinuation { continuation in
            let now: Result<Void, StoreError>? = state.withLock { state in
                if state.committed >= ticket { return .success(()) }
                if let failure = state.failure { return .failure(failure) }
                state.waiters.append((ticket, continuation))
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
        try result.get()
    }

    /// Blocks until everything submitted so far is committed (for restart and close).
    func flushSync() throws(StoreError) {
        queue.sync { drainOnQueue() }
        if let failure = state.withLock({ $0.failure }) { throw failure }
    }

    /// How many messages and stream entries the store holds, after writing what is pending
    /// (a bound check for tests and diagnostics).
    func storedMessageCount() throws(StoreError) -> Int {
        let result: Result<Int, StoreError> = queue.sync {
            drainOnQueue()
            guard let db else { return .failure(StoreError("the store \(databasePath) is closed.")) }
            do throws(StoreError) { return .success(Int(try db.integer("SELECT COUNT(*) FROM messages"))) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// The number of transactions committed so far (a gauge for group commit).
    var commitCount: UInt64 { state.withLock { $0.commits } }

    /// Writes batches until nothing is pending: one transaction and one fsync per batch.
    private func drainOnQueue() {
        while true {
            let (ops, ticket, failed) = state.withLock { state -> ([StoreOp], UInt64, Bool) in
                if state.pending.isEmpty {
                    state.writerRunning = false
                    return ([], 0, false)
                }
                defer { state.pending.removeAll(keepingCapacity: true) }
                return (state.pending, state.submitted, state.failure != nil)
            }
            if ops.isEmpty { return }
            var outcome: Result<Void, StoreError> = .success(())
            if failed {
                outcome = .failure(state.withLock { $0.failure! })
            } else {
                do throws(StoreError) {
                    try write(ops)
                } catch {
                    outcome = .failure(error)
                }
            }
            let ready = state.withLock { state -> [(CheckedContinuation<Result<Void, StoreError>, Never>, Result<Void, StoreError>)] in
                switch outcome {
                case .success:
                    state.committed = ticket
                    state.commits += 1
                    var ready: [(CheckedContinuation<Result<Void, StoreError>, Never>, Result<Void, StoreError>)] = []
                    state.waiters.removeAll { waiter in
                        guard waiter.ticket <= ticket else { return false }
                        ready.append((waiter.continuation, .success(())))
                        return true
                    }
                    return ready
                case .failure(let error):
                    state.failure = error
                    defer { state.waiters = [] }
                    return state.waiters.map { ($0.continuation, .failure(error)) }
                }
            }
            for (continuation, result) in ready { continuation.resume(returning: result) }
        }
    }

    private func write(_ ops: [StoreOp]) throws(StoreError) {
        guard let s = statements else { throw StoreError("the store \(databasePath) is closed.") }
        try s.begin.run()
        do throws(StoreError) {
            for op in ops { try apply(op, s) }
            try s.commit.run()
        } catch {
            try? s.rollback.run()
            throw error
        }
    }

    private func apply(_ op: StoreOp, _ s: Statements) throws(StoreError) {
        switch op {
        case .putExchange(let name, let kind, let autoDelete, let arguments):
            s.putExchange.bind(1, name)
            s.putExchange.bind(2, kind.rawValue)
            s.putExchange.bind(3, autoDelete ? 1 : 0)
            s.putExchange.bind(4, StoreCodec.encode(arguments))
            try s.putExchange.run()
        case .deleteExchange(let name):
            s.deleteExchange.bind(1, name)
            try s.deleteExchange.run()
            s.deleteExchangeBindings.bind(1, name)
            try s.deleteExchangeBindings.run()
        case .putQueue(let id, let name, let autoDelete, let arguments):
            s.putQueue.bind(1, id)
            s.putQueue.bind(2, name)
            s.putQueue.bind(3, autoDelete ? 1 : 0)
            s.putQueue.bind(4, StoreCodec.encode(arguments))
            try s.putQueue.run()
        case .deleteQueue(let id, let name):
            s.deleteQueue.bind(1, id)
            try s.deleteQueue.run()
            s.deleteQueueBindings.bind(1, name)
            try s.deleteQueueBindings.run()
            s.deleteRange.bind(1, Self.rowID(queue: id, seq: 0))
            s.deleteRange.bind(2, Self.rowID(queue: id + 1, seq: 0))
            try s.deleteRange.run()
        case .bind(let exchange, let queue, let key, let arguments), .unbind(let exchange, let queue, let key, let arguments):
            let statement: SQLiteStatement
            if case .bind = op { statement = s.bind } else { statement = s.unbind }
            statement.bind(1, exchange)
            statement.bind(2, queue)
            statement.bind(3, key)
            statement.bind(4, StoreCodec.encode(arguments))
            try statement.run()
        case .putMessage(let queue, let seq, let timestamp, let payload):
            let statement = s.putMessage
            statement.bind(1, Self.rowID(queue: queue, seq: seq))
            statement.bind(2, timestamp)
            statement.bind(3, payload.exchange)
            statement.bind(4, payload.routingKey)
            statement.bind(5, StoreCodec.encode(payload.properties))
            statement.bind(6, payload.body)
            try statement.run()
        case .deleteMessage(let queue, let seq):
            s.deleteMessage.bind(1, Self.rowID(queue: queue, seq: seq))
            try s.deleteMessage.run()
        case .markDelivered(let queue, let seq):
            s.markDelivered.bind(1, Self.rowID(queue: queue, seq: seq))
            try s.markDelivered.run()
        case .trim(let queue, let below):
            s.deleteRange.bind(1, Self.rowID(queue: queue, seq: 0))
            s.deleteRange.bind(2, Self.rowID(queue: queue, seq: below))
            try s.deleteRange.run()
        }
    }

    /// Writes what is pending, checkpoints, closes the database and releases the lock.
    /// Later submits fail.
    func close() {
        queue.sync {
            drainOnQueue()
            state.withLock { state in
                if state.failure == nil { state.failure = StoreError("the store \(databasePath) is closed; open the data directory again.") }
            }
            statements = nil
            db = nil
        }
        _ = flock(lockDescriptor, LOCK_UN)
    }

    // MARK: Backup

    /// Writes a consistent copy of the store in `directory` to `destination` (a directory,
    /// made when absent; it must not hold a store yet), while a server may be writing:
    /// SQLite's `VACUUM INTO` reads one snapshot. Copies the secret file too when present.
    static func backup(directory: String, to destination: String) throws(StoreError) {
        let source = directory + "/" + databaseName
        guard access(source, R_OK) == 0 else {
            throw StoreError("there is no readable store at \(source); give the --data-dir the server runs with.")
        }
        try makeDirectory(destination)
        let target = destination + "/" + databaseName
        guard access(target, F_OK) != 0 else {
            throw StoreError("\(target) already exists; give an empty or new directory to back up into.")
        }
        let db = try SQLiteConnection(path: source, readOnly: true)
        let statement = try db.prepare("VACUUM INTO ?1")
        statement.bind(1, target)
        try statement.run()
        for name in ["secret"] {
            if let bytes = WALScan.readFile(directory + "/" + name) {
                let fd = open(destination + "/" + name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                guard fd >= 0 else {
                    throw StoreError("cannot write \(destination)/\(name): \(String(cString: strerror(errno))); check the backup directory.")
                }
                _ = bytes.withUnsafeBytes { writeDescriptor(fd, $0.baseAddress, $0.count) }
                _ = fsync(fd)
                closeDescriptor(fd)
            }
        }
    }
}

extension SQLiteStatement {
    /// The text of the first column of the first row.
    func stepText() throws(StoreError) -> String? {
        defer { reset() }
        return try step() ? text(0) : nil
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(self.filter { !$0.isWhitespace && $0 != "\0" })
    }
}

/// The C library's `close` and `write`, out of reach of ``DurableStore/close()`` inside the class.
private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}

private func writeDescriptor(_ fd: Int32, _ pointer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, pointer, count)
}

/// The last value read from one column, kept as bytes and as text, so that a scan makes a new
/// String only when the column's value changes.
private struct RawColumnCache {
    var bytes: [UInt8] = []
    var text = ""

    /// Reads the column; returns whether it differs from the previous row's.
    @discardableResult
    mutating func update(_ statement: SQLiteStatement, _ column: Int32) -> Bool {
        let count = Int(sqlite3_column_bytes(statement.handle, column))
        let pointer = sqlite3_column_blob(statement.handle, column)
        if count == bytes.count {
            if count == 0 { return false }
            if let pointer, bytes.withUnsafeBytes({ memcmp($0.baseAddress!, pointer, count) == 0 }) { return false }
        }
        bytes = pointer.map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
        text = String(decoding: bytes, as: UTF8.self)
        return true
    }
}

import Broker
import InMemoryBroker

#if canImport(Glibc)
    import Glibc
#endif

/// Restart time of the built-in broker's store: fills a data directory with `history` stream
/// records (the public history) and `inbox` persistent messages waiting in 1,000 durable
/// queues (private messages), closes it, and times opening it again until the simulator is
/// rebuilt and the first delivery comes out of it.
struct RestartBench {
    let history: Int
    let inbox: Int
    let size: Int
    let dataDir: String?

    func run() async throws {
        let directory = dataDir ?? Self.temporaryDirectory("brokerbench-restart")
        defer { if dataDir == nil { Self.remove(directory) } }
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        let start = ContinuousClock.now
        do {
            // Retention off for the fill: the 1,000,000 records must all be there.
            let broker = try InMemoryBroker(dataDirectory: directory, maxStreamBytes: 1 << 40)
            let channel = try await broker.connect(name: "fill").openChannel()
            try await channel.declareQueue("history", options: .stream())
            let window = 1_000
            var sent = 0
            while sent < history {
                let count = min(window, history - sent)
                let batch = Array(repeating: PublishRequest(message: OutgoingMessage(body: body), exchange: "", routingKey: "history"), count: count)
                for result in try await channel.publishBatch(batch) { try result.get() }
                sent += count
            }
            let queues = 1_000
            for index in 0..<queues { try await channel.declareQueue("user.\(index)", options: .durable) }
            sent = 0
            while sent < inbox {
                let count = min(window, inbox - sent)
                let batch = (0..<count).map { offset in
                    PublishRequest(
                        message: OutgoingMessage(body: body, properties: MessageProperties(persistent: true)),
                        exchange: "", routingKey: "user.\((sent + offset) % queues)")
                }
                for result in try await channel.publishBatch(batch) { try result.get() }
                sent += count
            }
            print(
                "filled \(directory) with \(history) history records and \(inbox) waiting messages of \(size) bytes in \(ContinuousClock.now - start); \(try broker.storedMessageCount()) rows, \(broker.storeCommits) commits"
            )
            broker.close()
        }
        print("database: \(Self.fileSize(directory + "/store.sqlite") >> 20) MiB")
        for round in 1...3 {
            let began = ContinuousClock.now
            let broker = try InMemoryBroker(dataDirectory: directory, maxStreamBytes: 1 << 40)
            let opened = ContinuousClock.now
            let channel = try await broker.connect(name: "check").openChannel()
            let first = try await channel.get(queue: "user.0", autoAck: false)
            let info = try await channel.declareQueue("user.999", options: QueueOptions(passive: true))
            let ready = ContinuousClock.now
            print(
                "reopen \(round): store open and simulator rebuilt in \(opened - began), first message out after \(ready - began) (first: \(first != nil), user.999 holds \(info.messageCount))"
            )
            broker.close()
        }
    }

    static func temporaryDirectory(_ prefix: String) -> String {
        // mkdtemp(3) replaces the six X of its template with a unique suffix.
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            fatalError("cannot make a directory in /tmp")
        }
        return String(cString: made)
    }

    static func remove(_ path: String) {
        for name in ["store.sqlite", "store.sqlite-wal", "store.sqlite-shm", "lock", "secret"] { unlink(path + "/" + name) }
        rmdir(path)
    }

    static func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }
}

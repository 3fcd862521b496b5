import Broker
import InMemoryBroker

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// StoreKillHarness DATA_DIR FIRST_INDEX
//
// Writes through a durable in-process broker until it is killed, and reports on standard
// output what the store has made durable, one line each:
//   C <n>   messages up to index n are confirmed (in the queue `work` and the stream `log`)
//   G <n>   an ack of `work`'s messages up to index n is about to be sent (they may be gone)
//   A <n>   the acks of `work`'s messages up to index n are recorded (printed after a later
//           confirm, which the store commits after them)
//   T       a `basic.get` of `work` is about to be sent (the head of the queue may be delivered)
//   g <n>   that get returned index n (not acked yet; it may stay unacked until the kill)
//   D <n>   every message of `work` up to index n has been delivered (by a get), and the
//           delivered marks of those still unacked are recorded (printed after a later confirm)
// Messages are numbered from FIRST_INDEX; bodies are the decimal index. The kill test
// (Tests/BrokerContractTests/StoreKillTests.swift) SIGKILLs it at random points and checks
// the reopened store against these lines.

func say(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

func fail(_ text: String) -> Never {
    let bytes = Array("StoreKillHarness: \(text)\n".utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}

let arguments = CommandLine.arguments
guard arguments.count == 3, let first = Int(arguments[2]) else { fail("usage: StoreKillHarness DATA_DIR FIRST_INDEX") }

do {
    let broker = try InMemoryBroker(dataDirectory: arguments[1])
    let channel = try await broker.connect(name: "harness").openChannel()
    try await channel.declareQueue("work", options: .durable)
    try await channel.declareQueue("log", options: .stream())
    say("R")
    var generator = SystemRandomNumberGenerator()
    var next = first
    var ackedNotReported: Int?
    var gotUpTo: Int?
    var deliveredReported: Int?
    while true {
        let count = Int.random(in: 1...20, using: &generator)
        let indices = next..<(next + count)
        next += count
        var batch: [PublishRequest] = []
        for index in indices {
            let message = OutgoingMessage(String(index), properties: MessageProperties(persistent: true))
            batch.append(PublishRequest(message: message, exchange: "", routingKey: "work"))
            batch.append(PublishRequest(message: message, exchange: "", routingKey: "log"))
        }
        let gotBeforePublish = gotUpTo
        for result in try await channel.publishBatch(batch) { try result.get() }
        if let got = gotBeforePublish, got != deliveredReported {
            say("D \(got)")
            deliveredReported = got
        }
        if let acked = ackedNotReported {
            say("A \(acked)")
            ackedNotReported = nil
        }
        say("C \(indices.upperBound - 1)")
        // Take some from the head of `work` (on average more than were published, so that the
        // gets reach this run's messages) and ack all but the last zero to two of them (those
        // stay delivered and unacked until a later ack or the kill).
        do {
            var got: [Delivery] = []
            for _ in 0..<Int.random(in: 1...30, using: &generator) {
                say("T")
                guard let delivery = try await channel.get(queue: "work", autoAck: false) else { break }
                say("g \(delivery.text)")
                gotUpTo = Int(delivery.text)
                got.append(delivery)
            }
            let keep = Int.random(in: 0...2, using: &generator)
            if got.count > keep {
                let last = got[got.count - 1 - keep]
                say("G \(last.text)")
                try await channel.ack(deliveryTag: last.deliveryTag, multiple: true)
                ackedNotReported = Int(last.text)
            }
        }
    }
} catch {
    fail("\(error)")
}

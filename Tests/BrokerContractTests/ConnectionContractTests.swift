import Broker
import ServerTestSupport
import Testing

/// Connections: closing, observing closure, several nodes side by side.
@Suite("Contract: connections")
struct ConnectionContractTests {
    @Test(arguments: BackendKind.allCases)
    func closingAConnectionWakesItsWaiterAndLaterCallsSayConnectionClosed(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let connection = try await t.connect("node")
            let channel = try await connection.openChannel()
            async let reason = connection.waitUntilClosed()
            await connection.close()
            #expect(await reason.isConnectionLoss)
            #expect(connection.closeReason?.isConnectionLoss == true)
            let error = await brokerError { try await channel.declareQueue(t.queueName("q"), options: QueueOptions()) }
            #expect(error?.isConnectionLoss == true)
            let reopen = await brokerError { _ = try await connection.openChannel() }
            #expect(reopen?.isConnectionLoss == true)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func closingOneNodesConnectionLeavesTheOthersWorking(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let a = try await t.connect("node-a")
            let b = try await t.connect("node-b")
            let queue = t.queueName("shared")
            try await b.openChannel().declareQueue(queue, options: QueueOptions())
            let consumer = try await b.openChannel().collect(queue, prefetch: 0, noAck: true)
            await a.close()
            try await t.channel("node-c").send("still here", key: queue)
            #expect(await consumer.wait(for: 1).map(\.text) == ["still here"])
            #expect(b.closeReason == nil)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aClosedChannelRefusesCallsAndTheConnectionGoesOn(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let connection = try await t.connect("node")
            let channel = try await connection.openChannel()
            await channel.close()
            let error = await brokerError { try await channel.declareQueue(t.queueName("q"), options: QueueOptions()) }
            guard case .channelClosed? = error else {
                Issue.record("expected channelClosed, got \(String(describing: error))")
                return
            }
            try await connection.openChannel().declareQueue(t.queueName("q"), options: QueueOptions())
        }
    }
}

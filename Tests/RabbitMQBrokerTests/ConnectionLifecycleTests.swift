import Broker
import Foundation
import ServerTestSupport
import Testing

@testable import RabbitMQBroker

/// Connecting, failing over, and noticing a lost connection: what only the RabbitMQ backend
/// does. The tests marked `LiveRabbitMQ.enabled` need a running RabbitMQ (see
/// ``LiveRabbitMQ``: skipped without one unless `RABBITCHAT_REQUIRE_RABBITMQ=1`).
@Suite("RabbitMQ connection lifecycle")
struct ConnectionLifecycleTests {
    @Test func aRefusedConnectionNamesTheAddressAndHowToStartRabbitMQ() async throws {
        let broker = try RabbitMQBroker(url: "amqp://guest:guest@127.0.0.1:1/")
        await #expect {
            _ = try await broker.connect(name: "refused")
        } throws: { error in
            guard let error = error as? BrokerError, case .connectionFailed = error else { return false }
            let text = error.description
            return text.contains("127.0.0.1:1") && text.contains("connection refused")
                && text.contains("Start it with scripts/rabbitmq.sh start")
        }
    }

    @Test func everyFailedAddressIsNamedWhenNoneAnswers() async throws {
        let broker = try RabbitMQBroker(urls: ["amqp://127.0.0.1:1/", "amqp://127.0.0.1:2/"])
        await #expect {
            _ = try await broker.connect(name: "refused-twice")
        } throws: { error in
            let text = (error as? BrokerError)?.description ?? ""
            return text.contains("127.0.0.1:1") && text.contains("127.0.0.1:2")
        }
    }

    @Test(.enabled(if: LiveRabbitMQ.enabled, "needs RabbitMQ at RABBITCHAT_TEST_AMQP_URL: start it with scripts/rabbitmq.sh start"))
    func connectFailsOverFromADeadURLToALiveOne() async throws {
        let broker = try RabbitMQBroker(urls: ["amqp://guest:guest@127.0.0.1:1/", LiveRabbitMQ.url])
        let connection = try await broker.connect(name: LiveRabbitMQ.uniqueName("failover"))
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue("", options: .exclusive)
        try await channel.publish(OutgoingMessage("over"), exchange: "", routingKey: queue.name, mandatory: true)
        let got = try await channel.get(queue: queue.name, autoAck: true)
        #expect(got?.text == "over")
        await connection.close()
    }

    @Test(.enabled(if: LiveRabbitMQ.enabled, "needs RabbitMQ at RABBITCHAT_TEST_AMQP_URL: start it with scripts/rabbitmq.sh start"))
    func closedConnectionsGiveBackTheirThreadsSocketsAndPipes() async throws {
        let broker = try LiveRabbitMQ.broker()
        var handles: [RabbitMQConnection] = []
        for round in 0..<20 {
            let connection = try await broker.connect(name: LiveRabbitMQ.uniqueName("round-\(round)"))
            _ = try await connection.openChannel().declareQueue("", options: .exclusive)
            await connection.close()
            handles.append(try #require(connection as? RabbitMQConnection))
        }
        // Each connection's thread ends right after it closed the socket and the wake pipe.
        try await eventually("every connection's thread to end", timeout: .seconds(5), interval: .milliseconds(20)) { handles.allSatisfy(\.mailbox.isReleased) }
    }

    @Test(.enabled(if: LiveRabbitMQ.enabled, "needs RabbitMQ at RABBITCHAT_TEST_AMQP_URL: start it with scripts/rabbitmq.sh start"))
    func aWrongPasswordIsALoginErrorThatSaysWhatToCheck() async throws {
        var url = try AMQPURL(parsing: LiveRabbitMQ.url)
        url.password = "definitely-wrong"
        let broker = try RabbitMQBroker(url: "amqp://\(url.user):\(url.password)@\(url.endpoint)/")
        await #expect {
            _ = try await broker.connect(name: "bad-password")
        } throws: { error in
            let text = (error as? BrokerError)?.description ?? ""
            return text.contains("refused the login") && text.contains("check the user, password and vhost")
        }
    }

    @Test(.enabled(if: LiveRabbitMQ.enabled, "needs RabbitMQ at RABBITCHAT_TEST_AMQP_URL: start it with scripts/rabbitmq.sh start"))
    func closeConnectionOnTheBrokerFailsPendingWorkWithinTwoHeartbeatsAndReconnectWorks() async throws {
        let heartbeat = Duration.seconds(2)
        let broker = try LiveRabbitMQ.broker(heartbeat: heartbeat)
        let name = LiveRabbitMQ.uniqueName("close-me")
        let connection = try await broker.connect(name: name)
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue("", options: .exclusive).name
        let consumer = try await channel.consume(queue: queue, options: ConsumeOptions(prefetch: 50))

        // Publish without pause, so publishes are in flight when the broker closes us.
        let publishFailure = Outcome<BrokerError>()
        let publisher = Task {
            var index = 0
            while true {
                do throws(BrokerError) {
                    _ = try await channel.publishBatch(
                        (0..<50).map { _ in
                            PublishRequest(message: OutgoingMessage("m\(index)"), exchange: "", routingKey: queue)
                        })
                    index += 1
                } catch {
                    publishFailure.set(error)
                    return
                }
            }
        }
        let streamFinished = Outcome<Int>()
        let reader = Task {
            var count = 0
            for await delivery in consumer.deliveries {
                count += 1
                try? await channel.ack(deliveryTag: delivery.deliveryTag, multiple: false)
            }
            streamFinished.set(count)
        }
        try await eventually("the consumer to run on an open connection", timeout: .seconds(10), interval: .milliseconds(20)) {
            (streamFinished.value ?? 0) == 0 && connection.closeReason == nil
        }

        try await LiveRabbitMQ.closeConnection(named: name)
        // Noticed within two heartbeats of the broker closing it, and everything pending ends.
        try await eventually("the closed connection to be noticed", timeout: heartbeat * 2, interval: .milliseconds(20)) { connection.closeReason != nil }
        try await eventually("the pending publish and the delivery stream to end", timeout: heartbeat * 2, interval: .milliseconds(20)) {
            publishFailure.value != nil && streamFinished.value != nil
        }
        publisher.cancel()
        reader.cancel()

        let reason = await connection.waitUntilClosed()
        #expect(reason.isConnectionLoss)
        #expect(reason.description.contains("CONNECTION_FORCED"))
        #expect(reason.description.contains("closed by the test"))
        #expect(publishFailure.value?.isConnectionLoss == true)
        await #expect(throws: BrokerError.self) {
            try await channel.publish(OutgoingMessage("late"), exchange: "", routingKey: queue, mandatory: false)
        }
        await #expect(throws: BrokerError.self) { _ = try await connection.openChannel() }

        // A new connect works at once.
        let again = try await broker.connect(name: name + "-again")
        let fresh = try await again.openChannel()
        let second = try await fresh.declareQueue("", options: .exclusive).name
        try await fresh.publish(OutgoingMessage("after"), exchange: "", routingKey: second, mandatory: true)
        #expect(try await fresh.get(queue: second, autoAck: true)?.text == "after")
        await again.close()
        #expect(again.closeReason?.description.contains("closed by the application") == true)
    }

    @Test(.enabled(if: LiveRabbitMQ.enabled, "needs RabbitMQ at RABBITCHAT_TEST_AMQP_URL: start it with scripts/rabbitmq.sh start"))
    func aBrokerThatGoesSilentIsNoticedByMissedHeartbeatsAndFailsEverythingPending() async throws {
        let upstream = try AMQPURL(parsing: LiveRabbitMQ.url)
        let proxy = try BlackholeProxy(upstreamPort: upstream.port)
        defer { proxy.stop() }
        let heartbeat = Duration.seconds(1)
        let broker = try RabbitMQBroker(url: "amqp://\(upstream.user):\(upstream.password)@127.0.0.1:\(proxy.port)/", heartbeat: heartbeat)
        let connection = try await broker.connect(name: LiveRabbitMQ.uniqueName("silent"))
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue("", options: .exclusive).name

        let consumer = try await channel.consume(queue: queue, options: ConsumeOptions())
        let streamFinished = Outcome<Bool>()
        let reader = Task {
            for await _ in consumer.deliveries {}
            streamFinished.set(true)
        }

        proxy.goSilent()
        let publishFailure = Outcome<BrokerError>()
        let publisher = Task {
            do throws(BrokerError) {
                try await channel.publish(OutgoingMessage("into the void"), exchange: "", routingKey: queue, mandatory: false)
            } catch {
                publishFailure.set(error)
            }
        }
        let rpcFailure = Outcome<BrokerError>()
        let declarer = Task {
            do throws(BrokerError) {
                _ = try await connection.openChannel().declareQueue("", options: .exclusive)
            } catch {
                rpcFailure.set(error)
            }
        }
        // rabbitmq-c gives up after two silent heartbeat intervals; allow one more for the
        // poll interval and a loaded machine.
        try await eventually("the publish, the RPC and the delivery stream to fail", timeout: heartbeat * 3 + .milliseconds(500), interval: .milliseconds(20)) {
            publishFailure.value != nil && rpcFailure.value != nil && streamFinished.value != nil
        }
        publisher.cancel()
        declarer.cancel()
        reader.cancel()
        #expect(publishFailure.value?.isConnectionLoss == true)
        #expect(rpcFailure.value?.isConnectionLoss == true)
        #expect(connection.closeReason?.description.contains("missed two heartbeats") == true)
    }
}

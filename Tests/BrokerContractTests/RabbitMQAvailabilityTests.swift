import Broker
import ServerTestSupport
import Testing

/// Says in the test report whether the RabbitMQ half of the contract ran: this test is
/// skipped, with the reason, exactly when every `.rabbitMQ` case is.
@Suite("RabbitMQ availability")
struct RabbitMQAvailabilityTests {
    @Test(.enabled(if: TestEnvironment.rabbitMQEnabled, Comment(rawValue: TestEnvironment.skipMessage)))
    func rabbitMQAnswersAtTheTestURL() async throws {
        try await withTestBroker(.rabbitMQ) { t in
            let channel = try await t.channel("availability")
            let queue = t.queueName("ping")
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.send("ping", key: queue)
            #expect(try await channel.drain(queue) == ["ping"])
        }
    }
}

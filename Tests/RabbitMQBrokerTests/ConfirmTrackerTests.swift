import Broker
import Testing

@testable import RabbitMQBroker

@Suite("Publisher confirm bookkeeping")
struct ConfirmTrackerTests {
    typealias Tracker = ConfirmTracker<String>

    private func outcomes(_ completions: [Tracker.Completion]) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for completion in completions {
            result[completion.waiter] = completion.results.map { result in
                switch result {
                case .success: "ok"
                case .failure(.nacked): "nacked"
                case .failure(.unroutable): "unroutable"
                case .failure(let error): "\(error)"
                }
            }
        }
        return result
    }

    @Test func sequenceNumbersStartAtOneAndCountEveryMessage() {
        var tracker = Tracker()
        #expect(tracker.register(count: 1, waiter: "a") == 1)
        #expect(tracker.register(count: 1000, waiter: "b") == 2)
        #expect(tracker.register(count: 1, waiter: "c") == 1002)
    }

    @Test func oneMultipleAckCompletesEveryGroupUpToItsTag() {
        var tracker = Tracker()
        tracker.register(count: 1, waiter: "a")
        tracker.register(count: 3, waiter: "b")
        tracker.register(count: 2, waiter: "c")
        #expect(outcomes(tracker.ack(4, multiple: true)) == ["a": ["ok"], "b": ["ok", "ok", "ok"]])
        #expect(tracker.pendingGroups == 1)
        #expect(outcomes(tracker.ack(6, multiple: true)) == ["c": ["ok", "ok"]])
        #expect(tracker.isEmpty)
    }

    @Test func aBatchCompletesOnlyWhenItsLastMessageIsSettled() {
        var tracker = Tracker()
        tracker.register(count: 4, waiter: "batch")
        #expect(tracker.ack(2, multiple: true).isEmpty)
        #expect(tracker.ack(3, multiple: false).isEmpty)
        #expect(outcomes(tracker.ack(4, multiple: false)) == ["batch": ["ok", "ok", "ok", "ok"]])
    }

    @Test func singleAcksMayArriveOutOfOrder() {
        var tracker = Tracker()
        tracker.register(count: 1, waiter: "a")
        tracker.register(count: 1, waiter: "b")
        tracker.register(count: 1, waiter: "c")
        #expect(outcomes(tracker.ack(2, multiple: false)) == ["b": ["ok"]])
        #expect(outcomes(tracker.ack(3, multiple: false)) == ["c": ["ok"]])
        #expect(outcomes(tracker.ack(1, multiple: false)) == ["a": ["ok"]])
        #expect(tracker.isEmpty)
    }

    @Test func aNackFailsExactlyTheMessagesItNames() {
        var tracker = Tracker()
        tracker.register(count: 3, waiter: "batch")
        #expect(tracker.ack(1, multiple: false).isEmpty)
        #expect(tracker.nack(2, multiple: false).isEmpty)
        #expect(outcomes(tracker.ack(3, multiple: false)) == ["batch": ["ok", "nacked", "ok"]])
    }

    @Test func aMultipleNackFailsEveryUnsettledMessageUpToItsTag() {
        var tracker = Tracker()
        tracker.register(count: 1, waiter: "a")
        tracker.register(count: 2, waiter: "b")
        #expect(outcomes(tracker.nack(3, multiple: true)) == ["a": ["nacked"], "b": ["nacked", "nacked"]])
    }

    private func key(_ routingKey: String, _ body: String = "m") -> Tracker.ReturnKey {
        Tracker.ReturnKey(exchange: "", routingKey: routingKey, body: Array(body.utf8))
    }

    @Test func aReturnSettlesTheMandatoryMessageItDescribesAsUnroutable() {
        var tracker = Tracker()
        tracker.register(count: 3, waiter: "batch", returnKeys: [key("q"), key("nowhere"), key("q")])
        #expect(tracker.returned(key("nowhere")).isEmpty)
        #expect(outcomes(tracker.ack(3, multiple: true)) == ["batch": ["ok", "unroutable", "ok"]])
    }

    @Test func aReturnMayComeBeforeTheAcksOfEarlierMessages() {
        // RabbitMQ confirms an unroutable message at once, a routed one once its queue has it.
        var tracker = Tracker()
        tracker.register(count: 1, waiter: "routed", returnKeys: [key("q")])
        tracker.register(count: 1, waiter: "lost", returnKeys: [key("nowhere")])
        #expect(outcomes(tracker.returned(key("nowhere"))) == ["lost": ["unroutable"]])
        #expect(tracker.ack(2, multiple: false).isEmpty)
        #expect(outcomes(tracker.ack(1, multiple: false)) == ["routed": ["ok"]])
        #expect(tracker.isEmpty)
    }

    @Test func returnsAreMatchedInPublishOrderByKeyAndBody() {
        var tracker = Tracker()
        tracker.register(count: 4, waiter: "batch", returnKeys: [key("a", "1"), key("a", "2"), key("b", "1"), key("a", "2")])
        #expect(tracker.returned(key("a", "2")).isEmpty)
        #expect(tracker.returned(key("a", "2")).isEmpty)
        #expect(outcomes(tracker.ack(4, multiple: true)) == ["batch": ["ok", "unroutable", "ok", "unroutable"]])
    }

    @Test func aReturnNeverSettlesAMessageThatWasNotMandatory() {
        var tracker = Tracker()
        tracker.register(count: 1, waiter: "plain")
        tracker.register(count: 1, waiter: "mandatory", returnKeys: [key("k")])
        #expect(outcomes(tracker.returned(key("k"))) == ["mandatory": ["unroutable"]])
        #expect(outcomes(tracker.ack(2, multiple: true)) == ["plain": ["ok"]])
    }

    @Test func closingFailsOnlyTheUnsettledMessages() {
        var tracker = Tracker()
        tracker.register(count: 3, waiter: "batch")
        tracker.register(count: 1, waiter: "single")
        #expect(tracker.ack(1, multiple: false).isEmpty)
        let lost = BrokerError.connectionClosed("gone")
        let done = tracker.failAll(lost)
        #expect(done.count == 2)
        #expect(done[0].results.count == 3)
        if case .success = done[0].results[0] {} else { Issue.record("the acked message must stay acked") }
        #expect(done[0].results[1...].allSatisfy { if case .failure(lost) = $0 { true } else { false } })
        #expect(tracker.isEmpty)
    }

    @Test func anAckForAnUnknownTagChangesNothing() {
        var tracker = Tracker()
        tracker.register(count: 1, waiter: "a")
        #expect(tracker.ack(7, multiple: false).isEmpty)
        #expect(tracker.ack(0, multiple: true).isEmpty)
        #expect(tracker.pendingGroups == 1)
    }

    @Test func manyInOrderGroupsStayCheapAndComplete() {
        var tracker = Tracker()
        var completed = 0
        for index in 1...10_000 {
            tracker.register(count: 1, waiter: "\(index)")
            if index.isMultiple(of: 100) { completed += tracker.ack(UInt64(index), multiple: true).count }
        }
        #expect(completed == 10_000)
        #expect(tracker.isEmpty)
    }
}

import Broker
import ServerTestSupport
import Testing

/// Exchanges and routing: which queues a message reaches.
@Suite("Contract: exchanges and routing")
struct RoutingContractTests {
    @Test(arguments: BackendKind.allCases)
    func defaultExchangeRoutesByQueueName(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.send("hello", key: queue)
            #expect(try await channel.drain(queue) == ["hello"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func directExchangeRoutesByExactKey(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let exchange = t.exchangeName("direct")
            let (a, b) = (t.queueName("a"), t.queueName("b"))
            try await channel.declareExchange(exchange, kind: .direct, options: ExchangeOptions(durable: false))
            for queue in [a, b] { try await channel.declareQueue(queue, options: QueueOptions()) }
            try await channel.bindQueue(a, exchange: exchange, routingKey: "red", arguments: [:])
            try await channel.bindQueue(b, exchange: exchange, routingKey: "blue", arguments: [:])
            try await channel.send("r", to: exchange, key: "red")
            try await channel.send("b", to: exchange, key: "blue")
            try await channel.send("x", to: exchange, key: "red.x")
            #expect(try await channel.drain(a) == ["r"])
            #expect(try await channel.drain(b) == ["b"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func fanoutExchangeCopiesToEveryBoundQueueIgnoringKeys(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let exchange = t.exchangeName("fan")
            let (a, b) = (t.queueName("a"), t.queueName("b"))
            try await channel.declareExchange(exchange, kind: .fanout, options: ExchangeOptions(durable: false))
            for queue in [a, b] { try await channel.declareQueue(queue, options: QueueOptions()) }
            try await channel.bindQueue(a, exchange: exchange, routingKey: "", arguments: [:])
            try await channel.bindQueue(b, exchange: exchange, routingKey: "whatever", arguments: [:])
            try await channel.send("one", to: exchange, key: "any.key")
            #expect(try await channel.drain(a) == ["one"])
            #expect(try await channel.drain(b) == ["one"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func topicStarMatchesExactlyOneWord(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let exchange = t.exchangeName("topic")
            let queue = t.queueName("q")
            try await channel.declareExchange(exchange, kind: .topic, options: ExchangeOptions(durable: false))
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.bindQueue(queue, exchange: exchange, routingKey: "room.*", arguments: [:])
            for key in ["room.lobby", "room", "room.a.b", "hall.lobby", "room.x"] {
                try await channel.send(key, to: exchange, key: key)
            }
            #expect(try await channel.drain(queue) == ["room.lobby", "room.x"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func topicHashMatchesZeroOrMoreWords(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let exchange = t.exchangeName("topic")
            let (all, tail, middle) = (t.queueName("all"), t.queueName("tail"), t.queueName("middle"))
            try await channel.declareExchange(exchange, kind: .topic, options: ExchangeOptions(durable: false))
            for queue in [all, tail, middle] { try await channel.declareQueue(queue, options: QueueOptions()) }
            try await channel.bindQueue(all, exchange: exchange, routingKey: "#", arguments: [:])
            try await channel.bindQueue(tail, exchange: exchange, routingKey: "room.#", arguments: [:])
            try await channel.bindQueue(middle, exchange: exchange, routingKey: "a.#.z", arguments: [:])
            for key in ["room", "room.lobby", "room.a.b", "hall", "a.z", "a.b.c.z", "a.b"] {
                try await channel.send(key, to: exchange, key: key)
            }
            #expect(try await channel.drain(all) == ["room", "room.lobby", "room.a.b", "hall", "a.z", "a.b.c.z", "a.b"])
            #expect(try await channel.drain(tail) == ["room", "room.lobby", "room.a.b"])
            #expect(try await channel.drain(middle) == ["a.z", "a.b.c.z"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func queueBoundTwiceGetsOneCopy(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let exchange = t.exchangeName("topic")
            let queue = t.queueName("q")
            try await channel.declareExchange(exchange, kind: .topic, options: ExchangeOptions(durable: false))
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.bindQueue(queue, exchange: exchange, routingKey: "a.*", arguments: [:])
            try await channel.bindQueue(queue, exchange: exchange, routingKey: "*.b", arguments: [:])
            try await channel.send("ab", to: exchange, key: "a.b")
            #expect(try await channel.drain(queue) == ["ab"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func unbindStopsRouting(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let exchange = t.exchangeName("direct")
            let queue = t.queueName("q")
            try await channel.declareExchange(exchange, kind: .direct, options: ExchangeOptions(durable: false))
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.bindQueue(queue, exchange: exchange, routingKey: "k", arguments: [:])
            try await channel.send("before", to: exchange, key: "k")
            try await channel.unbindQueue(queue, exchange: exchange, routingKey: "k", arguments: [:])
            try await channel.send("after", to: exchange, key: "k")
            #expect(try await channel.drain(queue) == ["before"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func unbindingWhatIsNotBoundIsNotAnError(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let exchange = t.exchangeName("direct")
            let queue = t.queueName("q")
            try await channel.declareExchange(exchange, kind: .direct, options: ExchangeOptions(durable: false))
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.unbindQueue(queue, exchange: exchange, routingKey: "never-bound", arguments: [:])
            try await channel.unbindQueue(t.queueName("missing"), exchange: exchange, routingKey: "k", arguments: [:])
            #expect(channel.closeReason == nil)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func builtInExchangesExist(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            try await channel.declareExchange("amq.direct", kind: .direct, options: ExchangeOptions(passive: true))
            try await channel.declareExchange("amq.fanout", kind: .fanout, options: ExchangeOptions(passive: true))
            try await channel.declareExchange("amq.topic", kind: .topic, options: ExchangeOptions(passive: true))
            let queue = t.queueName("q")
            try await channel.declareQueue(queue, options: QueueOptions())
            try await channel.bindQueue(queue, exchange: "amq.topic", routingKey: t.prefix + "room.#", arguments: [:])
            try await channel.send("via amq.topic", to: "amq.topic", key: t.prefix + "room.x")
            #expect(try await channel.drain(queue) == ["via amq.topic"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func passiveDeclareOfMissingExchangeIsNotFoundAndClosesTheChannel(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            await expectCode(BrokerError.notFound) {
                try await channel.declareExchange(t.prefix + "missing", kind: .direct, options: ExchangeOptions(passive: true))
            }
            let later = await brokerError { try await channel.declareQueue(t.queueName("q"), options: QueueOptions()) }
            guard case .channelClosed? = later else {
                Issue.record("expected channelClosed after a channel error, got \(String(describing: later))")
                return
            }
            #expect(channel.closeReason != nil)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func redeclaringAnExchangeAsAnotherKindIsPreconditionFailed(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            let exchange = t.exchangeName("x")
            try await channel.declareExchange(exchange, kind: .direct, options: ExchangeOptions(durable: false))
            try await channel.declareExchange(exchange, kind: .direct, options: ExchangeOptions(durable: false))
            await expectCode(BrokerError.preconditionFailed) {
                try await channel.declareExchange(exchange, kind: .fanout, options: ExchangeOptions(durable: false))
            }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func publishingToAMissingExchangeIsNotFound(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let channel = try await t.channel("c")
            await expectCode(BrokerError.notFound) {
                try await channel.send("lost", to: t.prefix + "missing", key: "k")
            }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func theDefaultExchangeCannotBeBoundAndAmqPrefixIsReserved(_ kind: BackendKind) async throws {
        try await withTestBroker(kind) { t in
            let queue = t.queueName("q")
            let channel = try await t.channel("c")
            try await channel.declareQueue(queue, options: QueueOptions())
            await expectCode(BrokerError.accessRefused) {
                try await channel.bindQueue(queue, exchange: "", routingKey: queue, arguments: [:])
            }
            let other = try await t.channel("d")
            await expectCode(BrokerError.accessRefused) {
                try await other.declareExchange("amq." + t.prefix + "x", kind: .direct, options: ExchangeOptions())
            }
        }
    }
}

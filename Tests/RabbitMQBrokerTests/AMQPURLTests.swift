import Broker
import Testing
@testable import RabbitMQBroker

@Suite("AMQP URL parsing")
struct AMQPURLTests {
    @Test func aFullURLGivesEveryPart() throws {
        let url = try AMQPURL(parsing: "amqp://alice:secret@rabbit.example:5673/chat")
        #expect(url == AMQPURL(user: "alice", password: "secret", host: "rabbit.example", port: 5673, vhost: "chat"))
    }

    @Test(arguments: ["amqp://guest:guest@127.0.0.1:5672", "amqp://guest:guest@127.0.0.1:5672/"])
    func anEmptyPathOrASlashIsTheDefaultVhost(text: String) throws {
        #expect(try AMQPURL(parsing: text).vhost == "/")
    }

    @Test func percentTwoFIsTheSlashVhost() throws {
        #expect(try AMQPURL(parsing: "amqp://guest:guest@127.0.0.1:5672/%2f").vhost == "/")
        #expect(try AMQPURL(parsing: "amqp://guest:guest@127.0.0.1:5672/%2Fprod").vhost == "/prod")
    }

    @Test func omittedPartsTakeRabbitMQsDefaults() throws {
        let url = try AMQPURL(parsing: "amqp://")
        #expect(url == AMQPURL(user: "guest", password: "guest", host: "localhost", port: 5672, vhost: "/"))
        #expect(try AMQPURL(parsing: "amqp://10.0.0.7").port == 5672)
    }

    @Test func userAndPasswordArePercentDecoded() throws {
        let url = try AMQPURL(parsing: "amqp://us%40er:p%3Ass%2Fw@h:1/v")
        #expect(url.user == "us@er")
        #expect(url.password == "p:ss/w")
    }

    @Test func ipv6HostsAreBracketed() throws {
        let url = try AMQPURL(parsing: "amqp://guest:guest@[::1]:5673/")
        #expect(url.host == "::1")
        #expect(url.port == 5673)
        #expect(url.endpoint == "[::1]:5673")
    }

    @Test func theSchemeIsCaseInsensitive() throws {
        #expect(try AMQPURL(parsing: "AMQP://h:1/").host == "h")
    }

    @Test(arguments: [
        ("http://guest:guest@127.0.0.1:5672/", "only the amqp:// scheme"),
        ("127.0.0.1:5672", "does not start with amqp://"),
        ("amqp://h:99999/", "between 1 and 65535"),
        ("amqp://h:abc/", "between 1 and 65535"),
        ("amqp://h:1/a/b", "one path segment"),
        ("amqp://h:1/%zz", "bad %-escape"),
        ("amqp://[::1/", "closing ']'"),
    ])
    func aBadURLIsRejectedWithAReason(text: String, reason: String) {
        #expect {
            try AMQPURL(parsing: text)
        } throws: { error in
            guard case .connectionFailed(let message) = error as? BrokerError else { return false }
            return message.contains(reason) && message.contains("amqp://user:password@host:port/vhost")
        }
    }

    @Test func theDescriptionNeverShowsThePassword() throws {
        let url = try AMQPURL(parsing: "amqp://alice:secret@h:1/chat")
        #expect(url.description == "amqp://alice@h:1/chat")
        #expect(try AMQPURL(parsing: "amqp://alice:secret@h:1/").description == "amqp://alice@h:1/")
    }

    @Test func anUnparsableURLIsQuotedWithoutItsPassword() {
        #expect {
            try AMQPURL(parsing: "amqp://alice:secret@h:notaport/")
        } throws: { error in
            let text = (error as? BrokerError)?.description ?? ""
            return !text.contains("secret") && text.contains("alice:***@h:notaport")
        }
    }

    @Test func theBrokerNeedsAtLeastOneURLAndShowsEachWithoutPasswords() throws {
        #expect(throws: BrokerError.self) { try RabbitMQBroker(urls: []) }
        let broker = try RabbitMQBroker(urls: ["amqp://a:pw@h1:1/", "amqp://a:pw@h2:2/v"])
        #expect(broker.displayName == "amqp://a@h1:1/, amqp://a@h2:2/v")
        #expect(broker.urls.map(\.port) == [1, 2])
    }
}

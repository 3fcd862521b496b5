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
        ("http://guest:guest@127.0.0.1:5672/", "only the amqp:// and amqps:// schemes"),
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
            return !text.contains("secret") && !text.contains("alice") && text.contains("amqp://***@h:notaport/")
        }
    }

    /// Redaction uses the parser's own split (authority to the first `/`, user information to
    /// the last `@`), so whatever the parser takes as the password is what disappears; a URL
    /// that does not parse shows nothing before its last `@`. Each case's password holds "pw".
    @Test(arguments: [
        ("amqp://alice:pw@h:1/", "amqp://alice@h:1/"),
        ("amqp://alice:pw@x@h:1/v", "amqp://alice@h:1/v"),  // raw '@' in the password: the last '@' ends it
        ("amqp://alice:pw%40x@h:1/", "amqp://alice@h:1/"),
        ("amqp://alice:pw,x@h:1/", "amqp://alice@h:1/"),  // raw ','
        ("amqp://alice:pw%2Cx@h:1/", "amqp://alice@h:1/"),
        ("amqp://alice:pw?x@h/", "amqp://alice@h:5672/"),  // raw '?' before the '@'
        ("amqps://alice:pw@h/?cacertfile=/etc/ca.pem", "amqps://alice@h:5671/?cacertfile=/etc/ca.pem"),
        ("amqp://alice:pw@h:notaport/", "amqp://***@h:notaport/"),  // does not parse
        ("amqp://alice:pw@x@h:99999/", "amqp://***@h:99999/"),
        ("amqp://alice:pw/x@h:1/", "amqp://***@h:1/"),  // raw '/' in the password: does not parse
        ("amqp://alice:pw%zz@h:1/", "amqp://***@h:1/"),  // bad escape
        ("rabbit://alice:pw@h/", "rabbit://***@h/"),  // wrong scheme
        ("alice:pw@h:5672", "***@h:5672"),  // no scheme
        ("amqp://alice:pw/vhost", "amqp://***/vhost"),  // no '@': 'pw' would be the port
        ("amqp://alice:pw", "amqp://***"),
        ("amqp://h:5672/v?heartbeat=pw", "amqp://h:5672/v?heartbeat=pw"),  // no user information at all
    ])
    func redactionTable(url: String, redacted: String) {
        #expect(AMQPURL.redacted(url) == redacted)
        if url.contains("@") || url.hasPrefix("amqp://alice") {
            #expect(!AMQPURL.redacted(url).contains("pw"))
        }
        // The parser's own error never quotes the password either.
        do {
            _ = try AMQPURL(parsing: url)
        } catch {
            if url.contains("alice") { #expect(!error.description.contains("pw"), "\(error)") }
        }
    }

    @Test func amqpsTakesRabbitMQsTLSQueryParameters() throws {
        let url = try AMQPURL(parsing: "amqps://u:p@rabbit.lan/chat?cacertfile=/etc/ca%20dir/ca.pem&certfile=/c.pem&keyfile=/k.pem")
        #expect(url.port == 5671)
        #expect(url.vhost == "chat")
        #expect(url.tls == AMQPURL.TLS(caCertificateFile: "/etc/ca dir/ca.pem", certificateFile: "/c.pem", keyFile: "/k.pem", verifyPeer: true))
        #expect(try AMQPURL(parsing: "amqps://h:5681?verify=verify_none").tls == AMQPURL.TLS(verifyPeer: false))
        #expect(try AMQPURL(parsing: "amqps://h").tls == AMQPURL.TLS())
        #expect(try AMQPURL(parsing: "amqp://h").tls == nil)
    }

    @Test(arguments: [
        ("amqp://h/?cacertfile=/ca.pem", "use it with an amqps:// URL"),
        ("amqps://h/?certfile=/c.pem", "certfile and keyfile go together"),
        ("amqps://h/?verify=maybe", "verify_peer or verify_none"),
        ("amqps://h/?heartbeat=5", "'heartbeat' is not supported"),
        ("amqps://h/?cacertfile=", "needs a value"),
    ])
    func badTLSParametersAreRefusedWithAReason(text: String, reason: String) {
        #expect {
            try AMQPURL(parsing: text)
        } throws: { error in
            (error as? BrokerError)?.description.contains(reason) ?? false
        }
    }

    @Test func theBrokerNeedsAtLeastOneURLAndShowsEachWithoutPasswords() throws {
        #expect(throws: BrokerError.self) { try RabbitMQBroker(urls: []) }
        let broker = try RabbitMQBroker(urls: ["amqp://a:pw@h1:1/", "amqp://a:pw@h2:2/v"])
        #expect(broker.displayName == "amqp://a@h1:1/, amqp://a@h2:2/v")
        #expect(broker.urls.map(\.port) == [1, 2])
    }
}

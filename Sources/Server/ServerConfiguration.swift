import ArgumentParser
import Foundation
import RabbitMQBroker

/// Which broker the node talks to.
enum BrokerChoice: Sendable, Equatable {
    /// The simulator inside this process: nothing to install; durable in its data directory
    /// unless `--in-memory`.
    case embedded
    /// RabbitMQ at these URLs (several for a cluster: tried in turn on reconnect).
    case rabbitMQ(urls: [String])
}

/// The validated settings of one `rabbitChat` process.
struct ServerConfiguration: Sendable {
    var host: String
    var port: Int
    var broker: BrokerChoice
    /// nil: derived from the host name and the bound port once the server listens.
    var nodeId: String?
    var secretFile: String
    var sockJSClient: String
    var logLevel: LogLevel
    var sockJSTestServices: Bool
    /// User inboxes as quorum queues (`--replicated-queues`), for a RabbitMQ cluster.
    var replicatedQueues = false
    /// `--registration`: `closed` admits only accounts made with `rabbitChat user add`.
    var registration: Registration = .open
    /// With the built-in broker: the most message bytes each of its streams (the public
    /// history, the claims) keeps in memory (`--embedded-history-mib`). RabbitMQ keeps them on
    /// disk up to 1 GiB; in the process that would be memory growing for hours.
    var embeddedStreamBytes = ServerConfiguration.defaultEmbeddedHistoryMiB << 20
    /// The built-in broker's data directory (`--data-dir`); nil: in memory (`--in-memory`) or
    /// RabbitMQ.
    var dataDirectory: String?

    // MARK: Browsers and TLS (`--allow-origin`, `--allow-host`, `--tls-cert`, `--tls-key`)
    /// Origins besides the server's own whose pages may use `/chat` (`--allow-origin`), each
    /// already checked to be `http(s)://host[:port]`.
    var allowedOrigins: [String] = []
    /// Host names the server answers under besides IP literals, `localhost` and this machine's
    /// names (`--allow-host`).
    var allowedHosts: [String] = []
    /// The PEM certificate chain and key (`--tls-cert`, `--tls-key`): both or neither.
    var tlsCertificate: String?
    var tlsKey: String?

    /// Whether the server speaks TLS.
    var usesTLS: Bool { tlsCertificate != nil && tlsKey != nil }

    /// Whether `host` (a `--host` value) is reachable only from this machine.
    static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased()
        return h == "localhost" || h == "::1" || h == "[::1]" || h.hasPrefix("127.")
    }

    /// This machine's names for the Host check: the host name and, when it has dots, its first label.
    static func machineHostNames() -> [String] {
        let name = ProcessInfo.processInfo.hostName.lowercased()
        guard !name.isEmpty else { return [] }
        var names = [name]
        if let dot = name.firstIndex(of: "."), dot != name.startIndex { names.append(String(name[..<dot])) }
        return names
    }

    /// The default of `--embedded-history-mib`: about 14,000 public messages of 170 bytes (each
    /// counted with 400 bytes of bookkeeping, about what it costs in RSS). A single node does not
    /// read its own stream back (its rooms' history is in `RoomHistory`); another node in the
    /// same process reads up to `historyReadOnStart` (20,000) records, as many as are kept.
    static let defaultEmbeddedHistoryMiB = 8

    /// Splits a `--broker` value (one URL, or several separated by commas) into URLs.
    static func brokerChoice(_ value: String?) throws(StartupError) -> BrokerChoice {
        guard let value, !value.trimmingCharacters(in: .whitespaces).isEmpty else { return .embedded }
        return try brokerChoice(urls: splitBrokerList(value))
    }

    static func brokerChoice(urls: [String]) throws(StartupError) -> BrokerChoice {
        guard !urls.isEmpty else { return .embedded }
        for url in urls {
            let lowered = url.lowercased()
            guard lowered.hasPrefix("amqp://") && lowered.count > 7 || lowered.hasPrefix("amqps://") && lowered.count > 8 else {
                throw StartupError.badBrokerURL(redacted(url))
            }
        }
        return .rabbitMQ(urls: urls)
    }

    /// Splits a list of broker URLs at each comma that starts a new URL (a comma followed,
    /// after optional spaces, by `amqp://` or `amqps://`). A comma anywhere else, such as
    /// one in a password, stays in its URL: the list is never cut inside a password.
    static func splitBrokerList(_ value: String) -> [String] {
        var urls: [String] = []
        var current = Substring(value)[...]
        var searchFrom = current.startIndex
        while let comma = current[searchFrom...].firstIndex(of: ",") {
            let next = current[current.index(after: comma)...].drop(while: { $0 == " " || $0 == "\t" })
            let lowered = next.prefix(8).lowercased()
            if lowered.hasPrefix("amqp://") || lowered.hasPrefix("amqps://") {
                urls.append(String(current[..<comma]))
                current = next
                searchFrom = current.startIndex
            } else {
                searchFrom = current.index(after: comma)
            }
        }
        urls.append(String(current))
        return urls.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A broker URL without anything of its password, for banners, logs and errors: the
    /// parser's own split decides what the password is (``AMQPURL/redacted(_:)``).
    static func redacted(_ url: String) -> String {
        AMQPURL.redacted(url)
    }

    /// `text` (a command-line error that quotes what was typed, e.g. "Unexpected argument
    /// 'amqp://u:pw@h/'") with every quoted part that could be a URL with a password (it holds
    /// `@` or `://`) redacted like a broker URL.
    static func redactingQuotedURLs(in text: String) -> String {
        let parts = text.split(separator: "'", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return text }
        var out = ""
        for (index, part) in parts.enumerated() {
            if index > 0 { out += "'" }
            let quoted = index % 2 == 1 && index < parts.count - 1
            out += quoted && (part.contains("@") || part.contains("://")) ? redacted(String(part)) : String(part)
        }
        return out
    }

    /// The broker URLs in `--broker-file`: one or more per line (several on a line separated
    /// by commas, as in `--broker`); blank lines and lines starting with `#` are skipped. The
    /// file holds passwords, so like the secret file it must not be readable by group or others.
    static func brokerURLs(fromFile path: String) throws(StartupError) -> [String] {
        let text = try PrivateFile.read(path, what: "broker file", option: "--broker-file", limit: 65_536)
        var urls: [String] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            urls.append(contentsOf: splitBrokerList(trimmed))
        }
        guard !urls.isEmpty else {
            throw StartupError("The broker file \(path) holds no URL; write one such as amqp://user:password@host:5672/ on a line of its own.")
        }
        return urls
    }

    /// The default node id: this machine's name and the port, so two processes on one machine
    /// differ and a restarted node keeps its id. With port 0 (any free port) a random suffix
    /// stands in for the port.
    static func defaultNodeId(port: Int) -> String {
        let host = ProcessInfo.processInfo.hostName.filter {
            $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".")
        }
        let suffix = port == 0 ? String(UInt32.random(in: 0 ... .max), radix: 36) : String(port)
        return (host.isEmpty ? "node" : String(host.prefix(48))) + "-" + suffix
    }

    static func isValidNodeId(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 64
            && id.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0 == "."
            }
    }
}

/// `--registration`: who may claim a nick (Specs/server.md).
enum Registration: String, ExpressibleByArgument, Sendable, CaseIterable {
    case open
    case closed
}

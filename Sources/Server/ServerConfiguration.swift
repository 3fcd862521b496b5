import Foundation

/// Which broker the node talks to.
enum BrokerChoice: Sendable, Equatable {
    /// The simulator inside this process: nothing to install, nothing survives a restart.
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
    /// With the built-in broker: the most message bytes each of its streams (the public
    /// history, the claims) keeps in memory (`--embedded-history-mib`). RabbitMQ keeps them on
    /// disk up to 1 GiB; in the process that would be memory growing for hours.
    var embeddedStreamBytes = ServerConfiguration.defaultEmbeddedHistoryMiB << 20
    /// The built-in broker's data directory (`--data-dir`); nil: in memory (`--in-memory`) or
    /// RabbitMQ.
    var dataDirectory: String?

    /// The default of `--embedded-history-mib`: about 14,000 public messages of 170 bytes (each
    /// counted with 400 bytes of bookkeeping, about what it costs in RSS). A single node does not
    /// read its own stream back (its rooms' history is in `RoomHistory`); another node in the
    /// same process reads up to `historyReadOnStart` (20,000) records, as many as are kept.
    static let defaultEmbeddedHistoryMiB = 8

    /// Splits a `--broker` value (one URL, or several separated by commas) into URLs.
    static func brokerChoice(_ value: String?) throws(StartupError) -> BrokerChoice {
        guard let value, !value.trimmingCharacters(in: .whitespaces).isEmpty else { return .embedded }
        let urls = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for url in urls where !(url.hasPrefix("amqp://") || url.hasPrefix("amqps://")) || url.count <= "amqp://".count {
            throw StartupError.badBrokerURL(url)
        }
        return .rabbitMQ(urls: urls)
    }

    /// A broker URL with its password replaced by `***`, for banners and logs.
    static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url.range(of: "@", range: scheme.upperBound..<url.endIndex) else {
            return url
        }
        let userInfo = url[scheme.upperBound..<at.lowerBound]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at.lowerBound...])
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
        !id.isEmpty && id.count <= 64 && id.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0 == "."
        }
    }
}

import ArgumentParser
import Foundation
import Logging
import SockJS

/// `rabbitChat`: the chat server people run. Parses the command line, checks everything a user
/// can get wrong before anything listens, then runs the server until Ctrl+C or SIGTERM.
@main
struct RabbitChat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rabbitChat",
        abstract: "A chat server: browsers connect over SockJS, server nodes share rooms through a message broker.",
        discussion: """
            Started alone, rabbitChat serves http://127.0.0.1:9191/ with a broker inside the process: \
            nothing else to install. It keeps the chat (nick claims, room history, waiting private \
            messages and receipts) in --data-dir (default ~/.local/share/rabbitChat), so a restart or \
            a crash loses nothing that was confirmed; back it up while it runs with \
            `rabbitChat backup --data-dir DIR OUT`, start over by deleting the directory. With \
            --in-memory everything is lost when the process stops. With --broker it uses RabbitMQ: \
            messages survive restarts, and several rabbitChat processes (each with its own \
            --node-id, all with the same --secret-file) form one chat.

            Stop it with Ctrl+C or SIGTERM: open sessions are told the server is going away, \
            messages in flight are confirmed, and the process exits with status 0.

            Routes: / (the page), /chat (SockJS), /sockjs.min.js, /healthz (200 when the broker is \
            connected, 503 otherwise), /metrics (Prometheus text).
            """
    )

    @Option(help: ArgumentHelp("TCP port to serve on; 0 picks a free one (the banner shows which).", valueName: "port"))
    var port: Int = 9191

    @Option(help: ArgumentHelp("Address to listen on: 127.0.0.1 for this machine only, 0.0.0.0 to serve the local network.", valueName: "address"))
    var host: String = "127.0.0.1"

    @Option(
        help: ArgumentHelp(
            "RabbitMQ to use, as amqp://user:password@host:port/vhost or amqps://…?cacertfile=FILE for TLS (several, comma-separated, for a cluster). Without it (and without --broker-file or RABBITCHAT_BROKER) the built-in broker is used. A URL here is visible to every user in `ps`: prefer --broker-file or RABBITCHAT_BROKER when it holds a password.",
            valueName: "url"))
    var broker: String?

    @Option(
        help: ArgumentHelp(
            "File holding the broker URL(s) of --broker, one or more per line (lines starting with # are skipped); it must be readable by its owner only (chmod 600).",
            valueName: "path"))
    var brokerFile: String?

    @Option(help: ArgumentHelp("Name of this node, unique among the processes of one chat (default: host name and port).", valueName: "id"))
    var nodeId: String?

    @Option(
        help: ArgumentHelp(
            "File with the key that signs nick tokens; created with a random key when absent. Every node of one chat must use the same file (default: ~/.rabbitchat/secret when it exists, else the data directory's `secret` with the built-in broker).",
            valueName: "path"))
    var secretFile: String?

    @Option(help: ArgumentHelp("The sockjs-client browser library served at /sockjs.min.js.", valueName: "path"))
    var sockjsClient: String = "/usr/share/nodejs/sockjs-client/dist/sockjs.min.js"

    @Option(help: ArgumentHelp("Least severe log messages to print.", valueName: "level"))
    var logLevel: LogLevel = .info

    @Flag(
        help:
            "With a RabbitMQ cluster: keep user inboxes in quorum queues, replicated over the cluster's nodes. Every node of one chat must use the same choice; a single broker is lighter without it."
    )
    var replicatedQueues = false

    @Option(
        help: ArgumentHelp(
            "With the built-in broker: the most MiB of messages its public history keeps in memory (and in --data-dir); the oldest go first. Ignored with --broker (RabbitMQ keeps up to 1 GiB on disk).",
            valueName: "MiB"))
    var embeddedHistoryMib: Int = ServerConfiguration.defaultEmbeddedHistoryMiB

    // MARK: Browsers and TLS
    @Option(
        help: ArgumentHelp(
            "Another origin whose pages may use /chat, as scheme://host[:port] (repeatable). The server's own origin is always allowed; pages from anywhere else get 403.",
            valueName: "origin"))
    var allowOrigin: [String] = []

    @Option(
        help: ArgumentHelp(
            "A host name the server answers under besides its IP addresses, localhost and this machine's name (repeatable), e.g. the DNS name people type. Other names get 403 (this stops DNS rebinding).",
            valueName: "name"))
    var allowHost: [String] = []

    @Option(help: ArgumentHelp("PEM certificate (chain) to serve https:// and wss:// with; needs --tls-key.", valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("PEM private key of --tls-cert.", valueName: "file"))
    var tlsKey: String?

    // MARK: The built-in broker's data directory (issue 14)

    @Option(
        help: ArgumentHelp(
            "With the built-in broker: the directory that keeps the chat across restarts (made with mode 0700; default: $XDG_DATA_HOME/rabbitChat, else ~/.local/share/rabbitChat). Ignored with --broker.",
            valueName: "dir"))
    var dataDir: String?

    @Flag(help: "With the built-in broker: keep everything in memory only; it is all lost when the process stops (for tests and demos).")
    var inMemory = false

    @Option(
        help: ArgumentHelp(
            "open: anyone may pick a free nick (and protect it with a password); closed: only accounts made with `rabbitChat user add NAME` may join.",
            valueName: "open|closed"))
    var registration: Registration = .open

    @Flag(help: "Also mount the SockJS protocol test services (/echo, /close, /disabled_websocket_echo, /cookie_needed_echo) for conformance tests.")
    var sockjsTestServices = false

    /// Parses and runs like ArgumentParser's own `main()`, except that a command-line mistake is
    /// one line on stderr (what is wrong and where to look) instead of the usage block.
    static func main() async {
        // `rabbitChat backup ...` is its own command (not an ArgumentParser subcommand: the
        // server's own --data-dir would take the option away from it).
        if CommandLine.arguments.count > 1, CommandLine.arguments[1] == "backup" {
            Backup.main(Array(CommandLine.arguments.dropFirst(2)))
            Foundation.exit(0)
        }
        // `rabbitChat user add|passwd|delete NAME`: the operator's accounts (UserCommand).
        if CommandLine.arguments.count > 1, CommandLine.arguments[1] == "user" {
            await UserCommand.main(Array(CommandLine.arguments.dropFirst(2)))
            Foundation.exit(0)
        }
        let command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // --help and friends
            let sentence = ServerConfiguration.redactingQuotedURLs(in: Self.oneLine(Self.message(for: error)))
            FileHandle.standardError.write(Data("rabbitChat: \(sentence); see `rabbitChat --help` for every option.\n".utf8))
            Foundation.exit(code.rawValue)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var syncCommand = command
                try syncCommand.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    /// ArgumentParser's message on one line: list items after a colon become a comma-separated list.
    static func oneLine(_ message: String) -> String {
        let lines = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var text = ""
        for line in lines {
            if line.hasPrefix("- ") {
                text += (text.hasSuffix(":") ? " " : ", ") + line.dropFirst(2)
            } else {
                text += (text.isEmpty ? "" : " ") + line
            }
        }
        while text.hasSuffix(".") { text.removeLast() }
        return text.isEmpty ? "The command line is not valid" : text
    }

    func validate() throws {
        guard (0...65_535).contains(port) else {
            throw ValidationError("--port must be between 0 and 65535; 9191 is the default.")
        }
        guard !host.isEmpty else {
            throw ValidationError("--host must name an address, such as 127.0.0.1 or 0.0.0.0.")
        }
        if let nodeId, !ServerConfiguration.isValidNodeId(nodeId) {
            throw ValidationError("--node-id must be 1 to 64 letters, digits, '-', '_' or '.'.")
        }
        guard (1...65_536).contains(embeddedHistoryMib) else {
            throw ValidationError("--embedded-history-mib must be between 1 and 65536 (MiB); \(ServerConfiguration.defaultEmbeddedHistoryMiB) is the default.")
        }
        if let secretFile, secretFile.isEmpty {
            throw ValidationError("--secret-file must name a file.")
        }
        if broker != nil, brokerFile != nil {
            throw ValidationError("Give the broker either with --broker or with --broker-file, not both.")
        }
        for origin in allowOrigin {
            if origin.trimmingCharacters(in: .whitespaces).lowercased() == "null" {
                throw ValidationError(
                    "--allow-origin null would let any sandboxed frame or local file use the chat; name the page's real origin, such as https://intranet.example.com."
                )
            }
            guard WebOrigin(origin) != nil else {
                throw ValidationError(
                    "--allow-origin \(origin) is not an origin; write scheme, host and port only, such as https://intranet.example.com or http://10.0.0.5:8080."
                )
            }
        }
        for name in allowHost {
            guard let parsed = HostPolicy.splitHostAndPort(Substring(name)), parsed.port == nil, !name.hasPrefix("[") else {
                throw ValidationError(
                    "--allow-host \(name) is not a host name; write the name alone, such as chat.example.com (IP addresses are always allowed).")
            }
        }
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together; give both PEM files, or neither for plain http.")
        }
        if let dataDir, dataDir.isEmpty {
            throw ValidationError("--data-dir must name a directory.")
        }
        if inMemory && dataDir != nil {
            throw ValidationError("--in-memory and --data-dir exclude each other: choose one.")
        }
    }

    func run() async throws {
        do {
            let configuration = try makeConfiguration()
            try await ChatServer(configuration: configuration).run()
        } catch let error as StartupError {
            FileHandle.standardError.write(Data(("rabbitChat: " + error.description + "\n").utf8))
            throw ExitCode.failure
        }
    }

    private func makeConfiguration() throws(StartupError) -> ServerConfiguration {
        let environment = ProcessInfo.processInfo.environment
        let brokerChoice: BrokerChoice
        if let brokerFile {
            brokerChoice = try ServerConfiguration.brokerChoice(urls: ServerConfiguration.brokerURLs(fromFile: brokerFile))
        } else {
            brokerChoice = try ServerConfiguration.brokerChoice(broker ?? environment["RABBITCHAT_BROKER"])
        }
        let dataDirectory = Self.dataDirectory(dataDir, inMemory: inMemory, broker: brokerChoice, environment: environment)
        let secretPath = secretFile ?? Self.defaultSecretFile(home: environment["HOME"], dataDirectory: dataDirectory)
        var configuration = ServerConfiguration(
            host: host,
            port: port,
            broker: brokerChoice,
            nodeId: nodeId,
            secretFile: secretPath,
            sockJSClient: sockjsClient,
            logLevel: logLevel,
            sockJSTestServices: sockjsTestServices,
            replicatedQueues: replicatedQueues,
            embeddedStreamBytes: embeddedHistoryMib << 20
        )
        configuration.allowedOrigins = allowOrigin
        configuration.allowedHosts = allowHost
        configuration.tlsCertificate = tlsCert
        configuration.tlsKey = tlsKey
        configuration.dataDirectory = dataDirectory
        configuration.registration = registration
        return configuration
    }

    /// The built-in broker's data directory: `--data-dir`, else the default; nil with
    /// `--in-memory` or a RabbitMQ broker.
    static func dataDirectory(_ option: String?, inMemory: Bool, broker: BrokerChoice, environment: [String: String]) -> String? {
        guard !inMemory, broker == .embedded else { return nil }
        if let option { return option }
        return defaultDataDirectory(environment: environment)
    }

    /// `$XDG_DATA_HOME/rabbitChat`, else `~/.local/share/rabbitChat` (else `.rabbitChat-data`).
    static func defaultDataDirectory(environment: [String: String]) -> String {
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") { return xdg + "/rabbitChat" }
        guard let home = environment["HOME"], !home.isEmpty else { return ".rabbitChat-data" }
        return home + "/.local/share/rabbitChat"
    }

    /// An existing `~/.rabbitchat/secret` is still read; otherwise the secret lives in the
    /// data directory (with the built-in broker and one), else in `~/.rabbitchat/secret`.
    static func defaultSecretFile(home: String?, dataDirectory: String?) -> String {
        let legacy = defaultSecretFile(home: home)
        if let dataDirectory, !FileManager.default.fileExists(atPath: legacy) { return dataDirectory + "/secret" }
        return legacy
    }

    static func defaultSecretFile(home: String?) -> String {
        guard let home, !home.isEmpty else { return ".rabbitchat-secret" }
        return home + "/.rabbitchat/secret"
    }
}

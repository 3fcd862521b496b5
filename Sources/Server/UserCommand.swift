import ArgumentParser
import Broker
import Chat
import Foundation
import InMemoryBroker
import RabbitMQBroker

/// `rabbitChat user add|passwd|delete NAME`: the operator's accounts (Specs/server.md), written
/// to the `chat.state` stream of the same broker the server uses. With the built-in broker the
/// data directory must not be in use by a running server (its store takes one process).
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rabbitChat user",
        abstract: "Make, change or delete an account (for --registration closed); prompts twice for the password.",
        discussion: "With the built-in broker, stop the server on --data-dir first. Deleting an account frees the nick's password; its user queue stays."
    )

    enum Action: String, ExpressibleByArgument, CaseIterable {
        case add, passwd, delete
    }

    @Argument(help: "add, passwd or delete.")
    var action: Action

    @Argument(help: ArgumentHelp("The account's nick.", valueName: "name"))
    var name: String

    @Option(help: ArgumentHelp("RabbitMQ URL(s), as for the server (default: $RABBITCHAT_BROKER, else the built-in broker).", valueName: "url"))
    var broker: String?

    @Option(help: ArgumentHelp("File holding the broker URL(s), as for the server.", valueName: "path"))
    var brokerFile: String?

    @Option(help: ArgumentHelp("The built-in broker's data directory (default: the server's default).", valueName: "dir"))
    var dataDir: String?

    func run() async throws {
        do {
            try await perform()
        } catch let error as StartupError {
            FileHandle.standardError.write(Data("rabbitChat user: \(error.description)\n".utf8))
            throw ExitCode.failure
        }
    }

    private func perform() async throws {
        let environment = ProcessInfo.processInfo.environment
        let choice: BrokerChoice =
            if let brokerFile {
                try ServerConfiguration.brokerChoice(urls: ServerConfiguration.brokerURLs(fromFile: brokerFile))
            } else {
                try ServerConfiguration.brokerChoice(broker ?? environment["RABBITCHAT_BROKER"])
            }
        let password: String? = action == .delete ? nil : try Self.askPasswordTwice()
        let target: any Broker
        switch choice {
        case .embedded:
            let directory = dataDir ?? RabbitChat.defaultDataDirectory(environment: environment)
            do throws(StoreError) {
                target = try InMemoryBroker(dataDirectory: directory, log: { _ in })
            } catch {
                throw StartupError(error.message)
            }
        case .rabbitMQ(let urls):
            do {
                try RabbitMQBroker.loadLibrary()
                target = try RabbitMQBroker(urls: urls)
            } catch {
                throw StartupError("RabbitMQ cannot be used (\(error)); check --broker.")
            }
        }
        let connection: any BrokerConnection
        do {
            connection = try await target.connect(name: "rabbitChat user")
        } catch {
            throw StartupError("cannot reach the broker (\(error)); check that it runs and --broker.")
        }
        do throws(ChatAccounts.Failure) {
            if let password {
                try await ChatAccounts.setPassword(password, for: name, on: connection, topology: ChatTopology())
            } else {
                try await ChatAccounts.delete(name, on: connection, topology: ChatTopology())
            }
        } catch {
            await connection.close()
            throw StartupError(error.description)
        }
        await connection.close()
        switch action {
        case .add, .passwd: print("rabbitChat user: the account \(name) has its password.")
        case .delete: print("rabbitChat user: the account \(name) is deleted.")
        }
    }

    /// Reads the password twice, without echo on a terminal (from standard input otherwise,
    /// one line each).
    static func askPasswordTwice() throws(StartupError) -> String {
        let first = readSecret("Password: ")
        let second = readSecret("Password again: ")
        guard let first, let second, !first.isEmpty else { throw StartupError("no password was given; type it twice when asked.") }
        guard first == second else { throw StartupError("the two passwords differ; run the command again and type the same one twice.") }
        return first
    }

    private static func readSecret(_ prompt: String) -> String? {
        guard isatty(0) != 0 else { return readLine(strippingNewline: true) }
        FileHandle.standardError.write(Data(prompt.utf8))
        var saved = termios()
        tcgetattr(0, &saved)
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(0, TCSANOW, &silent)
        defer {
            tcsetattr(0, TCSANOW, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return readLine(strippingNewline: true)
    }
}

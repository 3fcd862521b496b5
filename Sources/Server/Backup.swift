import ArgumentParser
import Foundation
import InMemoryBroker

/// `rabbitChat backup --data-dir DIR OUT`: a consistent copy of the built-in broker's data
/// directory, taken while a server may be running on it (`Specs/storage.md`, "Backup").
struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rabbitChat backup",
        abstract: "Copy the built-in broker's data directory consistently, also while the server runs.",
        discussion: "Restore by starting rabbitChat with --data-dir OUT (with the server on the old directory stopped)."
    )

    @Option(help: ArgumentHelp("The data directory to copy (default: the server's default).", valueName: "dir"))
    var dataDir: String?

    @Argument(help: ArgumentHelp("Where to write the copy: a new or empty directory.", valueName: "out"))
    var out: String

    func run() throws {
        let source = dataDir ?? RabbitChat.defaultDataDirectory(environment: ProcessInfo.processInfo.environment)
        do throws(StoreError) {
            try InMemoryBroker.backup(dataDirectory: source, to: out)
        } catch {
            FileHandle.standardError.write(Data("rabbitChat backup: \(error.message)\n".utf8))
            throw ExitCode.failure
        }
        print("rabbitChat backup: copied \(source) to \(out).")
    }
}

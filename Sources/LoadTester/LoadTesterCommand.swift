import ArgumentParser

@main
struct LoadTesterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "LoadTester")

    func run() async throws {}
}

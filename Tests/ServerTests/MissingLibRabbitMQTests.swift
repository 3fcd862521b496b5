import Foundation
import ServerTestSupport
import Testing

/// rabbitChat on a machine without librabbitmq: the built-in broker needs nothing from it, and
/// `--broker` says in one sentence what to install. The library is hidden from one server
/// process only, never uninstalled: the process runs in a mount namespace of its own
/// (`unshare -m`, which needs root, as the test machine runs) in which `/dev/null` is
/// bind-mounted over the library file, so the dynamic loader finds an empty file.
@Suite("rabbitChat without librabbitmq", .serialized)
struct MissingLibRabbitMQTests {
    /// Debian's librabbitmq4, the file `dlopen("librabbitmq.so.4")` finds.
    static let library = "/usr/lib/x86_64-linux-gnu/librabbitmq.so.4"

    /// Starts the built `rabbitChat` with `arguments` where librabbitmq cannot be loaded.
    /// `unshare` and `sh` exec in turn, so the PID is the server's.
    static func startWithoutLibrary(_ arguments: [String]) throws -> ServerProcess {
        try ServerProcess(
            executable: "/usr/bin/unshare",
            arguments: ["-m", "/bin/sh", "-c", #"mount --bind /dev/null "$0" && exec "$@""#, library, BuiltProduct.rabbitChat] + arguments,
            environment: ["RABBITCHAT_BROKER": nil])
    }

    @Test("Without librabbitmq the built-in broker starts and welcomes a join")
    func builtInBrokerNeedsNoLibrary() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let server = try Self.startWithoutLibrary(["--port", "0", "--secret-file", folder.path + "/secret", "--data-dir", folder.path + "/data"])
        let port = try #require(await server.waitForPort(), "stdout: \(server.standardOutput) stderr: \(server.standardError)")
        let client = try TestChatClient(port: port)
        try client.join("nolib")
        #expect(await server.stop() == 0, "stderr: \(server.standardError)")
    }

    @Test("Without librabbitmq, --broker is one sentence that says what to install, and a non-zero exit")
    func brokerWithoutLibraryIsOneSentence() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let server = try Self.startWithoutLibrary([
            "--port", "0", "--secret-file", folder.path + "/secret",
            "--broker", "amqp://guest:guest@127.0.0.1:\(try FreePort.next())/",
        ])
        let status = await server.waitForExit(timeout: .seconds(30))
        let error = server.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(status != nil && status != 0)
        #expect(error.hasPrefix("rabbitChat: librabbitmq is not installed") && error.contains("apt-get install"), "stderr: \(error)")
        #expect(!error.contains("\n"), "one line: \(error)")
        #expect(!server.standardOutput.contains("http://"), "nothing started")
        await server.stop()
    }
}

import Foundation
import ServerTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `rabbitChat user add NAME` on the built-in broker's data directory, then the server with
/// `--registration closed`: the operator's account signs in, a stranger is refused; while the
/// server runs on the directory, the command refuses in one sentence (Specs/server.md).
@Suite("rabbitChat user", .serialized)
struct UserCommandTests {
    /// Runs `rabbitChat user ...` with `input` on its standard input; its exit status and output.
    static func user(_ arguments: [String], input: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BuiltProduct.rabbitChat)
        process.arguments = ["user"] + arguments
        let stdin = Pipe()
        let output = Pipe()
        process.standardInput = stdin
        process.standardOutput = output
        process.standardError = output
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "RABBITCHAT_BROKER")
        process.environment = environment
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test func anOperatorAccountJoinsAClosedServerAndAStrangerDoesNot() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let data = folder.path + "/data"
        let password = "correct horse battery staple"
        let differ = try Self.user(["add", "erin", "--data-dir", data], input: "one password\nanother one\n")
        #expect(differ.status != 0)
        #expect(differ.output.contains("the two passwords differ"))
        let added = try Self.user(["add", "erin", "--data-dir", data], input: "\(password)\n\(password)\n")
        #expect(added.status == 0, "\(added.output)")

        let server = try ServerProcess([
            "--port", "0", "--secret-file", folder.path + "/secret", "--data-dir", data, "--registration", "closed", "--log-level", "warning",
        ])
        defer { server.signal(SIGKILL) }
        let port = try #require(await server.waitForPort(), "stderr: \(server.standardError)")
        #expect(await TestHTTP.waitForStatus(200, port: port, path: "/healthz"))

        let locked = try Self.user(["passwd", "erin", "--data-dir", data], input: "\(password)\n\(password)\n")
        #expect(locked.status != 0)
        #expect(locked.output.contains("stop that server first"), "\(locked.output)")

        let stranger = try TestChatClient(port: port)
        try stranger.send(["type": "join", "nick": "stranger"])
        let refusal = try stranger.waitFor { ["welcome", "error"].contains($0["type"] as? String) }
        #expect(refusal?["code"] as? String == "registration_closed", "got \(String(describing: refusal))")
        let erin = try TestChatClient(port: port)
        try erin.send(["type": "join", "nick": "erin", "password": password])
        let welcome = try erin.waitFor { ["welcome", "error"].contains($0["type"] as? String) }
        #expect(welcome?["type"] as? String == "welcome", "got \(String(describing: welcome))")
    }
}

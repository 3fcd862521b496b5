import Foundation
import ServerTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `rabbitChat` alone on its built-in broker with a data directory keeps what it confirmed
/// across a SIGKILL (issue 14, `Specs/storage.md`): nick claims, each room's history with the
/// same `seq`, every waiting private message and every waiting receipt.
@Suite("rabbitChat with a data directory", .serialized)
struct DurableChatTests {
    static func start(_ folder: TemporaryFolder) async throws -> (ServerProcess, Int) {
        let server = try ServerProcess([
            "--port", "0", "--secret-file", folder.path + "/secret", "--data-dir", folder.path + "/data",
            "--log-level", "warning",
        ])
        let port = try #require(await server.waitForPort(), "stderr: \(server.standardError)")
        #expect(await TestHTTP.waitForStatus(200, port: port, path: "/healthz"))
        return (server, port)
    }

    @Test("SIGKILLed right after confirmed traffic: claims, history (same seq), waiting private messages and receipts survive")
    func everythingConfirmedSurvivesSIGKILL() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (first, port) = try await Self.start(folder)
        #expect(first.standardOutput.contains("durable: data in \(folder.path)/data"))

        let alice = try TestChatClient(port: port)
        let aliceToken = try #require(try alice.join("alice")["token"] as? String)
        let bob = try TestChatClient(port: port)
        let bobToken = try #require(try bob.join("bob")["token"] as? String)

        try alice.send(["type": "say", "id": "s1", "room": "lobby", "text": "hello before the crash"])
        // `sent` and the room's copy of the message come in either order.
        var confirmed = false
        var said: [String: Any]?
        _ = try alice.waitFor { frame in
            if frame["type"] as? String == "sent" && frame["id"] as? String == "s1" { confirmed = true }
            if frame["type"] as? String == "message" && frame["text"] as? String == "hello before the crash" { said = frame }
            return confirmed && said != nil
        }
        #expect(confirmed)
        let seq = try #require(said?["seq"] as? Int)

        // t1: delivered and acked by bob, so alice's queue holds its receipt (she does not ack it).
        try alice.send(["type": "tell", "id": "t1", "to": "bob", "text": "first"])
        let sent1 = try #require(try alice.waitFor { $0["type"] as? String == "sent" && $0["id"] as? String == "t1" })
        let id1 = try #require(sent1["msgId"] as? String)
        #expect(try bob.waitFor { $0["type"] as? String == "message" && $0["msgId"] as? String == id1 } != nil)
        try bob.send(["type": "ack", "msgIds": [id1]])
        #expect(try alice.waitFor { $0["type"] as? String == "delivered" && $0["msgId"] as? String == id1 } != nil)
        // t2: confirmed into bob's queue, not acked.
        try alice.send(["type": "tell", "id": "t2", "to": "bob", "text": "second"])
        let sent2 = try #require(try alice.waitFor { $0["type"] as? String == "sent" && $0["id"] as? String == "t2" })
        let id2 = try #require(sent2["msgId"] as? String)

        first.signal(SIGKILL)
        #expect(await first.waitForExit(timeout: .seconds(10)) == SIGKILL)

        let (second, port2) = try await Self.start(folder)
        defer { second.signal(SIGKILL) }
        // The claim survived: a tokenless join of alice is refused.
        let stranger = try TestChatClient(port: port2)
        try stranger.send(["type": "join", "nick": "alice"])
        let refusal = try stranger.waitFor { ["welcome", "error"].contains($0["type"] as? String) }
        #expect(refusal?["type"] as? String == "error")
        #expect(refusal?["code"] as? String == "auth_failed", "got \(String(describing: refusal))")

        let alice2 = try TestChatClient(port: port2)
        try alice2.send(["type": "join", "nick": "alice", "token": aliceToken])
        let welcome = try #require(try alice2.waitFor { $0["type"] as? String == "welcome" })
        let history = (welcome["history"] as? [String: Any])?["lobby"] as? [[String: Any]] ?? []
        let kept = history.first { $0["text"] as? String == "hello before the crash" }
        #expect(kept?["seq"] as? Int == seq, "history after the restart: \(history)")
        #expect(
            try alice2.waitFor { $0["type"] as? String == "delivered" && $0["msgId"] as? String == id1 } != nil,
            "the receipt alice had not acked is there")

        let bob2 = try TestChatClient(port: port2)
        try bob2.send(["type": "join", "nick": "bob", "token": bobToken])
        #expect(try bob2.waitFor { $0["type"] as? String == "welcome" } != nil)
        // t2 waits for bob. t1's ack reaches the store with the group commit after it arrived,
        // which may be after t2's: a SIGKILL right after t2's `sent` may bring t1 again ("a crash
        // may redeliver, never lose"), and then before t2. Nothing else comes.
        var waiting: [[String: Any]] = []
        while waiting.count < 2, let next = try bob2.waitFor({ $0["type"] as? String == "message" && $0["msgId"] != nil }) {
            waiting.append(next)
            if next["msgId"] as? String == id2 { break }
        }
        let ids = waiting.compactMap { $0["msgId"] as? String }
        #expect(ids == [id2] || ids == [id1, id2], "bob's waiting messages: t2, after t1 only if its ack was not yet recorded: \(waiting)")
        #expect(waiting.last?["text"] as? String == "second")
        await second.stop()
    }

    @Test("`rabbitChat backup` copies a running server's data directory; a server on the copy has its claims and history")
    func backupOfARunningServerRestores() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (server, port) = try await Self.start(folder)
        let alice = try TestChatClient(port: port)
        try alice.join("alice")
        try alice.send(["type": "say", "id": "s1", "room": "lobby", "text": "kept in the backup"])
        #expect(try alice.waitFor { $0["type"] as? String == "sent" && $0["id"] as? String == "s1" } != nil)

        let backup = try ServerProcess(
            executable: BuiltProduct.rabbitChat,
            arguments: ["backup", "--data-dir", folder.path + "/data", folder.path + "/copy"])
        #expect(await backup.waitForExit(timeout: .seconds(30)) == 0, "backup: \(backup.output.combined)")
        #expect(backup.standardOutput.contains("copied"))
        await server.stop()

        let restored = try ServerProcess([
            "--port", "0", "--secret-file", folder.path + "/secret", "--data-dir", folder.path + "/copy",
            "--log-level", "warning",
        ])
        defer { restored.signal(SIGKILL) }
        let port2 = try #require(await restored.waitForPort(), "stderr: \(restored.standardError)")
        #expect(await TestHTTP.waitForStatus(200, port: port2, path: "/healthz"))
        let stranger = try TestChatClient(port: port2)
        try stranger.send(["type": "join", "nick": "alice"])
        let refusal = try stranger.waitFor { ["welcome", "error"].contains($0["type"] as? String) }
        #expect(refusal?["code"] as? String == "auth_failed", "the claim is in the copy: \(String(describing: refusal))")
        let bob = try TestChatClient(port: port2)
        let welcome = try bob.join("bob")
        let history = (welcome["history"] as? [String: Any])?["lobby"] as? [[String: Any]] ?? []
        #expect(history.contains { $0["text"] as? String == "kept in the backup" }, "history in the copy: \(history)")
        await restored.stop()
    }
}

import ServerTestSupport
import Testing

@testable import Chat

/// A nick's claim is its first record in the claims stream, and also its user queue: once the
/// stream has dropped old records, the queue is what keeps an old nick taken. A node that read
/// the stream from offset 0 has every record and skips that check.
@Suite("Claims when the claims stream lost its oldest records", .timeLimit(.minutes(5)))
struct ClaimRetentionTests {
    @Test func aNickWhoseClaimRecordAgedOutIsStillTakenOnANodeThatNeverReadTheRecord() async throws {
        // Three claim records fit in 2,000 bytes (each counted as its body and 400 bytes): thirty
        // later joins push alice's out.
        let cluster = try ChatCluster(.inMemory, simulatorStreamBytes: 2_000)
        do {
            let nodeA = try await cluster.start("a")
            cluster.uses("alice")
            let alice = cluster.client(on: "a")
            let token = try await alice.join("alice").token
            for index in 0..<30 {
                cluster.uses("filler\(index)")
                _ = try await cluster.client(on: "a").join("filler\(index)")
            }
            #expect(await nodeA.executor.claimsStreamComplete)

            let nodeB = try await cluster.start("b")
            try await eventually("node b to read the claims stream") { await nodeB.executor.claims["filler29"] != nil }
            #expect(await nodeB.executor.claims["alice"] == nil)
            #expect(await !nodeB.executor.claimsStreamComplete)
            let stranger = cluster.client(on: "b")
            stranger.send(.join(JoinRequest(nick: "alice")))
            #expect(try await stranger.error(.authFailed).message.contains("taken"))
            // Alice herself, with her token, still gets in on node b.
            let again = cluster.client(on: "b")
            #expect(try await again.join("alice", token: token).nick == "alice")
            await cluster.shutdown()
        } catch {
            await cluster.shutdown()
            throw error
        }
    }
}

import Foundation
import ServerTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The process launcher that the server, client, load and fault tests share: what it captures,
/// what it reports, how it stops a child.
@Suite struct ServerProcessTests {
    @Test func capturesStandardOutputAndErrorApartAndTheExitStatus() async throws {
        let process = try ServerProcess(executable: "/bin/sh", arguments: ["-c", "echo out; echo err >&2; exit 3"])
        let status = await process.waitForExit(timeout: .seconds(10))
        #expect(status == 3)
        #expect(process.exitReason == .exited(3))
        #expect(process.standardOutput == "out\n")
        #expect(process.standardError == "err\n")
        #expect(process.output.combined.contains("out\n") && process.output.combined.contains("err\n"))
        #expect(!process.isRunning)
    }

    @Test func appliesEnvironmentOverridesAndRemovals() async throws {
        setenv("SERVER_TEST_SUPPORT_INHERITED", "inherited", 1)
        setenv("SERVER_TEST_SUPPORT_REMOVED", "present", 1)
        let process = try ServerProcess(
            executable: "/bin/sh",
            arguments: ["-c", #"echo "$SERVER_TEST_SUPPORT_INHERITED,$SERVER_TEST_SUPPORT_SET,${SERVER_TEST_SUPPORT_REMOVED:-gone}""#],
            environment: ["SERVER_TEST_SUPPORT_SET": "set", "SERVER_TEST_SUPPORT_REMOVED": nil]
        )
        #expect(await process.waitForExit(timeout: .seconds(10)) == 0)
        #expect(process.standardOutput == "inherited,set,gone\n")
    }

    @Test func stopEndsAChildWithSIGTERM() async throws {
        let process = try ServerProcess(executable: "/bin/sleep", arguments: ["60"])
        #expect(process.isRunning)
        let status = await process.stop(grace: .seconds(10))
        #expect(status == SIGTERM)
        #expect(process.exitReason == .killed(signal: SIGTERM))
    }

    @Test func stopKillsAChildThatIgnoresSIGTERMAfterTheGrace() async throws {
        let process = try ServerProcess(executable: "/bin/sh", arguments: ["-c", "trap '' TERM; echo ready; exec sleep 60"])
        try await process.waitUntil(timeout: .seconds(10), "its first line") { process.standardOutput == "ready\n" }
        let status = await process.stop(grace: .milliseconds(300))
        #expect(status == SIGKILL)
        #expect(process.exitReason == .killed(signal: SIGKILL))
    }

    @Test func stopBlockingStopsTheChildToo() throws {
        let process = try ServerProcess(executable: "/bin/sleep", arguments: ["60"])
        #expect(process.stopBlocking() == SIGTERM)
        #expect(!process.isRunning)
    }

    @Test func waitForPortReadsTheBannerURL() async throws {
        let process = try ServerProcess(executable: "/bin/sh", arguments: ["-c", "echo 'Open http://127.0.0.1:45678/ in a browser'; exec sleep 60"])
        #expect(await process.waitForPort(timeout: .seconds(10)) == 45678)
        await process.stop()
    }

    @Test func waitUntilSaysHowTheChildEndedWhenItDiesBeforeBeingReady() async throws {
        let process = try ServerProcess(executable: "/bin/sh", arguments: ["-c", "echo 'cannot bind' >&2; exit 1"])
        do {
            try await process.waitUntil(timeout: .seconds(10), "ready") { false }
            Issue.record("waitUntil returned for a child that exited")
        } catch let error as ServerDidNotStart {
            #expect(error.reason.contains("exited with status 1"), "\(error)")
            #expect(error.reason.contains("cannot bind"), "\(error)")
        }
    }

    @Test func aMissingExecutableIsOneClearError() {
        #expect(throws: ServerDidNotStart.self) {
            try ServerProcess(executable: "/nonexistent/rabbitChat", arguments: [])
        }
    }

    @Test func outputOverTheLimitKeepsTheStartAndCountsTheRest() async throws {
        let process = try ServerProcess(executable: "/bin/sh", arguments: ["-c", "head -c 9000000 /dev/zero | tr '\\0' x; echo; echo end"])
        #expect(await process.waitForExit(timeout: .seconds(30)) == 0)
        #expect(process.output.droppedBytes > 0)
        #expect(process.standardOutput.utf8.count == process.output.limit)
        #expect(process.standardOutput.hasPrefix("xxx"))
    }
}

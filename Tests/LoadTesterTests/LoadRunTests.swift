import ChatClient
import NIOCore
import ServerTestSupport
import Testing

@testable import LoadTester

/// Whole runs against a real `rabbitChat` (in-process broker) over real sessions.
@Suite(.serialized) struct LoadRunTests {
    func scenario(url: String, clients: Int = 9) throws -> LoadScenario {
        LoadScenario(
            endpoints: [try SockJSEndpoint(url: url)],
            clients: clients,
            transports: try TransportMix(parsing: "all"),
            rooms: 2,
            rate: 2,
            privateRate: 1,
            duration: 2,
            ramp: 200,
            drain: 10,
            padding: 10,
            progressInterval: 60,
            threads: 2,
            serverPIDs: [],
            naming: LoadNaming(run: LoadNaming.randomRun())
        )
    }

    @Test func aCleanRunOnEveryTransportPasses() async throws {
        let server = try await LiveServer.start()
        defer { server.stopBlocking() }
        let report = try await LoadRun(scenario: try scenario(url: server.url("/chat")), log: { _ in }).run()
        #expect(report.verdict.violations.first == [])
        #expect(report.passed)
        #expect(report.verdict.confirmed == report.verdict.sent)
        #expect(report.verdict.sent > 0)
        #expect(report.verdict.deliveries == report.verdict.expectedDeliveries)
        #expect(report.verdict.receipts == report.verdict.privateConfirmed)
        #expect(report.latency.totalCount == UInt64(report.verdict.deliveries))
        #expect(report.servers.map(\.pid) == [server.pid])
    }

    @Test func aDeliveryLostOnTheWayFailsTheRunAndIsNamed() async throws {
        let server = try await LiveServer.start()
        defer { server.stopBlocking() }
        var scenario = try scenario(url: server.url("/chat"))
        // Client 4 (room 0, xhr-streaming) ignores the 3rd public message it gets.
        scenario.faults.ignorePublicDelivery = [4: 2]
        let report = try await LoadRun(scenario: scenario, log: { _ in }).run()
        #expect(!report.passed)
        #expect(report.verdict.violations.counts == [.loss: 1])
        let detail = report.verdict.violations.first.first?.detail ?? ""
        #expect(detail.hasPrefix("u4 never got u"), "\(detail)")
        #expect(detail.hasSuffix("(to room 0)"), "\(detail)")
        #expect(report.summary.contains("verdict     FAIL: 1 loss"))
        #expect(report.summary.contains("  - loss: u4 never got"))
    }

    @Test func clientsThatDropAndResumeGetEveryPublicMessageOnceInOrderWithNoGap() async throws {
        let server = try await LiveServer.start()
        defer { server.stopBlocking() }
        var scenario = try scenario(url: server.url("/chat"))
        scenario.rate = 4
        scenario.duration = 3
        // Every other client drops once, early enough to miss messages, and comes back soon.
        scenario.resumeDrops = ResumeDrops(share: 0.5, away: 0.5...1.0, moment: 0.1...0.3)
        let report = try await LoadRun(scenario: scenario, log: { _ in }).run()
        #expect(report.verdict.violations.first == [])
        #expect(report.passed)
        #expect(report.verdict.confirmed == report.verdict.sent)
        #expect(report.verdict.deliveries == report.verdict.expectedDeliveries)
        #expect(report.verdict.receipts == report.verdict.privateConfirmed)
        let resume = report.verdict.resume
        #expect(resume.drops == 4)
        #expect(resume.resumes == resume.drops)
        #expect(resume.recovered > 0)
        #expect(resume.gaps == 0)
        #expect(report.summary.contains("resume      4 drops, 4 resumes"))
        #expect(report.summary.contains("verdict     PASS: across 4 drops every public message"))
    }

    /// `--rejoin-away`: everyone leaves at once and comes back by device session on every
    /// transport; each rejoin reuses its device, and the run then delivers everything as usual.
    @Test func everyClientLeavesAndRejoinsByItsDeviceSessionThenTheRunPasses() async throws {
        let server = try await LiveServer.start()
        defer { server.stopBlocking() }
        var scenario = try scenario(url: server.url("/chat"))
        scenario.rejoinAway = 0.2
        let report = try await LoadRun(scenario: scenario, log: { _ in }).run()
        #expect(report.verdict.violations.first == [])
        #expect(report.passed)
        #expect(report.rejoin == RejoinFigures(rejoined: 9, failed: 0, bySession: 9, byToken: 0, newDevice: 0))
        #expect(report.rejoinLatency.totalCount == 9)
        #expect((report.rejoinSeconds ?? 0) > 0)
        #expect(report.verdict.deliveries == report.verdict.expectedDeliveries)
        #expect(report.summary.contains("rejoin      all 9 rejoined in"))
        #expect(report.summary.contains("(9 by session, 0 by HMAC token, 0 new devices)"))
        #expect(report.json.rejoin?.rejoined == 9)
        #expect(report.json.rejoinMs?.count == 9)
    }

    /// `--local-addresses`: clients spread over 127.0.0.1 to 127.0.0.N connect and pass.
    @Test func clientsSpreadOverThreeLoopbackAddressesPass() async throws {
        let server = try await LiveServer.start()
        defer { server.stopBlocking() }
        var scenario = try scenario(url: server.url("/chat"))
        scenario.localAddresses = 3
        #expect(scenario.endpoint(for: 0).localAddress == (try SocketAddress(ipAddress: "127.0.0.1", port: 0)))
        #expect(scenario.endpoint(for: 4).localAddress == (try SocketAddress(ipAddress: "127.0.0.2", port: 0)))
        #expect(scenario.endpoint(for: 8).localAddress == (try SocketAddress(ipAddress: "127.0.0.3", port: 0)))
        #expect(LoadScenario.localAddress(for: 8, of: 1) == nil)
        let report = try await LoadRun(scenario: scenario, log: { _ in }).run()
        #expect(report.verdict.violations.first == [])
        #expect(report.passed)
    }

    @Test func nothingListeningIsOneClearSentence() async throws {
        let port = try FreePort.next()
        let url = "http://127.0.0.1:\(port)/chat"
        await #expect(throws: LoadRun.Failure.self) {
            try await LoadRun(scenario: try scenario(url: url), log: { _ in }).run()
        }
        do {
            _ = try await LoadRun(scenario: try scenario(url: url), log: { _ in }).run()
        } catch {
            #expect(
                "\(error)"
                    == "Nothing is listening at \(url): start the server (scripts/run starts it on port 9191) or pass its address with --url."
            )
        }
    }
}

extension LoadRunTests {
    @Test func somethingOtherThanAChatAtTheURLIsOneClearSentence() async throws {
        let server = try await LiveServer.start()
        defer { server.stopBlocking() }
        let url = "http://127.0.0.1:\(server.port)/nochat"
        do {
            _ = try await LoadRun(scenario: try scenario(url: url), log: { _ in }).run()
            Issue.record("the run started against \(url)")
        } catch {
            #expect(
                "\(error)"
                    == "The server at \(url) answered 404 to /nochat/info: check that the URL ends with the chat's SockJS prefix (/chat)."
            )
        }
    }
}

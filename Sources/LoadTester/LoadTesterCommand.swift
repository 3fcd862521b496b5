import ArgumentParser
import ChatClient
import Foundation
import NIOCore

/// `LoadTester`: simulated SockJS chat users against a running rabbitChat, verifying delivery,
/// isolation and order under load, and reporting throughput and latency.
@main
struct LoadTesterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "LoadTester",
        abstract: "Load-test a running rabbitChat and verify every delivery.",
        discussion: """
            Connects --clients simulated users (mostly websocket, some xhr-streaming and xhr-polling), \
            joins them to --rooms rooms, has each send public messages at --rate and private ones at \
            --private-rate for --duration seconds, acks what they receive, then checks that every \
            public message reached every member of its room exactly once and no one else, every private \
            message its addressee only, in the order each sender sent them, with `sent` and `delivered` \
            receipts. Exits 0 when all held, 1 on any violation (the first few are spelled out), 2 when \
            the run could not start (nothing listening, clients that could not join, bad options).
            """
    )

    @Option(name: .customLong("url"), help: "A chat node's SockJS URL; repeat for several nodes (clients go round-robin).")
    var urls: [String] = []

    @Option(help: "Number of simulated users.")
    var clients = 100

    @Option(help: "Transport mix: weights like websocket=8,xhr-streaming=1,xhr-polling=1, names (equal shares) or 'all'.")
    var transports = TransportMix.standard.description

    @Option(help: "Number of rooms; users are spread over them round-robin.")
    var rooms = 1

    @Option(help: "Public messages per second per user (0 for none).")
    var rate = 1.0

    @Option(name: .customLong("private-rate"), help: "Private messages per second per user, each to a random other user (0 for none).")
    var privateRate = 0.0

    @Option(help: "Seconds of sending.")
    var duration = 10.0

    @Option(help: "New connections per second while connecting.")
    var ramp = 200.0

    @Option(help: "Seconds to wait after sending for messages and receipts still on their way.")
    var drain = 10.0

    @Option(help: "Extra characters in each message text (the text carries ids and a timestamp, about 30 characters).")
    var padding = 0

    @Option(name: .customLong("report"), help: "Write the summary as JSON to this file.")
    var reportPath: String?

    @Option(name: .customLong("server-pid"), help: "A server process to report memory for (repeatable); by default found by the port of a local --url.")
    var serverPIDs: [Int32] = []

    @Option(help: "Seconds between progress lines.")
    var progress = 1.0

    @Option(help: "Event loop threads for the clients (default: one per core).")
    var threads = System.coreCount

    @Flag(
        help:
            "Tolerate faults (broker or node restarts): clients reconnect, rejoin, resend unconfirmed messages with the same id and catch up from history; duplicates and reordering are counted, and only a lost `sent` message, a leak or presence that never converges fails the run."
    )
    var faults = false

    @Option(name: .customLong("presence-timeout"), help: "With --faults: seconds to wait at the end for every client to see every client online.")
    var presenceTimeout = 30.0

    @Option(
        name: .customLong("resume-drops"),
        help: ArgumentHelp(
            "Share of clients (0 to 1) that drop their connection once while sending, for 1-5 s, then rejoin (on the next --url) naming their room's last seq.",
            discussion:
                "Missed public messages must come back through the resume and `history after` pages: a public message twice, one missing, out of order, or a `gap` is a violation. Private messages are at least once (the inbox redelivers what was not acked; duplicates are dropped by msgId and counted).",
            valueName: "share"))
    var resumeDrops = 0.0

    @Option(
        name: .customLong("rejoin-away"),
        help: ArgumentHelp(
            "After every client joined, all close their sessions at once, stay away this many seconds, and rejoin at --ramp by their device session token.",
            discussion:
                "Reports connect→welcome of the rejoins beside the first joins (a rejoin by session needs no password check and makes no new device); then the run sends and verifies as usual. Against a server without device sessions the clients rejoin by the HMAC token.",
            valueName: "seconds"))
    var rejoinAway: Double?

    @Option(
        name: .customLong("local-addresses"),
        help: ArgumentHelp(
            "Connect from 127.0.0.1 to 127.0.0.N in turn (a loopback --url only).",
            discussion:
                "One source address has about 28,000 ephemeral ports toward one server port: 50,000 clients need 2 or more. Raise the open-file limit too (ulimit -n) for the LoadTester and the server.",
            valueName: "N"))
    var localAddresses = 1

    @Option(help: "A tag for nicks and rooms of this run (letters and digits; random by default).")
    var run: String?

    func validate() throws {
        guard clients >= 1 else { throw ValidationError("--clients must be at least 1.") }
        guard rooms >= 1, rooms <= clients else { throw ValidationError("--rooms must be between 1 and --clients.") }
        guard rate >= 0, privateRate >= 0 else { throw ValidationError("--rate and --private-rate must be 0 or more.") }
        guard rate <= 1000, privateRate <= 1000 else { throw ValidationError("--rate and --private-rate are per user per second: at most 1000.") }
        guard privateRate == 0 || clients >= 2 else { throw ValidationError("--private-rate needs at least 2 clients.") }
        guard duration >= 0, drain >= 0 else { throw ValidationError("--duration and --drain must be 0 or more seconds.") }
        guard ramp > 0 else { throw ValidationError("--ramp must be more than 0 connections per second.") }
        guard progress > 0 else { throw ValidationError("--progress must be more than 0 seconds.") }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be between 1 and 256.") }
        guard (0...3900).contains(padding) else { throw ValidationError("--padding must be between 0 and 3900 characters.") }
        guard (0...1).contains(resumeDrops) else { throw ValidationError("--resume-drops is a share of the clients: between 0 and 1.") }
        guard (1...254).contains(localAddresses) else { throw ValidationError("--local-addresses must be between 1 and 254.") }
        if localAddresses > 1 {
            for url in urls.isEmpty ? [Self.defaultURL] : urls {
                guard let endpoint = try? SockJSEndpoint(url: url), endpoint.host == "127.0.0.1" else {
                    throw ValidationError("--local-addresses spreads clients over 127.0.0.x: every --url must be on 127.0.0.1.")
                }
            }
        }
        if let rejoinAway {
            guard (0...600).contains(rejoinAway) else { throw ValidationError("--rejoin-away is seconds away: between 0 and 600.") }
        }
        guard !(faults && resumeDrops > 0) else {
            throw ValidationError("--faults and --resume-drops check different promises: use one of them.")
        }
        if let run {
            guard (1...16).contains(run.count), run.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
                throw ValidationError("--run must be 1 to 16 letters or digits.")
            }
        }
        do {
            _ = try TransportMix(parsing: transports)
        } catch {
            throw ValidationError(error.description)
        }
        for url in urls.isEmpty ? [Self.defaultURL] : urls {
            do {
                _ = try SockJSEndpoint(url: url)
            } catch {
                throw ValidationError(error.description)
            }
        }
    }

    static let defaultURL = "http://127.0.0.1:9191/chat"

    func run() async throws {
        let endpoints = try (urls.isEmpty ? [Self.defaultURL] : urls).map { try SockJSEndpoint(url: $0) }
        let scenario = LoadScenario(
            endpoints: endpoints,
            clients: clients,
            transports: try TransportMix(parsing: transports),
            rooms: rooms,
            rate: rate,
            privateRate: privateRate,
            duration: duration,
            ramp: ramp,
            drain: drain,
            padding: padding,
            progressInterval: progress,
            threads: threads,
            serverPIDs: serverPIDs,
            naming: LoadNaming(run: run ?? LoadNaming.randomRun()),
            faultTolerant: faults,
            presenceTimeout: presenceTimeout,
            resumeDrops: resumeDrops > 0 ? ResumeDrops(share: resumeDrops) : nil,
            rejoinAway: rejoinAway,
            localAddresses: localAddresses
        )
        FileDescriptorLimit.raise(toAtLeast: clients * 2 + 256)
        let report: LoadReport
        do {
            report = try await LoadRun(scenario: scenario, log: FileHandleOutput.standardOutput).run()
        } catch let failure as LoadRun.Failure {
            FileHandleOutput.standardError("LoadTester: \(failure.description)")
            throw ExitCode(2)
        }
        FileHandleOutput.standardOutput(report.summary)
        if let reportPath {
            do {
                try report.writeJSON(to: reportPath)
            } catch {
                FileHandleOutput.standardError(
                    "LoadTester: could not write the report to \(reportPath): \(error.localizedDescription); check that its folder exists and is writable.")
                throw ExitCode(2)
            }
        }
        if !report.passed { throw ExitCode(1) }
    }
}

/// Unbuffered output, so progress lines show at once even through a pipe.
enum FileHandleOutput {
    @Sendable static func standardOutput(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func standardError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

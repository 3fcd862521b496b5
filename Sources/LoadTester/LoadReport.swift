import Foundation
import Histogram

/// The outcome of a load run: the figures, the verdict, and how to print both (a text summary
/// for people, JSON for `--report FILE` and the bench script).
struct LoadReport: Sendable {
    struct ServerMemory: Sendable, Codable, Equatable {
        var pid: Int32
        var before: Int?
        var joined: Int?
        var end: Int?
    }

    let scenario: LoadScenario
    let connectSeconds: Double
    let connectLatency: Histogram<UInt64>
    /// `--rejoin-away` runs only: from the first rejoin to the last welcome, connect→welcome
    /// of the rejoins, and what they were.
    var rejoinSeconds: Double? = nil
    var rejoinLatency = LoopStatistics.makeHistogram()
    var rejoin: RejoinFigures? = nil
    let sendSeconds: Double
    let deliveryWindowSeconds: Double
    let latency: Histogram<UInt64>
    let verdict: DeliveryVerifier.Result
    let servers: [ServerMemory]

    var passed: Bool { verdict.passed }

    var messagesPerSecond: Double { sendSeconds > 0 ? Double(verdict.confirmed) / sendSeconds : 0 }
    var deliveriesPerSecond: Double { deliveryWindowSeconds > 0 ? Double(verdict.deliveries) / deliveryWindowSeconds : 0 }

    /// Server memory per connected session: RSS growth from before connecting to all joined,
    /// over the clients (summed over the servers watched).
    var bytesPerSession: Int? {
        guard !servers.isEmpty, scenario.clients > 0 else { return nil }
        var growth = 0
        for server in servers {
            guard let before = server.before, let joined = server.joined else { return nil }
            growth += joined - before
        }
        return growth / scenario.clients
    }

    // MARK: Text

    var summary: String {
        var lines: [String] = []
        let mix = (0..<scenario.clients).reduce(into: [String: Int]()) { counts, index in
            counts[scenario.transports.transport(for: index).rawValue, default: 0] += 1
        }
        let mixText = mix.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        lines.append("== LoadTester summary (run \(scenario.naming.run))")
        lines.append(
            "clients     \(scenario.clients) (\(mixText)) over \(scenario.endpoints.count) node(s): \(scenario.endpoints.map(\.description).joined(separator: " "))"
        )
        lines.append(
            "plan        \(scenario.rooms) room(s); per client \(scenario.rate) public/s + \(scenario.privateRate) private/s for \(Self.oneDecimal(scenario.duration)) s"
        )
        lines.append(
            "connect     all joined in \(Self.oneDecimal(connectSeconds)) s (ramp \(Int(scenario.ramp))/s); connect→welcome p50 \(Self.milliseconds(connectLatency.valueAtPercentile(50))) p99 \(Self.milliseconds(connectLatency.valueAtPercentile(99))) max \(Self.milliseconds(connectLatency.max))"
        )
        if let rejoinSeconds, let rejoin {
            let rate = rejoinSeconds > 0 ? Int((Double(rejoin.rejoined) / rejoinSeconds).rounded()) : 0
            lines.append(
                "rejoin      all \(rejoin.rejoined) rejoined in \(Self.oneDecimal(rejoinSeconds)) s = \(rate)/s (\(rejoin.bySession) by session, \(rejoin.byToken) by HMAC token, \(rejoin.newDevice) new devices); connect→welcome p50 \(Self.milliseconds(rejoinLatency.valueAtPercentile(50))) p99 \(Self.milliseconds(rejoinLatency.valueAtPercentile(99))) max \(Self.milliseconds(rejoinLatency.max))"
            )
        }
        lines.append(
            "messages    \(verdict.sent) sent, \(verdict.confirmed) confirmed, \(verdict.refused) refused = \(Int(messagesPerSecond.rounded())) msgs/s"
        )
        lines.append(
            "deliveries  \(verdict.deliveries) of \(verdict.expectedDeliveries) expected = \(Int(deliveriesPerSecond.rounded())) deliveries/s; receipts \(verdict.receipts) of \(verdict.privateConfirmed)"
        )
        if latency.totalCount > 0 {
            lines.append(
                "latency     send→delivery p50 \(Self.milliseconds(latency.valueAtPercentile(50))) p90 \(Self.milliseconds(latency.valueAtPercentile(90))) p99 \(Self.milliseconds(latency.valueAtPercentile(99))) p99.9 \(Self.milliseconds(latency.valueAtPercentile(99.9))) max \(Self.milliseconds(latency.max))"
            )
        }
        if scenario.faultTolerant {
            lines.append(verdict.tolerated.summary + "; \(verdict.unconfirmedTolerated) never confirmed")
        }
        if scenario.resumeDrops != nil {
            lines.append(verdict.resume.summary(privateDuplicates: verdict.tolerated.duplicatesDropped))
        }
        for server in servers {
            var text =
                "server RSS  pid \(server.pid): \(Self.mebibytes(server.before)) before, \(Self.mebibytes(server.joined)) all joined, \(Self.mebibytes(server.end)) after sending"
            if servers.count == 1, let perSession = bytesPerSession {
                text += " (\(Self.oneDecimal(Double(perSession) / 1024)) KiB per session)"
            }
            lines.append(text)
        }
        if verdict.passed {
            if scenario.faultTolerant {
                lines.append("verdict     PASS: every sent message reached every recipient (duplicates dropped by msgId), and no one else")
            } else if scenario.resumeDrops != nil {
                lines.append(
                    "verdict     PASS: across \(verdict.resume.drops) drops every public message reached every member of its room exactly once, in order, "
                        + "with no gap; every private one its addressee (redelivered duplicates dropped by msgId); and no one else")
            } else {
                lines.append("verdict     PASS: every message reached every recipient exactly once, in order, and no one else")
            }
        } else {
            let counts = Violation.Kind.allCases.compactMap { kind -> String? in
                let count = verdict.violations.count(kind)
                return count > 0 ? "\(count) \(kind.rawValue)" : nil
            }
            lines.append("verdict     FAIL: \(counts.joined(separator: ", "))")
            for violation in verdict.violations.first.prefix(10) { lines.append("  - \(violation)") }
        }
        return lines.joined(separator: "\n")
    }

    static func milliseconds(_ micros: UInt64) -> String {
        let ms = Double(micros) / 1000
        if ms < 10 { return "\((ms * 100).rounded() / 100) ms" }
        if ms < 1000 { return "\(Int(ms.rounded())) ms" }
        return "\((ms / 100).rounded() / 10) s"
    }

    static func mebibytes(_ bytes: Int?) -> String {
        guard let bytes else { return "?" }
        return "\(oneDecimal(Double(bytes) / 1_048_576)) MiB"
    }

    static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }

    // MARK: JSON

    struct JSON: Codable, Equatable {
        struct Percentiles: Codable, Equatable {
            var p50: Double
            var p90: Double
            var p99: Double
            var p999: Double
            var max: Double
            var count: UInt64
        }

        var run: String
        var passed: Bool
        var urls: [String]
        var clients: Int
        var transports: String
        var rooms: Int
        var rate: Double
        var privateRate: Double
        var durationSeconds: Double
        var connectSeconds: Double
        var connectMs: Percentiles
        var sent: Int
        var confirmed: Int
        var refused: Int
        var expectedDeliveries: Int
        var deliveries: Int
        var privateConfirmed: Int
        var receipts: Int
        var messagesPerSecond: Double
        var deliveriesPerSecond: Double
        var latencyMs: Percentiles
        var servers: [ServerMemory]
        var serverBytesPerSession: Int?
        var violationCounts: [String: Int]
        var violations: [Violation]
        /// `--faults` runs only: what was tolerated, and messages never confirmed.
        var faults: ToleratedFaults?
        var unconfirmed: Int?
        /// `--resume-drops` runs only: drops, resumes and what came back through them.
        var resume: ResumeFigures?
        var privateDuplicatesDropped: Int?
        /// `--rejoin-away` runs only: the rejoins by device session after everyone left.
        var rejoinSeconds: Double?
        var rejoinMs: Percentiles?
        var rejoin: RejoinFigures?
    }

    static func percentiles(_ histogram: Histogram<UInt64>) -> JSON.Percentiles {
        func ms(_ micros: UInt64) -> Double { Double(micros) / 1000 }
        guard histogram.totalCount > 0 else { return .init(p50: 0, p90: 0, p99: 0, p999: 0, max: 0, count: 0) }
        return .init(
            p50: ms(histogram.valueAtPercentile(50)),
            p90: ms(histogram.valueAtPercentile(90)),
            p99: ms(histogram.valueAtPercentile(99)),
            p999: ms(histogram.valueAtPercentile(99.9)),
            max: ms(histogram.max),
            count: histogram.totalCount
        )
    }

    var json: JSON {
        JSON(
            run: scenario.naming.run,
            passed: passed,
            urls: scenario.endpoints.map(\.description),
            clients: scenario.clients,
            transports: scenario.transports.description,
            rooms: scenario.rooms,
            rate: scenario.rate,
            privateRate: scenario.privateRate,
            durationSeconds: scenario.duration,
            connectSeconds: connectSeconds,
            connectMs: Self.percentiles(connectLatency),
            sent: verdict.sent,
            confirmed: verdict.confirmed,
            refused: verdict.refused,
            expectedDeliveries: verdict.expectedDeliveries,
            deliveries: verdict.deliveries,
            privateConfirmed: verdict.privateConfirmed,
            receipts: verdict.receipts,
            messagesPerSecond: messagesPerSecond,
            deliveriesPerSecond: deliveriesPerSecond,
            latencyMs: Self.percentiles(latency),
            servers: servers,
            serverBytesPerSession: bytesPerSession,
            violationCounts: Dictionary(uniqueKeysWithValues: verdict.violations.counts.map { ($0.key.rawValue, $0.value) }),
            violations: verdict.violations.first,
            faults: scenario.faultTolerant ? verdict.tolerated : nil,
            unconfirmed: scenario.faultTolerant ? verdict.unconfirmedTolerated : nil,
            resume: scenario.resumeDrops != nil ? verdict.resume : nil,
            privateDuplicatesDropped: scenario.resumeDrops != nil ? verdict.tolerated.duplicatesDropped : nil,
            rejoinSeconds: rejoinSeconds,
            rejoinMs: rejoin != nil ? Self.percentiles(rejoinLatency) : nil,
            rejoin: rejoin
        )
    }

    func writeJSON(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(json).write(to: URL(fileURLWithPath: path))
    }
}

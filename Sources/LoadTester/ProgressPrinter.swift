import Histogram
import NIOCore

/// Prints one progress line: connected, sent, delivered, and the lag (send→delivery latency)
/// of the last interval.
final class ProgressPrinter: Sendable {
    let scenario: LoadScenario
    let counters: ProgressCounters
    let statistics: [NIOLoopBoundBox<LoopStatistics>]
    let log: @Sendable (String) -> Void
    let start = ContinuousClock.now

    init(
        scenario: LoadScenario,
        counters: ProgressCounters,
        statistics: [NIOLoopBoundBox<LoopStatistics>],
        log: @escaping @Sendable (String) -> Void
    ) {
        self.scenario = scenario
        self.counters = counters
        self.statistics = statistics
        self.log = log
    }

    func print(phase: String) async {
        var interval = LoopStatistics.makeHistogram()
        for box in statistics {
            if let taken = try? await box.eventLoop.submit({ box.value.takeInterval() }).get() {
                interval.add(taken)
            }
        }
        let elapsed = (ContinuousClock.now - start).seconds
        let c = counters
        var line = "[\(pad(LoadReport.oneDecimal(elapsed), 6))s] \(phase): connected \(c.load(.connected))/\(scenario.clients)"
        line += " joined \(c.load(.joined))"
        if c.load(.failedToJoin) > 0 { line += " failed \(c.load(.failedToJoin))" }
        line += " | sent \(c.load(.sent)) confirmed \(c.load(.confirmed))"
        if c.load(.refused) > 0 { line += " refused \(c.load(.refused))" }
        line += " | delivered \(c.load(.delivered))/\(c.load(.expectedDeliveries))"
        if c.load(.expectedReceipts) > 0 { line += " receipts \(c.load(.receipts))/\(c.load(.expectedReceipts))" }
        if interval.totalCount > 0 {
            line += " | lag p99 \(LoadReport.milliseconds(interval.valueAtPercentile(99))) max \(LoadReport.milliseconds(interval.max))"
        }
        if c.load(.disconnected) > 0 { line += " | disconnected \(c.load(.disconnected))" }
        log(line)
    }

    private func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

import Histogram

/// Latency figures of the clients on one event loop, touched only on that loop (no lock):
/// send→delivery for the whole run and for the current progress interval, connect→welcome, and
/// connect→welcome of the rejoins.
/// Values are microseconds.
final class LoopStatistics {
    var latency = LoopStatistics.makeHistogram()
    var interval = LoopStatistics.makeHistogram()
    var connect = LoopStatistics.makeHistogram()
    /// `--rejoin-away`: connect→welcome of the rejoins by device session.
    var rejoin = LoopStatistics.makeHistogram()

    static func makeHistogram() -> Histogram<UInt64> {
        // 1 µs to 1 hour, 3 significant digits; larger values are clamped to the top.
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    }

    func recordLatency(nanoseconds: UInt64) {
        let micros = Swift.min(Swift.max(nanoseconds / 1000, 1), 3_600_000_000)
        _ = latency.record(micros)
        _ = interval.record(micros)
    }

    func recordConnect(nanoseconds: UInt64) {
        _ = connect.record(Swift.min(Swift.max(nanoseconds / 1000, 1), 3_600_000_000))
    }

    func recordRejoin(nanoseconds: UInt64) {
        _ = rejoin.record(Swift.min(Swift.max(nanoseconds / 1000, 1), 3_600_000_000))
    }

    /// The interval histogram so far, and a fresh one for the next interval.
    func takeInterval() -> Histogram<UInt64> {
        let taken = interval
        interval.reset()
        return taken
    }
}

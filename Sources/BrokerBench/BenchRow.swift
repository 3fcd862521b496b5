#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One measurement: messages per second, and the benchmark process's CPU time (user +
/// system) per message. On a busy machine the rate mostly shows the broker and the
/// scheduler; the CPU time shows what the client itself costs.
struct Figure {
    var rate: Double
    var cpuMicroseconds: Double
}

/// One backend's figures; nil where not measured.
struct BenchRow {
    var label: String
    var figures: [Figure?] = Array(repeating: nil, count: BenchRow.columns.count)

    static let columns = [
        "publish, await each", "publish, batched", "consume+ack", "consume+ack, multiple", "consume batches+ack multiple",
        "publish→deliver→ack", "batch publish→batch deliver→ack multiple",
    ]

    /// The measurements, in table order; the raw values name them on the command line.
    enum Column: String, CaseIterable, Hashable {
        case publishEach = "publish-each"
        case publishBatch = "publish-batch"
        case consumeAck = "consume-ack"
        case
            consumeMultipleAck = "consume-multiple"
        case consumeBatchAck = "consume-batches"
        case roundTrip = "round-trip"
        case
            roundTripBatch = "round-trip-batch"

        var index: Int { Self.allCases.firstIndex(of: self)! }
    }

    subscript(column: Column) -> Figure? {
        get { figures[column.index] }
        set { figures[column.index] = newValue }
    }

    /// Each column's median rate and median CPU time over several runs of one backend.
    static func median(_ rows: [BenchRow]) -> BenchRow {
        var result = BenchRow(label: rows.first?.label ?? "")
        for index in columns.indices {
            let figures = rows.compactMap { $0.figures[index] }
            guard !figures.isEmpty else { continue }
            let rates = figures.map(\.rate).sorted()
            let cpu = figures.map(\.cpuMicroseconds).sorted()
            result.figures[index] = Figure(rate: rates[rates.count / 2], cpuMicroseconds: cpu[cpu.count / 2])
        }
        return result
    }

    /// Two Markdown tables, rates and client CPU per message; rows other than a raw
    /// baseline also show their share of its rate.
    static func table(_ rows: [BenchRow], size: Int, window: Int) -> String {
        let baseline = rows.first { $0.label.hasPrefix("raw") }
        var lines = ["| messages/s (\(size)-byte persistent, window \(window)) | " + columns.joined(separator: " | ") + " |"]
        lines.append("|---|" + String(repeating: "---:|", count: columns.count))
        for row in rows {
            var cells = [row.label]
            for (index, figure) in row.figures.enumerated() {
                guard let figure else {
                    cells.append("–")
                    continue
                }
                var cell = format(figure.rate)
                if let baseline, baseline.label != row.label, !row.label.hasPrefix("InMemory"),
                    let reference = baseline.figures[index]?.rate, reference > 0
                {
                    cell += " (\(Int((figure.rate / reference * 100).rounded())) % of raw)"
                }
                cells.append(cell)
            }
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        lines.append("")
        lines.append("| client CPU µs per message | " + columns.joined(separator: " | ") + " |")
        lines.append("|---|" + String(repeating: "---:|", count: columns.count))
        for row in rows {
            let cells = row.figures.map { figure in figure.map { "\(Double(Int($0.cpuMicroseconds * 10)) / 10)" } ?? "–" }
            lines.append("| " + ([row.label] + cells).joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    static func format(_ rate: Double) -> String {
        if rate >= 1_000_000 { return "\(Double(Int(rate / 10_000)) / 100) M/s" }
        if rate >= 1_000 { return "\(Double(Int(rate / 100)) / 10) k/s" }
        return "\(Int(rate)) /s"
    }
}

/// The process's CPU time so far (user + system), in microseconds.
func processCPUMicroseconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func micros(_ time: timeval) -> Double { Double(time.tv_sec) * 1e6 + Double(time.tv_usec) }
    return micros(usage.ru_utime) + micros(usage.ru_stime)
}

/// Runs `body` for `count` messages and returns its rate and CPU cost.
func measure(_ count: Int, _ body: () async throws -> Void) async rethrows -> Figure {
    let clock = ContinuousClock()
    let cpuBefore = processCPUMicroseconds()
    let elapsed = try await clock.measure(body)
    let cpu = processCPUMicroseconds() - cpuBefore
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Figure(rate: Double(count) / max(seconds, 1e-9), cpuMicroseconds: cpu / Double(max(count, 1)))
}

/// The same for synchronous code (the raw baseline).
func measureSync(_ count: Int, _ body: () throws -> Void) throws -> Figure {
    let clock = ContinuousClock()
    let cpuBefore = processCPUMicroseconds()
    var failure: (any Error)?
    let elapsed = clock.measure {
        do { try body() } catch { failure = error }
    }
    if let failure { throw failure }
    let cpu = processCPUMicroseconds() - cpuBefore
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Figure(rate: Double(count) / max(seconds, 1e-9), cpuMicroseconds: cpu / Double(max(count, 1)))
}

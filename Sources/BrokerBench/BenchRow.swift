/// One backend's figures, in messages per second; nil where not measured.
struct BenchRow {
    var label: String
    var publishEach: Double?
    var publishBatch: Double?
    var consumeAck: Double?
    var consumeMultipleAck: Double?
    var roundTrip: Double?

    /// Each column's median over several runs of one backend.
    static func median(_ rows: [BenchRow]) -> BenchRow {
        func mid(_ column: KeyPath<BenchRow, Double?>) -> Double? {
            let values = rows.compactMap { $0[keyPath: column] }.sorted()
            return values.isEmpty ? nil : values[values.count / 2]
        }
        return BenchRow(label: rows.first?.label ?? "", publishEach: mid(\.publishEach), publishBatch: mid(\.publishBatch),
                        consumeAck: mid(\.consumeAck), consumeMultipleAck: mid(\.consumeMultipleAck), roundTrip: mid(\.roundTrip))
    }

    static let columns = ["publish, await each", "publish, batched", "consume+ack", "consume+ack, multiple", "publish→deliver→ack"]

    var values: [Double?] { [publishEach, publishBatch, consumeAck, consumeMultipleAck, roundTrip] }

    /// A Markdown table; rows after a raw baseline also show their share of it.
    static func table(_ rows: [BenchRow], size: Int, window: Int) -> String {
        let baseline = rows.first { $0.label.hasPrefix("raw") }
        var lines = ["| backend (\(size)-byte persistent messages, window \(window)) | " + columns.joined(separator: " | ") + " |"]
        lines.append("|---|" + String(repeating: "---:|", count: columns.count))
        for row in rows {
            var cells = [row.label]
            for (index, value) in row.values.enumerated() {
                guard let value else {
                    cells.append("–")
                    continue
                }
                var cell = format(value)
                if let baseline, baseline.label != row.label, !row.label.hasPrefix("InMemory"), let reference = baseline.values[index], reference > 0 {
                    cell += " (\(Int((value / reference * 100).rounded())) % of raw)"
                }
                cells.append(cell)
            }
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }

    static func format(_ rate: Double) -> String {
        if rate >= 1_000_000 { return "\(Double(Int(rate / 10_000)) / 100) M/s" }
        if rate >= 1_000 { return "\(Double(Int(rate / 100)) / 10) k/s" }
        return "\(Int(rate)) /s"
    }
}

/// Runs `body` and returns messages per second for `count` messages.
func rate(_ count: Int, _ body: () async throws -> Void) async rethrows -> Double {
    let clock = ContinuousClock()
    let elapsed = try await clock.measure(body)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Double(count) / max(seconds, 1e-9)
}

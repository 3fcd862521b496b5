/// Violations counted by kind, with the first few spelled out (the rest only counted, so a
/// server that loses everything does not fill the memory with sentences).
struct ViolationLog: Sendable, Equatable {
    static let keptDetails = 25

    private(set) var counts: [Violation.Kind: Int] = [:]
    private(set) var first: [Violation] = []

    var total: Int { counts.values.reduce(0, +) }
    var isEmpty: Bool { counts.isEmpty }

    mutating func record(_ kind: Violation.Kind, _ detail: @autoclosure () -> String) {
        counts[kind, default: 0] += 1
        if first.count < Self.keptDetails {
            first.append(Violation(kind: kind, detail: detail()))
        }
    }

    mutating func merge(_ other: ViolationLog) {
        for (kind, count) in other.counts { counts[kind, default: 0] += count }
        for violation in other.first where first.count < Self.keptDetails { first.append(violation) }
    }

    func count(_ kind: Violation.Kind) -> Int { counts[kind] ?? 0 }
}

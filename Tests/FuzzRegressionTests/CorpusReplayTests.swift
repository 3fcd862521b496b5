import FoundationEssentials
import FuzzChecks
import Testing

/// Every committed seed of `Fuzz/corpus/` passes its fuzzer's checks, so the seeds the fuzzers
/// start from are known-good and a check that breaks on them is caught without libFuzzer.
@Suite("Committed fuzz corpus")
struct CorpusReplayTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus")

    @Test(arguments: FuzzTarget.allCases)
    func everySeedPassesItsChecks(_ target: FuzzTarget) throws {
        let folder = Self.corpus.appendingPathComponent(target.rawValue).path
        let files = FuzzTarget.files(under: [folder])
        #expect(files.count >= 5, "Fuzz/corpus/\(target.rawValue) should hold seeds")
        for file in files {
            let data = try #require(FileManager.default.contents(atPath: file))
            let violations = target.check(Array(data))
            #expect(violations.isEmpty, "\(file): \(violations.joined(separator: "; "))")
        }
    }
}

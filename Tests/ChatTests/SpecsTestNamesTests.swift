import Foundation
import FoundationEssentials
import Testing

/// Specs name the test that proves each guarantee (`Suite.testName`, or `.testName` after a
/// suite named earlier in the same cell). A renamed or deleted test would leave its guarantee
/// unproven without anyone noticing: every such name must exist in `Tests/`.
@Suite("Test names cited in Specs")
struct SpecsTestNamesTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func files(under folder: String, suffix: String) -> [URL] {
        let base = root.appendingPathComponent(folder)
        guard let walker = FileManager.default.enumerator(atPath: base.path) else { return [] }
        var found: [URL] = []
        while let path = walker.nextObject() as? String {
            if path.hasSuffix(suffix) { found.append(base.appendingPathComponent(path)) }
        }
        return found.sorted { $0.path < $1.path }
    }

    /// Every function, type and test target name declared under `Tests/`.
    static func declaredNames() throws -> Set<String> {
        var names = Set<String>()
        let declaration = /(?:func|struct|class|enum|actor|extension)\s+([A-Za-z_][A-Za-z0-9_]*)/
        for file in files(under: "Tests", suffix: ".swift") {
            let text = try String(contentsOf: file, encoding: .utf8)
            for match in text.matches(of: declaration) { names.insert(String(match.1)) }
        }
        let targets = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Tests").path)) ?? []
        names.formUnion(targets)
        return names
    }

    /// `Suite.name.name` references in backticks whose first part names a test suite or target
    /// (a file name's `.swift` left out), and `.name` right after one on the same line (the
    /// same suite, another test of it).
    static func citedNames(in text: String) -> [(cited: String, parts: [String])] {
        let token = /`([A-Za-z_.][A-Za-z0-9_.]*)`/
        var cited: [(cited: String, parts: [String])] = []
        for line in text.split(separator: "\n") {
            var suite: [String]?
            for match in line.matches(of: token) {
                var parts = match.1.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                if parts.last == "swift" { parts.removeLast() }
                if parts.first == "", parts.count == 2, let suite {
                    cited.append((String(match.0), suite + [parts[1]]))
                } else if let first = parts.first, first.hasSuffix("Tests"), first.first?.isUppercase == true, !parts.contains("") {
                    cited.append((String(match.0), parts))
                    suite = Array(parts.dropLast(parts.count > 1 ? 1 : 0))
                } else {
                    suite = nil
                }
            }
        }
        return cited
    }

    @Test func everyTestNamedInSpecsExists() throws {
        let declared = try Self.declaredNames()
        #expect(declared.contains("everyTestNamedInSpecsExists"))
        var missing: [String] = []
        var checked = 0
        for file in Self.files(under: "Specs", suffix: ".md") {
            let text = try String(contentsOf: file, encoding: .utf8)
            for (cited, parts) in Self.citedNames(in: text) {
                checked += 1
                if let unknown = parts.first(where: { !declared.contains($0) }) {
                    missing.append("\(file.lastPathComponent): \(cited) (no \(unknown) in Tests/)")
                }
            }
        }
        #expect(checked > 100, "only \(checked) test names found in Specs: is the pattern still right?")
        #expect(missing.isEmpty, "Specs cite tests that do not exist:\n\(missing.joined(separator: "\n"))")
    }

    @Test func theCheckFindsAMisspelledTest() throws {
        let declared = try Self.declaredNames()
        let cited = Self.citedNames(
            in: "see `BoundsTests.noSuchTestAnywhere`, `.usersFindsNicksTheWelcomeDoesNotList` and `BoundsTests.swift`\n`ChatLimits.a`, `.notATest`")
        #expect(cited.map(\.parts) == [["BoundsTests", "noSuchTestAnywhere"], ["BoundsTests", "usersFindsNicksTheWelcomeDoesNotList"], ["BoundsTests"]])
        #expect(cited[0].parts.contains { !declared.contains($0) })
        #expect(!cited[1].parts.contains { !declared.contains($0) })
        #expect(!cited[2].parts.contains { !declared.contains($0) })
    }
}

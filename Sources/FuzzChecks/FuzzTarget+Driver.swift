import FoundationEssentials
import FuzzEngine

#if canImport(Glibc)
    import Glibc
#endif

extension FuzzTarget {
    /// The body of a fuzzer executable.
    ///
    /// Built by `scripts/fuzz.sh` (`-sanitize=fuzzer`), it hands the command line to libFuzzer,
    /// which calls `testOneInput` for every input it makes. In a plain build it replays the files
    /// and folders named on the command line through the same checks and exits 1 on any violation.
    public func main(testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
        guard isAvailable else {
            printError(check([]).first ?? "\(executableName) is not available in this build.")
            exit(2)
        }
        if fuzz_engine_is_linked() != 0 {
            exit(fuzz_engine_run(CommandLine.argc, CommandLine.unsafeArgv, testOneInput))
        }
        exit(replay(paths: Array(CommandLine.arguments.dropFirst())))
    }

    /// One libFuzzer input: runs the checks and aborts (a crash libFuzzer records, with the input
    /// saved as an artifact) when a property broke.
    public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        let violations = check(bytes)
        if !violations.isEmpty {
            for violation in violations { printError("\(executableName): \(violation)") }
            abort()
        }
        return 0
    }

    /// Runs every file under `paths` through the checks; returns the exit status.
    func replay(paths: [String]) -> Int32 {
        guard !paths.isEmpty else {
            printError("usage: \(executableName) FILE_OR_FOLDER... (build with scripts/fuzz.sh to fuzz)")
            return 2
        }
        var inputs = 0
        var failed = 0
        for file in Self.files(under: paths) {
            guard let data = FileManager.default.contents(atPath: file) else {
                printError("\(executableName): cannot read \(file): check the path.")
                failed += 1
                continue
            }
            inputs += 1
            let violations = check(Array(data))
            if !violations.isEmpty {
                failed += 1
                for violation in violations { printError("\(file): \(violation)") }
            }
        }
        print("\(executableName): replayed \(inputs) inputs, \(failed) failed")
        return failed == 0 ? 0 : 1
    }

    /// The regular files named in `paths` and in the folders among them, sorted.
    public static func files(under paths: [String]) -> [String] {
        var files: [String] = []
        for path in paths {
            var isFolder = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                files.append(path)
                continue
            }
            if isFolder {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.filter { !$0.hasPrefix(".") }.sorted().map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        return files
    }

    private func printError(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}

import Foundation

/// Where `swift build` put this package's executables, for tests that run them as processes.
public enum BuiltProduct {
    /// The built `rabbitChat`: `RABBITCHAT_BINARY` when set (CI scripts that built it elsewhere),
    /// otherwise found next to the test binary.
    public static var rabbitChat: String {
        if let explicit = ProcessInfo.processInfo.environment["RABBITCHAT_BINARY"], !explicit.isEmpty { return explicit }
        return path(of: "rabbitChat")
    }

    /// The product `name` of this package: in the folder of the running test binary or in one
    /// above it (on Linux the test binary sits in the build folder itself, elsewhere inside a
    /// bundle). When it is nowhere, the path where it would be in the test binary's folder,
    /// so that the error that follows names a useful place.
    public static func path(of name: String) -> String {
        let testBinary =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
        let start = URL(fileURLWithPath: testBinary).deletingLastPathComponent()
        var directory = start
        while true {
            let candidate = directory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            if directory.path == "/" { return start.appendingPathComponent(name).path }
            directory.deleteLastPathComponent()
        }
    }
}

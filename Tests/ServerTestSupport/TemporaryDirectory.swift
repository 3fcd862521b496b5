#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Private temporary directories for tests (data directories of the durable simulator).
public enum TemporaryDirectory {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Makes a new empty directory under `$TMPDIR` (or /tmp), mode 0700, and returns its path.
    public static func make(prefix: String) throws -> String {
        let base = TestEnvironment.environment("TMPDIR") ?? "/tmp"
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw Failure(description: "cannot make a temporary directory in \(base): \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    /// Removes a directory tree made by ``make(prefix:)`` (errors ignored).
    public static func remove(_ path: String) {
        guard let directory = opendir(path) else {
            unlink(path)
            return
        }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(directory)
        for name in names {
            let child = path + "/" + name
            var info = stat()
            if lstat(child, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { remove(child) } else { unlink(child) }
        }
        rmdir(path)
    }
}

import Foundation

/// The server process when it runs on this machine: found by `--server-pid` or by the port it
/// listens on (through /proc), so the summary can give its resident memory.
struct ServerProcess: Sendable, Equatable {
    let pid: Int32

    /// Resident set size in bytes (`VmRSS` of /proc/PID/status), nil when the process is gone.
    func residentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let kib = Int(fields[1]) { return kib * 1024 }
        }
        return nil
    }

    /// The process listening on TCP `port` on this machine, if /proc tells.
    static func listening(onPort port: Int) -> ServerProcess? {
        var inodes: Set<String> = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
                guard fields.count > 9, fields[3] == "0A",
                    let colon = fields[1].lastIndex(of: ":"),
                    Int(fields[1][fields[1].index(after: colon)...], radix: 16) == port
                else { continue }
                inodes.insert(String(fields[9]))
            }
        }
        guard !inodes.isEmpty,
            let pids = try? FileManager.default.contentsOfDirectory(atPath: "/proc")
        else { return nil }
        let wanted = Set(inodes.map { "socket:[\($0)]" })
        for pid in pids.compactMap(Int32.init) {
            guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { continue }
            for fd in fds {
                if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                    wanted.contains(target)
                {
                    return ServerProcess(pid: pid)
                }
            }
        }
        return nil
    }
}

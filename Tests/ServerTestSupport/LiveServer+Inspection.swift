import Foundation

extension LiveServer {
    /// The value of a Prometheus sample on `/metrics`, summed over its label sets (only those
    /// whose labels contain `labels` when given); nil if there is no such sample.
    public func metric(_ name: String, labels: String? = nil) throws -> Double? {
        let response = try TestHTTP.request(port: port, path: "/metrics")
        var total: Double?
        for line in response.text.split(separator: "\n") where !line.hasPrefix("#") {
            guard line.hasPrefix(name + " ") || line.hasPrefix(name + "{") else { continue }
            if let labels, !line.contains(labels) { continue }
            guard let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            total = (total ?? 0) + value
        }
        return total
    }

    /// How many file descriptors the process has open (from /proc); -1 if it cannot be read.
    public var openFileDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }
}

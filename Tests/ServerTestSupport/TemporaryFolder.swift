import Foundation

/// A fresh folder under the system's temporary directory for one test (secret files, logs),
/// removed by `remove()`.
public struct TemporaryFolder: Sendable {
    public let path: String

    public init(prefix: String = "rabbitchat-test-") {
        path = NSTemporaryDirectory() + prefix + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

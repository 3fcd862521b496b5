import Foundation
import ServerTestSupport

/// One HTTP request written as raw bytes on its own connection, any headers included (a
/// foreign `Host`, an `Origin`, an upgrade), and what came back: the head, and the body when it
/// has a `Content-Length`. A stream (chunked or close-delimited) or a `101` is read up to its
/// head and the first bytes after it; the connection is then dropped.
struct RawExchange {
    let status: Int
    /// Header names lower case; a header sent twice keeps its last value.
    let headers: [String: String]
    /// The head as sent, status line and headers, without the blank line.
    let head: String
    let body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    /// How many times header `name` occurs in the head.
    func count(of name: String) -> Int {
        head.components(separatedBy: "\r\n").filter { $0.lowercased().hasPrefix(name.lowercased() + ":") }.count
    }

    static func send(port: Int, _ raw: String, timeout: Duration = .seconds(10)) throws -> RawExchange {
        let socket = try TestSocket(port: port, timeout: timeout)
        try socket.write(raw)
        var bytes: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        while TestHTTP.headEnd(bytes) == nil {
            guard ContinuousClock.now < deadline else {
                throw TestSocketError("no response head within \(timeout): \(String(decoding: bytes.prefix(200), as: UTF8.self))")
            }
            let chunk = try socket.read()
            if chunk.isEmpty { throw TestSocketError("closed before a response head: \(String(decoding: bytes.prefix(200), as: UTF8.self))") }
            bytes += chunk
        }
        let end = TestHTTP.headEnd(bytes)!
        let head = String(decoding: bytes[0..<end], as: UTF8.self)
        var body = Array(bytes[(end + 4)...])
        let parsed = try TestHTTP.parse(Array(bytes[0..<(end + 4)]))
        if let length = parsed.headers["content-length"].flatMap(Int.init), parsed.status != 204, parsed.status != 304,
            !raw.hasPrefix("HEAD ")
        {
            while body.count < length, ContinuousClock.now < deadline {
                let chunk = try socket.read()
                if chunk.isEmpty { break }
                body += chunk
            }
        }
        socket.closeNow()
        return RawExchange(status: parsed.status, headers: parsed.headers, head: head, body: body)
    }
}

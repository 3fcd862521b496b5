/// A whole HTTP response as the server sent it, its body de-chunked.
public struct TestHTTPResponse: Sendable {
    /// The status code of the status line.
    public var status: Int
    /// The status line and header lines, without the blank line that ends them.
    public var head: String
    /// The headers, names lowercased (the last one wins where a name repeats).
    public var headers: [String: String]
    /// The body, with chunked transfer encoding removed.
    public var body: [UInt8]

    public init(status: Int, head: String, headers: [String: String], body: [UInt8]) {
        self.status = status
        self.head = head
        self.headers = headers
        self.body = body
    }

    /// The body as UTF-8 (invalid bytes become replacement characters).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// The head of an HTTP/1.x request as the parser read it.
public struct HTTPRequestHead: Sendable, Equatable {
    /// The method as sent (`GET`, `POST`, ...).
    public var method: String
    /// The request target as sent (path and query, still percent-encoded).
    public var uri: String
    /// The path part of ``uri`` (before `?`).
    public var path: String
    /// The query part of ``uri`` (after `?`), if any.
    public var query: String?
    /// The HTTP version, e.g. (1, 1).
    public var version: (major: Int, minor: Int)
    /// The header fields in the order sent; names keep their case.
    public var headers: [(name: String, value: String)]

    public init(method: String, uri: String, version: (major: Int, minor: Int), headers: [(name: String, value: String)]) {
        self.method = method
        self.uri = uri
        if let q = uri.firstIndex(of: "?") {
            self.path = String(uri[..<q])
            self.query = String(uri[uri.index(after: q)...])
        } else {
            self.path = uri
            self.query = nil
        }
        self.version = version
        self.headers = headers
    }

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        for h in headers where h.name.count == name.count && h.name.lowercased() == name.lowercased() {
            return h.value
        }
        return nil
    }

    /// Whether header `name` is a comma-separated list containing `token` (case-insensitive).
    public func header(_ name: String, containsToken token: String) -> Bool {
        guard let value = header(name) else { return false }
        let wanted = token.lowercased()
        return value.split(separator: ",").contains { $0.trimmingSpaces().lowercased() == wanted }
    }

    /// Whether the connection stays open after the response (HTTP/1.1 unless `close`; HTTP/1.0 only with `keep-alive`).
    public var isKeepAlive: Bool {
        if version.major == 1 && version.minor >= 1 {
            return !header("Connection", containsToken: "close")
        }
        return header("Connection", containsToken: "keep-alive")
    }

    /// The value of query parameter `name`, percent-decoded (`+` is a space), if present.
    public func queryParameter(_ name: String) -> String? {
        guard let query else { return nil }
        return HTTPForm.value(of: name, in: Substring(query))
    }

    public static func == (lhs: HTTPRequestHead, rhs: HTTPRequestHead) -> Bool {
        lhs.method == rhs.method && lhs.uri == rhs.uri && lhs.version == rhs.version
            && lhs.headers.elementsEqual(rhs.headers, by: { $0.name == $1.name && $0.value == $1.value })
    }
}

extension Substring {
    /// Drops leading and trailing spaces and tabs. Works on scalars, not characters: a space
    /// followed by a combining mark or U+200C is one `Character`, yet its space is still a space.
    func trimmingSpaces() -> Substring {
        var s = unicodeScalars[...]
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return Substring(s)
    }
}

/// `application/x-www-form-urlencoded` and query-string decoding.
enum HTTPForm {
    /// The percent-decoded value of `name` in `form` (`a=1&b=2`), if present.
    static func value(of name: String, in form: Substring) -> String? {
        for pair in form.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if percentDecode(parts[0]) == name {
                return parts.count > 1 ? percentDecode(parts[1]) : ""
            }
        }
        return nil
    }

    /// Decodes `%XX` escapes and `+` (a space); invalid escapes are kept as they are.
    static func percentDecode(_ text: Substring) -> String {
        let bytes = Array(text.utf8)
        guard bytes.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return String(text) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
                i += 1
            } else if b == UInt8(ascii: "%"), i + 2 < bytes.count,
                let h = hexValue(bytes[i + 1]), let l = hexValue(bytes[i + 2])
            {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(b)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The value of one hex digit (either case), nil for any other byte; the request parser's
    /// chunk sizes use it too.
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

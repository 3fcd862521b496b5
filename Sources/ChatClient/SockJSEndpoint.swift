import NIOCore
import NIOPosix
import SockJSWire

/// Where a SockJS service lives: `http://host:port/prefix`, split into what a NIO connection needs.
public struct SockJSEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// Host name or address (IPv6 without brackets).
    public var host: String
    /// TCP port.
    public var port: Int
    /// The service prefix, starting with `/` and without a trailing `/` (e.g. `/chat`).
    public var prefix: String
    /// The local address to connect from (port 0: any), e.g. 127.0.0.2 to spread tens of
    /// thousands of loopback connections over several source addresses (each address has
    /// about 28,000 ephemeral ports toward one server port); nil lets the system pick.
    public var localAddress: SocketAddress?

    /// An endpoint from its parts; `prefix` is normalised to `/name` (or empty for the root).
    public init(host: String, port: Int, prefix: String) {
        self.host = host
        self.port = port
        var prefix = prefix
        while prefix.hasSuffix("/") { prefix.removeLast() }
        if !prefix.hasPrefix("/") { prefix = "/" + prefix }
        self.prefix = prefix == "/" ? "" : prefix
    }

    /// Errors for a URL this client cannot use.
    public enum URLError: Error, Equatable, Sendable, CustomStringConvertible {
        /// Not an `http://` (or `ws://`) URL with a host and a valid port, or with a query.
        case unsupported(String)

        public var description: String {
            switch self {
            case .unsupported(let url):
                "The URL \(url) is not of the form http://HOST:PORT/PREFIX; give one like http://127.0.0.1:9191/chat."
            }
        }
    }

    /// Parses `http://host[:port]/prefix` (also `ws://`; port 80 when absent).
    public init(url: String) throws(URLError) {
        var rest = Substring(url)
        if rest.hasPrefix("http://") {
            rest = rest.dropFirst("http://".count)
        } else if rest.hasPrefix("ws://") {
            rest = rest.dropFirst("ws://".count)
        } else {
            throw .unsupported(url)
        }
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count)
        var host = Substring(authority)
        var port = 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .unsupported(url) }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let parsed = Int(after.dropFirst()) else { throw .unsupported(url) }
                port = parsed
            } else if !after.isEmpty {
                throw .unsupported(url)
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let parsed = Int(authority[authority.index(after: colon)...]) else { throw .unsupported(url) }
            port = parsed
        }
        guard !host.isEmpty, (1...65535).contains(port), !path.contains("?"), !path.contains("#") else {
            throw .unsupported(url)
        }
        self.init(host: String(host), port: port, prefix: String(path))
    }

    public var description: String { "http://\(hostForHeader)\(prefix)" }

    /// `bootstrap`, bound to ``localAddress`` when one is set.
    func bound(_ bootstrap: ClientBootstrap) -> ClientBootstrap {
        guard let localAddress else { return bootstrap }
        return bootstrap.bind(to: localAddress)
    }

    /// The `Host` header value.
    var hostForHeader: String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? bracketed : "\(bracketed):\(port)"
    }

    /// The path of one transport request for a session: `/prefix/<server>/<session>/<endpoint>`.
    func sessionPath(server: String, session: String, _ endpoint: SockJSRoute.SessionEndpoint) -> String {
        SockJSRoute.sessionPath(prefix: prefix, server: server, session: session, endpoint)
    }
}

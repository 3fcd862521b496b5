/// A web origin: scheme, host and port (`http://chat.example:9191`), as browsers send it in
/// `Origin` and as `--allow-origin` names it.
public struct WebOrigin: Sendable, Hashable, CustomStringConvertible {
    /// `http` or `https`, lower case.
    public let scheme: String
    /// The host as a browser serializes it: a lower-case name, a dotted IPv4 address, or an
    /// IPv6 address in brackets.
    public let host: String
    /// The port, with the scheme's default filled in (80 or 443).
    public let port: Int

    /// Parses `scheme://host[:port]` strictly: `http` or `https`, no user, path, query or
    /// fragment (one trailing `/` is tolerated, as people write it). Nil for anything else,
    /// `null` included.
    public init?(_ text: String) {
        var rest = Substring(text)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard let separator = rest.firstRange(of: "://") else { return nil }
        let scheme = rest[..<separator.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        guard let authority = HostPolicy.splitHostAndPort(rest[separator.upperBound...]) else { return nil }
        self.init(scheme: scheme, host: authority.host, port: authority.port ?? (scheme == "https" ? 443 : 80))
    }

    /// An origin from parts already checked (the scheme lower case, the host normalized).
    public init(scheme: String, host: String, port: Int) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    /// `scheme://host[:port]`, the port left out when it is the scheme's default: the form
    /// browsers send and CSP source lists take.
    public var description: String {
        let defaultPort = scheme == "https" ? 443 : 80
        return port == defaultPort ? "\(scheme)://\(host)" : "\(scheme)://\(host):\(port)"
    }
}

/// Which browser pages may use a SockJS service: those served from the server's own origin and
/// the origins listed here. A pure value: ``decide(origins:host:secure:)`` looks only at its
/// arguments.
///
/// "The server's own origin" is the scheme of the connection (`https` with TLS) and the
/// request's `Host` (which ``HostPolicy`` has checked first). A request without `Origin` is
/// not from a browser page (or is a same-origin navigation or script load, which browsers send
/// without one) and is served. `Origin: null` (a sandboxed frame, a `file:` or `data:` page) is
/// never served: any page can make itself `null`.
public struct OriginPolicy: Sendable, Hashable {
    /// The origins served besides the server's own.
    public let allowedOrigins: [WebOrigin]
    /// The command-line option that allows an origin (`--allow-origin`), named in refusals so
    /// an operator knows what to change; nil to name none.
    public var allowOption: String?

    /// What the policy says about one request.
    public enum Decision: Sendable, Hashable {
        /// No `Origin`: not a browser's cross-origin request; served, CORS answers say `*`.
        case noOrigin
        /// `Origin` is the server's own or an allowed one; CORS answers may name it.
        case allowed(WebOrigin)
        /// Refused with `403` and this one-line reason.
        case refused(String)
    }

    /// Longest `Origin` value quoted back in a refusal; longer ones are cut.
    static let quotedLimit = 200

    public init(allowedOrigins: [WebOrigin] = [], allowOption: String? = nil) {
        var unique: [WebOrigin] = []
        for origin in allowedOrigins where !unique.contains(origin) { unique.append(origin) }
        self.allowedOrigins = unique
        self.allowOption = allowOption
    }

    /// Decides a request from its `Origin` header values (all of them, in order), its `Host`
    /// and whether the connection is TLS.
    public func decide(origins: [String], host: String?, secure: Bool) -> Decision {
        guard let value = origins.first else { return .noOrigin }
        guard origins.count == 1 else { return .refused("A request with more than one Origin header is refused.") }
        if value.trimmingSpacesAndTabs() == "null" {
            return .refused("Origin null (a sandboxed frame, a file or a data: page) may not use this service; open the page from this server instead.")
        }
        guard let origin = WebOrigin(value), value.hasSuffix("/") == false else {
            return .refused("Origin \(Self.quoted(value)) is not a valid origin; this service serves pages from its own origin only.")
        }
        if let own = Self.ownOrigin(host: host, secure: secure), own == origin {
            return .allowed(origin)
        }
        if allowedOrigins.contains(origin) {
            return .allowed(origin)
        }
        let own = Self.ownOrigin(host: host, secure: secure).map { " (\($0))" } ?? ""
        let hint = allowOption.map { "; start the server with \($0) \(origin) to allow it" } ?? ""
        return .refused("Origin \(origin) may not use this service: it is not this server's own origin\(own) nor an allowed one\(hint).")
    }

    /// The server's own origin for a request: the connection's scheme and its `Host`.
    public static func ownOrigin(host: String?, secure: Bool) -> WebOrigin? {
        guard let host, let authority = HostPolicy.splitHostAndPort(Substring(host)) else { return nil }
        let scheme = secure ? "https" : "http"
        return WebOrigin(scheme: scheme, host: authority.host, port: authority.port ?? (secure ? 443 : 80))
    }

    /// `CSP frame-ancestors` sources: this server and the allowed origins.
    public var frameAncestors: String {
        (["'self'"] + allowedOrigins.map(\.description)).joined(separator: " ")
    }

    /// A header value quoted back to its sender: printable ASCII only, at most `quotedLimit` bytes.
    static func quoted(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars.prefix(quotedLimit) {
            out.unicodeScalars.append(scalar.value >= 0x20 && scalar.value < 0x7F ? scalar : "?")
        }
        return value.unicodeScalars.count > quotedLimit ? out + "…" : out
    }
}

/// The names under which a server answers, checked on every request's `Host`: an IP literal,
/// `localhost`, the machine's names, or one listed here. Anything else is refused with `403`:
/// a page that made its own DNS name point at this server (DNS rebinding) sends its own name.
/// A request without `Host` (HTTP/1.0 tools) is served.
public struct HostPolicy: Sendable, Hashable {
    /// Accepted names besides IP literals, lower case (`localhost` always among them).
    public let names: Set<String>
    /// The command-line option that adds a name (`--allow-host`), named in refusals.
    public var allowOption: String?

    public enum Decision: Sendable, Hashable {
        case allowed
        /// Refused with `403` and this one-line reason.
        case refused(String)
    }

    /// `names`: this machine's names and the operator's (`--allow-host`); `localhost` is added.
    public init(names: [String], allowOption: String? = nil) {
        var set: Set<String> = ["localhost"]
        for name in names {
            let lower = name.lowercased()
            if !lower.isEmpty { set.insert(lower) }
        }
        self.names = set
        self.allowOption = allowOption
    }

    /// Decides a request from its `Host` header values (all of them).
    public func decide(hosts: [String]) -> Decision {
        guard let value = hosts.first else { return .allowed }
        guard hosts.count == 1 else { return .refused("A request with more than one Host header is refused.") }
        guard let authority = Self.splitHostAndPort(Substring(value)) else {
            return .refused("Host \(OriginPolicy.quoted(value)) is not a valid host name and port.")
        }
        if Self.isIPLiteral(authority.host) || names.contains(authority.host) { return .allowed }
        // The answer does not list the accepted names: a rebinding page can read it.
        let hint = allowOption.map { ", or start the server with \($0) \(authority.host)" } ?? ""
        return .refused("Host \(authority.host) is not a name of this server; open it by its IP address, as localhost or by its machine name\(hint).")
    }

    /// `host[:port]` or `[v6][:port]` split and normalized (host lower case, IPv6 kept in
    /// brackets); nil when malformed: empty host, a port that is not 1 to 5 digits up to
    /// 65535, or characters no host name has (`/`, `@`, spaces ...).
    public static func splitHostAndPort(_ text: Substring) -> (host: String, port: Int?)? {
        var hostPart: Substring
        var portPart: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            hostPart = text[...close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portPart = after.dropFirst()
            }
            let inner = hostPart.dropFirst().dropLast()
            guard inner.contains(":"), inner.utf8.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else {
                return nil
            }
        } else if let colon = text.lastIndex(of: ":") {
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        } else {
            hostPart = text
        }
        guard !hostPart.isEmpty, hostPart.utf8.count <= 253 || hostPart.hasPrefix("[") else { return nil }
        if !hostPart.hasPrefix("[") {
            let ok = hostPart.utf8.allSatisfy { c in
                (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                    || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
                    || c == UInt8(ascii: "_")
            }
            guard ok else { return nil }
        }
        var port: Int?
        if let portPart {
            guard !portPart.isEmpty, portPart.utf8.count <= 5, portPart.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                let value = Int(portPart), value <= 65_535
            else { return nil }
            port = value
        }
        return (hostPart.lowercased(), port)
    }

    /// A dotted-quad IPv4 address (four decimal parts up to 255) or a bracketed IPv6 address.
    /// No DNS name has this form, so no one can point one at this server under it.
    public static func isIPLiteral(_ host: String) -> Bool {
        if host.hasPrefix("[") { return host.hasSuffix("]") && host.contains(":") }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.utf8.count <= 3 && part.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
                && (Int(part) ?? 256) <= 255
        }
    }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
            || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F"))
    }
}

extension HTTPRequestHead {
    /// Every value of header `name` (case-insensitive), in the order sent.
    public func headerValues(_ name: String) -> [String] {
        let wanted = name.lowercased()
        return headers.filter { $0.name.count == name.count && $0.name.lowercased() == wanted }.map(\.value)
    }
}

extension String {
    fileprivate func trimmingSpacesAndTabs() -> Substring {
        Substring(self).trimmingSpaces()
    }
}

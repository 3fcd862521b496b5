import Broker

/// A parsed `amqp://user:password@host:port/vhost` (or `amqps://…`) address.
///
/// Follows RabbitMQ's URI spec where rabbitChat needs it: user and password default to
/// `guest`, the host to `localhost`, the port to 5672 (5671 for `amqps://`); an empty path or
/// `/` is the vhost `/`; a path such as `/%2f` or `/chat` is percent-decoded into the vhost
/// (`/`, `chat`). `amqps://` connects over TLS; its query parameters (RabbitMQ's names)
/// `cacertfile`, `certfile`, `keyfile` and `verify` (`verify_peer`, the default, or
/// `verify_none`) say how. Parsing is pure, so it is tested without a broker.
///
/// The split: the scheme ends at `://`; the authority ends at the first `/`; within it the
/// user information ends at the *last* `@` (so a password may hold a raw `@`), the user ends
/// at the first `:`; the query starts at the first `?` after the authority (or after the
/// host, when there is no path). ``redacted(_:)`` uses the same split, so what it hides is
/// exactly what the parser would take as the password.
public struct AMQPURL: Sendable, Hashable, CustomStringConvertible {
    public var user: String
    public var password: String
    public var host: String
    public var port: Int
    public var vhost: String
    /// How to speak TLS: set for `amqps://`, nil for `amqp://`.
    public var tls: TLS?

    /// The TLS settings of an `amqps://` URL.
    public struct TLS: Sendable, Hashable {
        /// PEM file of the certificate authorities to trust (`cacertfile`); nil: the system's.
        public var caCertificateFile: String?
        /// PEM client certificate and its key (`certfile`, `keyfile`), both or neither.
        public var certificateFile: String?
        public var keyFile: String?
        /// Check the broker's certificate and that it names the host (`verify=verify_peer`,
        /// the default); `verify=verify_none` turns both checks off.
        public var verifyPeer: Bool

        public init(caCertificateFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, verifyPeer: Bool = true) {
            self.caCertificateFile = caCertificateFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.verifyPeer = verifyPeer
        }
    }

    public init(user: String = "guest", password: String = "guest", host: String = "localhost", port: Int = 5672, vhost: String = "/", tls: TLS? = nil) {
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.vhost = vhost
        self.tls = tls
    }

    /// Parses `text`; throws ``BrokerError/connectionFailed(_:)`` with a sentence that says
    /// what is wrong and what a valid address looks like. The sentence quotes `text` only
    /// through ``redacted(_:)``, and never echoes a part that could be a password.
    public init(parsing text: String) throws(BrokerError) {
        func invalid(_ why: String) -> BrokerError {
            .connectionFailed(
                "'\(AMQPURL.redactedUnparsable(text))' is not a valid AMQP URL: \(why). Use amqp://user:password@host:port/vhost (or amqps://… for TLS), e.g. amqp://guest:guest@127.0.0.1:5672/"
            )
        }
        let secure: Bool
        let lowered = text.lowercased()
        if lowered.hasPrefix("amqp://") {
            secure = false
        } else if lowered.hasPrefix("amqps://") {
            secure = true
        } else {
            throw invalid(text.contains("://") ? "only the amqp:// and amqps:// schemes are supported" : "it does not start with amqp://")
        }
        let parts = AMQPURL.split(Substring(text.dropFirst(secure ? 8 : 7)))
        let path = parts.path
        if path.contains("/") { throw invalid("the vhost must be one path segment (write a '/' inside it as %2f)") }
        if path.contains("#") || (parts.query?.contains("#") ?? false) { throw invalid("a URL fragment ('#') is not supported") }

        var user = "guest"
        var password = "guest"
        if let userInfo = parts.userInfo {
            let userPart: Substring
            let passwordPart: Substring?
            if let colon = userInfo.firstIndex(of: ":") {
                userPart = userInfo[..<colon]
                passwordPart = userInfo[userInfo.index(after: colon)...]
            } else {
                userPart = userInfo
                passwordPart = nil
            }
            guard let decodedUser = AMQPURL.percentDecode(userPart) else { throw invalid("the user name has a bad %-escape") }
            user = decodedUser
            if let passwordPart {
                guard let decoded = AMQPURL.percentDecode(passwordPart) else { throw invalid("the password has a bad %-escape") }
                password = decoded
            }
        }

        let hostPort = parts.hostPort
        var host = "localhost"
        var port = secure ? 5671 : 5672
        var hostText = hostPort
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw invalid("an IPv6 host lacks its closing ']'") }
            hostText = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("unexpected text after the IPv6 host") }
                portText = after.dropFirst()
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            hostText = hostPort[..<colon]
            portText = hostPort[hostPort.index(after: colon)...]
        }
        if !hostText.isEmpty {
            guard let decoded = AMQPURL.percentDecode(hostText) else { throw invalid("the host has a bad %-escape") }
            host = decoded
        }
        if let portText, !portText.isEmpty {
            // The port text is not quoted: without an '@', a mistyped `user:password` lands here.
            guard portText.utf8.count <= 5, let value = Int(portText), (1...65535).contains(value) else {
                throw invalid("the port is not a number between 1 and 65535")
            }
            port = value
        }

        var vhost = "/"
        if !path.isEmpty {
            guard let decoded = AMQPURL.percentDecode(path) else { throw invalid("the vhost has a bad %-escape") }
            vhost = decoded
        }

        var tls: TLS? = secure ? TLS() : nil
        if let query = parts.query, !query.isEmpty {
            for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
                let key = pair.firstIndex(of: "=").map { pair[..<$0] } ?? pair
                let rawValue = pair.firstIndex(of: "=").map { pair[pair.index(after: $0)...] } ?? ""
                guard let value = AMQPURL.percentDecode(rawValue) else { throw invalid("a query parameter has a bad %-escape") }
                switch key {
                case "cacertfile", "certfile", "keyfile", "verify":
                    guard secure, tls != nil else { throw invalid("'\(key)' is a TLS setting: use it with an amqps:// URL") }
                    guard !value.isEmpty else { throw invalid("'\(key)' needs a value") }
                    switch key {
                    case "cacertfile": tls?.caCertificateFile = value
                    case "certfile": tls?.certificateFile = value
                    case "keyfile": tls?.keyFile = value
                    default:
                        guard value == "verify_peer" || value == "verify_none" else {
                            throw invalid("verify must be verify_peer or verify_none")
                        }
                        tls?.verifyPeer = value == "verify_peer"
                    }
                default:
                    // The name is quoted only when it is plainly a parameter name (never part of a password).
                    let named = key.count <= 40 && key.allSatisfy { $0.isASCII && ($0.isLetter || $0 == "_") } ? " '\(key)'" : ""
                    throw invalid("the query parameter\(named) is not supported (amqps:// takes cacertfile, certfile, keyfile and verify)")
                }
            }
            if let tls, (tls.certificateFile == nil) != (tls.keyFile == nil) {
                throw invalid("certfile and keyfile go together: give both for a client certificate, or neither")
            }
        }
        self.init(user: user, password: password, host: host, port: port, vhost: vhost, tls: tls)
    }

    /// The parts of what follows the scheme, by the split described on the type.
    struct Parts {
        /// Everything before the last `@` of the authority; nil without an `@`.
        var userInfo: Substring?
        var hostPort: Substring
        /// After the first `/` of the authority, up to the query.
        var path: Substring
        var query: Substring?
    }

    static func split(_ afterScheme: Substring) -> Parts {
        var authority = afterScheme
        var path: Substring = ""
        var query: Substring?
        if let slash = afterScheme.firstIndex(of: "/") {
            authority = afterScheme[..<slash]
            path = afterScheme[afterScheme.index(after: slash)...]
            if let mark = path.firstIndex(of: "?") {
                query = path[path.index(after: mark)...]
                path = path[..<mark]
            }
        }
        var userInfo: Substring?
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
        }
        if query == nil, let mark = hostPort.firstIndex(of: "?") {
            // `amqps://host:5671?cacertfile=…`: no path, the query follows the host.
            query = hostPort[hostPort.index(after: mark)...]
            hostPort = hostPort[..<mark]
        }
        return Parts(userInfo: userInfo, hostPort: hostPort, path: path, query: query)
    }

    /// `host:port`, as errors name the address.
    public var endpoint: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The address without the password, safe for banners and logs. TLS settings (file paths,
    /// not secrets) are kept, so a banner shows which CA a node trusts.
    public var description: String {
        let vhostPath = vhost == "/" ? "" : AMQPURL.percentEncode(vhost)
        var query: [String] = []
        if let tls {
            if let file = tls.caCertificateFile { query.append("cacertfile=" + file) }
            if let file = tls.certificateFile { query.append("certfile=" + file) }
            if let file = tls.keyFile { query.append("keyfile=" + file) }
            if !tls.verifyPeer { query.append("verify=verify_none") }
        }
        return "\(tls == nil ? "amqp" : "amqps")://\(AMQPURL.percentEncode(user))@\(endpoint)/\(vhostPath)"
            + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }

    /// `text` safe to print: the parsed URL's ``description`` (user, no password) when it
    /// parses, else ``redactedUnparsable(_:)``. Use this for any broker URL a person typed.
    public static func redacted(_ text: String) -> String {
        if let url = try? AMQPURL(parsing: text) { return url.description }
        return redactedUnparsable(text)
    }

    /// A URL that does not parse, with nothing of its user information: everything up to the
    /// last `@` after the scheme becomes `***`. Without an `@`, the text is kept only when what
    /// follows the scheme up to the first `/` looks like `host` or `host:port` (digits); else
    /// that part becomes `***` too, since a mistyped `user:password` could be there.
    static func redactedUnparsable(_ text: String) -> String {
        var prefix: Substring = ""
        var rest = Substring(text)
        if let scheme = text.firstRange(of: "://") {
            prefix = text[..<scheme.upperBound]
            rest = text[scheme.upperBound...]
        }
        if let at = rest.lastIndex(of: "@") {
            return String(prefix) + "***" + String(rest[at...])
        }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        if looksLikeHostAndPort(authority) { return text }
        return String(prefix) + "***" + String(rest[authorityEnd...])
    }

    private static func looksLikeHostAndPort(_ authority: Substring) -> Bool {
        var host = authority
        var port: Substring = ""
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { return false }
            port = after.dropFirst()
            return host.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." } && port.allSatisfy(\.isASCII) && port.allSatisfy(\.isNumber)
        }
        if let colon = authority.firstIndex(of: ":") {
            host = authority[..<colon]
            port = authority[authority.index(after: colon)...]
        }
        return host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") }
            && port.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// Decodes `%XX` escapes into UTF-8; nil on a malformed escape or invalid UTF-8.
    static func percentDecode(_ text: Substring) -> String? {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Escapes everything but unreserved characters.
    static func percentEncode(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

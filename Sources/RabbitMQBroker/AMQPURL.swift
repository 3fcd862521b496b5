import Broker

/// A parsed `amqp://user:password@host:port/vhost` address.
///
/// Follows RabbitMQ's URI spec where rabbitChat needs it: user and password default to
/// `guest`, the host to `localhost`, the port to 5672; an empty path or `/` is the vhost `/`;
/// a path such as `/%2f` or `/chat` is percent-decoded into the vhost (`/`, `chat`).
/// Parsing is pure, so it is tested without a broker.
public struct AMQPURL: Sendable, Hashable, CustomStringConvertible {
    public var user: String
    public var password: String
    public var host: String
    public var port: Int
    public var vhost: String

    public init(user: String = "guest", password: String = "guest", host: String = "localhost", port: Int = 5672, vhost: String = "/") {
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.vhost = vhost
    }

    /// Parses `text`; throws ``BrokerError/connectionFailed(_:)`` with a sentence that says
    /// what is wrong and what a valid address looks like.
    public init(parsing text: String) throws(BrokerError) {
        func invalid(_ why: String) -> BrokerError {
            .connectionFailed("'\(AMQPURL.redacted(text))' is not a valid AMQP URL: \(why). Use amqp://user:password@host:port/vhost, e.g. amqp://guest:guest@127.0.0.1:5672/")
        }
        let scheme = "amqp://"
        guard text.lowercased().hasPrefix(scheme) else {
            throw invalid(text.contains("://") ? "only the amqp:// scheme is supported" : "it does not start with amqp://")
        }
        var rest = Substring(text.dropFirst(scheme.count))
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        if path.contains("/") { throw invalid("the vhost must be one path segment (write a '/' inside it as %2f)") }
        if path.contains("?") || path.contains("#") { throw invalid("query parameters are not supported") }

        var user = "guest"
        var password = "guest"
        var hostPort = rest
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            hostPort = rest[rest.index(after: at)...]
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

        var host = "localhost"
        var port = 5672
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
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw invalid("the port '\(portText)' is not a number between 1 and 65535")
            }
            port = value
        }

        var vhost = "/"
        if !path.isEmpty {
            guard let decoded = AMQPURL.percentDecode(path) else { throw invalid("the vhost has a bad %-escape") }
            vhost = decoded
        }
        self.init(user: user, password: password, host: host, port: port, vhost: vhost)
    }

    /// `host:port`, as errors name the address.
    public var endpoint: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The address without the password, safe for banners and logs.
    public var description: String {
        let vhostPath = vhost == "/" ? "" : AMQPURL.percentEncode(vhost)
        return "amqp://\(AMQPURL.percentEncode(user))@\(endpoint)/\(vhostPath)"
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

    /// `text` with any password replaced by `***`, for error messages about unparsable URLs.
    static func redacted(_ text: String) -> String {
        guard let schemeEnd = text.firstRange(of: "://"), let at = text[schemeEnd.upperBound...].lastIndex(of: "@") else { return text }
        let userInfo = text[schemeEnd.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }
}

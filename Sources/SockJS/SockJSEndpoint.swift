import Crypto
import Logging
import NIOCore
import Synchronization

/// One mounted SockJS service: its prefix, options, application, and its table of HTTP sessions.
///
/// Sessions of the HTTP transports are found by id in `sessions` (any event loop may look one up);
/// websocket sessions live as long as their connection and are not in the table.
final class SockJSEndpoint: Sendable {
    let prefix: String
    let options: SockJSOptions
    let service: any SockJSService
    let iframeBody: ByteBuffer
    let iframeETag: String
    /// `Content-Security-Policy` of `iframe.html`: scripts from `sockjsURL` and its one inline
    /// script (by hash), connections to this server, framed only by this server and the allowed origins.
    let iframeCSP: String
    /// `Content-Security-Policy` of an `htmlfile` stream: inline scripts only (each frame is one),
    /// nothing loaded, framed only by this server and the allowed origins.
    let htmlfileCSP: String
    private let sessions = Mutex<[String: SockJSSession]>([:])
    private let registry: SockJSSessionRegistry

    init(prefix: String, options: SockJSOptions, service: any SockJSService, registry: SockJSSessionRegistry) {
        self.prefix = prefix
        self.options = options
        self.service = service
        self.registry = registry
        let page = Self.iframePage(sockjsURL: options.sockjsURL)
        self.iframeBody = ByteBuffer(string: page)
        let digest = Insecure.MD5.hash(data: Array(page.utf8))
        self.iframeETag = "\"" + digest.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() + "\""
        let ancestors = options.originPolicy?.frameAncestors ?? "*"
        self.iframeCSP =
            "default-src 'none'; script-src \(Self.scriptSource(sockjsURL: options.sockjsURL)) '\(Self.inlineScriptHash(page))'; "
            + "connect-src 'self'; frame-src 'self'; frame-ancestors \(ancestors); base-uri 'none'; form-action 'self'"
        self.htmlfileCSP =
            "default-src 'none'; script-src 'unsafe-inline'; connect-src 'self'; frame-ancestors \(ancestors); base-uri 'none'; form-action 'none'"
    }

    /// The CSP source of the script `sockjsURL` names: `'self'` for a path on this server, else
    /// its origin (`https://cdn.example`, or `cdn.example` for a scheme-relative URL).
    static func scriptSource(sockjsURL: String) -> String {
        if sockjsURL.hasPrefix("/") && !sockjsURL.hasPrefix("//") { return "'self'" }
        var rest = Substring(sockjsURL)
        var scheme = ""
        if let separator = rest.firstRange(of: "//") {
            scheme = String(rest[..<separator.lowerBound])
            rest = rest[separator.upperBound...]
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" && $0 != " " && $0 != ";" && $0 != "'" }
        guard !authority.isEmpty else { return "'self'" }
        return scheme + (scheme.isEmpty ? "" : "//") + authority
    }

    /// `sha256-<base64>` of the text of the page's first inline `<script>` (one without `src`).
    static func inlineScriptHash(_ page: String) -> String {
        guard let open = page.firstRange(of: "<script>"), let close = page[open.upperBound...].firstRange(of: "</script>") else {
            return "sha256-"
        }
        let script = page[open.upperBound..<close.lowerBound]
        return "sha256-" + Base64.encode(SHA256.hash(data: Array(script.utf8)))
    }

    /// The session called `id`, if it exists.
    func session(id: String) -> SockJSSession? {
        sessions.withLock { $0[id] }
    }

    /// The session called `id`, created on `eventLoop` if it does not exist. Returns nil while the
    /// server shuts down.
    func sessionForReceiving(
        id: String,
        transport: SockJSTransport,
        request: HTTPRequestHead,
        remoteAddress: SocketAddress?,
        eventLoop: any EventLoop,
        logger: Logger
    ) -> SockJSSession? {
        sessions.withLock { table -> SockJSSession? in
            if let existing = table[id] { return existing }
            guard registry.acceptsSessions else { return nil }
            let session = makeSession(
                id: id, transport: transport, request: request, remoteAddress: remoteAddress,
                eventLoop: eventLoop, logger: logger, registered: true
            )
            table[id] = session
            return session
        }
    }

    /// A new websocket session (not in the id table: websocket sessions may reuse ids).
    func webSocketSession(
        id: String,
        transport: SockJSTransport,
        request: HTTPRequestHead,
        remoteAddress: SocketAddress?,
        eventLoop: any EventLoop,
        logger: Logger
    ) -> SockJSSession? {
        guard registry.acceptsSessions else { return nil }
        return makeSession(
            id: id, transport: transport, request: request, remoteAddress: remoteAddress,
            eventLoop: eventLoop, logger: logger, registered: false
        )
    }

    private func makeSession(
        id: String,
        transport: SockJSTransport,
        request: HTTPRequestHead,
        remoteAddress: SocketAddress?,
        eventLoop: any EventLoop,
        logger: Logger,
        registered: Bool
    ) -> SockJSSession {
        let registry = self.registry
        let session = SockJSSession(
            id: id, transport: transport, remoteAddress: remoteAddress, request: request,
            eventLoop: eventLoop, options: options, service: service, logger: logger,
            flushBatch: registry.flushBatch(for: eventLoop),
            onRemove: { [weak self] session in
                if registered {
                    self?.sessions.withLock { table in
                        if table[session.id] === session { table[session.id] = nil }
                    }
                }
                registry.remove(session)
            }
        )
        registry.add(session)
        return session
    }

    static func iframePage(sockjsURL: String) -> String {
        """
        <!DOCTYPE html>
        <html>
        <head>
          <meta http-equiv="X-UA-Compatible" content="IE=edge" />
          <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
          <script src="\(htmlAttributeEscaped(sockjsURL))"></script>
          <script>
            document.domain = document.domain;
            SockJS.bootstrap_iframe();
          </script>
        </head>
        <body>
          <h2>Don't panic!</h2>
          <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
        </body>
        </html>
        """
    }

    private static func htmlAttributeEscaped(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.append(c)
            }
        }
        return out
    }
}

/// Every live session of a server, for shutdown and counting.
final class SockJSSessionRegistry: Sendable {
    private struct State {
        var sessions: [ObjectIdentifier: SockJSSession] = [:]
        var accepting = true
        var batches: [ObjectIdentifier: SockJSFlushBatch] = [:]
    }
    private let state = Mutex(State())
    private let flushDelay: TimeAmount

    init(flushDelay: TimeAmount = .zero) {
        self.flushDelay = flushDelay
    }

    /// The flush batch of `loop` for this server (made on first use; one per loop).
    func flushBatch(for loop: any EventLoop) -> SockJSFlushBatch {
        state.withLock { s in
            let key = ObjectIdentifier(loop)
            if let b = s.batches[key] { return b }
            let b = SockJSFlushBatch(loop: loop, delay: flushDelay)
            s.batches[key] = b
            return b
        }
    }

    var acceptsSessions: Bool { state.withLock { $0.accepting } }

    func add(_ session: SockJSSession) {
        state.withLock { $0.sessions[ObjectIdentifier(session)] = session }
    }

    func remove(_ session: SockJSSession) {
        state.withLock { _ = $0.sessions.removeValue(forKey: ObjectIdentifier(session)) }
    }

    /// Stops accepting sessions and returns every live one.
    func stopAccepting() -> [SockJSSession] {
        state.withLock { s in
            s.accepting = false
            return Array(s.sessions.values)
        }
    }

    var count: Int { state.withLock { $0.sessions.count } }

    /// Every live session, at one moment.
    var liveSessions: [SockJSSession] { state.withLock { Array($0.sessions.values) } }

    /// Live sessions grouped by transport.
    func countsByTransport() -> [SockJSTransport: Int] {
        state.withLock { s in
            var counts: [SockJSTransport: Int] = [:]
            for session in s.sessions.values { counts[session.transport, default: 0] += 1 }
            return counts
        }
    }
}

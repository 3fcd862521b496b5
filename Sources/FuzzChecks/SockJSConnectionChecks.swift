#if DEBUG
    import Logging
    import NIOCore
    import NIOEmbedded
    import Synchronization
    @testable import SockJS

    /// Properties of a whole SockJS server under any traffic, on a virtual clock: three client
    /// connections send arbitrary bytes to the test services (`/echo`, `/close`, ...), the clock moves,
    /// connections drop. Afterwards every connection is closed and the clock runs past every timeout.
    ///
    /// - Nothing crashes, whatever the requests, bodies, upgrades and websocket frames.
    /// - What the server writes to one connection stays bounded.
    /// - The application sees each session open once, then messages, then one close, in that order.
    /// - When every client has gone and the timeouts have passed, every session is closed and
    ///   forgotten and no connection is left: nothing leaks.
    ///
    /// The input is a script: segments separated by `|~|`. A segment's first byte picks the connection
    /// (`byte % 3`), how many seconds pass before it is sent (`byte / 3 % 16`), and `0xF0` or above
    /// closes that connection instead; the rest of the segment is written to the connection.
    enum SockJSConnectionChecks {
        static let separator: [UInt8] = Array("|~|".utf8)
        static let connections = 3
        static let maxOutputPerConnection = 4 * 1024 * 1024

        static func check(_ bytes: [UInt8]) -> [String] {
            var v = Violations()
            let server = Server()
            var channels: [EmbeddedChannel?] = Array(repeating: nil, count: connections)
            var written = Array(repeating: 0, count: connections)

            func drain(_ i: Int) {
                guard let channel = channels[i] else { return }
                while let out = try? channel.readOutbound(as: ByteBuffer.self) {
                    written[i] += out.readableBytes
                }
            }

            for segment in segments(bytes) {
                guard let control = segment.first else { continue }
                let i = Int(control) % connections
                let payload = segment.dropFirst()
                server.loop.advanceTime(by: .seconds(Int64(control / 3 % 16)))
                if control >= 0xF0 {
                    drain(i)
                    channels[i].map { _ = try? $0.close().wait() }
                    channels[i] = nil
                    continue
                }
                if channels[i] == nil || channels[i]?.isActive == false {
                    drain(i)
                    channels[i] = server.connect()
                }
                guard let channel = channels[i] else { continue }
                var buffer = channel.allocator.buffer(capacity: payload.count)
                buffer.writeBytes(payload)
                _ = try? channel.writeInbound(buffer)
                server.loop.run()
                drain(i)
            }
            for i in 0..<connections {
                drain(i)
                channels[i].map { _ = try? $0.close().wait() }
                channels[i] = nil
            }
            // Past every heartbeat, disconnect delay, request and idle timeout the services use.
            for _ in 0..<8 {
                server.loop.advanceTime(by: .seconds(30))
            }
            server.loop.run()

            for (i, n) in written.enumerated() where n > maxOutputPerConnection {
                v.fail("connection \(i) was sent \(n) bytes")
            }
            v.expect(server.shared.registry.count == 0, "\(server.shared.registry.count) sessions are left after every client went and every timeout passed")
            v.expect(server.shared.openConnections.isEmpty, "\(server.shared.openConnections.count) connections are left open after the clients closed them")
            for endpoint in server.shared.endpoints {
                for id in server.recorder.sessionIDs where endpoint.session(id: id) != nil {
                    v.fail("session '\(preview(id))' of \(endpoint.prefix) is still in its table")
                }
            }
            for problem in server.recorder.problems() { v.fail(problem) }
            server.recorder.forgetSessions()
            return v.list
        }

        /// The input cut at every `|~|`.
        static func segments(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
            var out: [ArraySlice<UInt8>] = []
            var start = 0
            var i = 0
            while i + separator.count <= bytes.count {
                if bytes[i..<(i + separator.count)].elementsEqual(separator) {
                    out.append(bytes[start..<i])
                    i += separator.count
                    start = i
                } else {
                    i += 1
                }
            }
            out.append(bytes[start...])
            return out
        }

        /// The four standard test services on one embedded server with a virtual clock.
        final class Server {
            let loop = EmbeddedEventLoop()
            let recorder = Recorder()
            let shared: SockJSServerContext

            init() {
                var configuration = SockJSServerConfiguration()
                configuration.logger = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
                configuration.maxRequestHeadBytes = 2048
                configuration.maxRequestBodyBytes = 4096
                let registry = SockJSSessionRegistry()
                var echo = SockJSOptions()
                echo.responseLimit = 4096
                echo.maxMessageBytes = 2048
                echo.maxQueuedBytes = 64 * 1024
                var noWebSocket = echo
                noWebSocket.websocket = false
                var cookie = echo
                cookie.cookieNeeded = true
                let endpoints = [
                    SockJSEndpoint(prefix: "/echo", options: echo, service: recorder.service(echo: true, close: false), registry: registry),
                    SockJSEndpoint(prefix: "/close", options: echo, service: recorder.service(echo: false, close: true), registry: registry),
                    SockJSEndpoint(
                        prefix: "/disabled_websocket_echo", options: noWebSocket, service: recorder.service(echo: true, close: false), registry: registry),
                    SockJSEndpoint(prefix: "/cookie_needed_echo", options: cookie, service: recorder.service(echo: true, close: false), registry: registry),
                ]
                shared = SockJSServerContext(configuration: configuration, endpoints: endpoints, routes: [:], registry: registry)
            }

            func connect() -> EmbeddedChannel? {
                let channel = EmbeddedChannel(handler: SockJSConnectionHandler(shared: shared), loop: loop)
                guard (try? channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()) != nil else { return nil }
                return channel
            }
        }

        /// Records what the services see, and what would be out of order.
        final class Recorder: Sendable {
            private struct State {
                var open: Set<ObjectIdentifier> = []
                var closed: Set<ObjectIdentifier> = []
                var ids: Set<String> = []
                var problems: [String] = []
                /// Every session seen, kept alive so that no identifier is reused by a later one.
                var sessions: [SockJSSession] = []
            }
            private let state = Mutex(State())

            var sessionIDs: Set<String> { state.withLock { $0.ids } }

            /// Drops the sessions kept alive for identity (they reference their service, and so
            /// this recorder: a cycle LeakSanitizer would rightly report).
            func forgetSessions() {
                state.withLock { $0.sessions.removeAll() }
            }

            func problems() -> [String] {
                state.withLock { s in
                    var out = s.problems
                    if !s.open.isEmpty { out.append("\(s.open.count) sessions were opened and never closed") }
                    return out
                }
            }

            func service(echo: Bool, close: Bool) -> Service {
                Service(recorder: self, echo: echo, close: close)
            }

            fileprivate func opened(_ session: SockJSSession) {
                state.withLock { s in
                    let key = ObjectIdentifier(session)
                    if s.open.contains(key) || s.closed.contains(key) { s.problems.append("session '\(preview(session.id))' opened twice") }
                    s.open.insert(key)
                    s.ids.insert(session.id)
                    s.sessions.append(session)
                }
            }

            fileprivate func received(_ session: SockJSSession) {
                state.withLock { s in
                    if !s.open.contains(ObjectIdentifier(session)) { s.problems.append("session '\(preview(session.id))' got a message while not open") }
                }
            }

            fileprivate func closed(_ session: SockJSSession) {
                state.withLock { s in
                    if s.open.remove(ObjectIdentifier(session)) == nil { s.problems.append("session '\(preview(session.id))' closed while not open") }
                    s.closed.insert(ObjectIdentifier(session))
                }
            }
        }

        /// `/echo` (echo), `/close` (close at once) and the others, recording every call.
        struct Service: SockJSService {
            let recorder: Recorder
            let echo: Bool
            let close: Bool

            func sessionOpened(_ session: SockJSSession) {
                recorder.opened(session)
                if close { session.close(code: 3000, reason: "Go away!") }
            }

            func session(_ session: SockJSSession, received message: String) {
                recorder.received(session)
                if echo { session.send(message) }
            }

            func sessionClosed(_ session: SockJSSession, reason: SockJSCloseReason) {
                recorder.closed(session)
            }
        }
    }
#endif

/// The four standard services the SockJS protocol suite expects, for conformance runs.
///
/// `SockJSTestServices.mount(on: server)` mounts `/echo` (response limit 4096), `/close`,
/// `/disabled_websocket_echo` (websocket off) and `/cookie_needed_echo` (JSESSIONID), as the
/// official suite and sockjs-node's test server have them.
public enum SockJSTestServices {
    /// Echoes every message back to its sender.
    public struct Echo: SockJSService {
        public init() {}
        public func sessionOpened(_ session: SockJSSession) {}
        public func session(_ session: SockJSSession, received message: String) { session.send(message) }
        public func sessionClosed(_ session: SockJSSession, reason: SockJSCloseReason) {}
    }

    /// Closes every session as soon as it opens, with `3000 "Go away!"`.
    public struct Close: SockJSService {
        public init() {}
        public func sessionOpened(_ session: SockJSSession) { session.close(code: 3000, reason: "Go away!") }
        public func session(_ session: SockJSSession, received message: String) {}
        public func sessionClosed(_ session: SockJSSession, reason: SockJSCloseReason) {}
    }

    /// Mounts the four services on `server` under `prefix` (default: the server root).
    /// `base` supplies the options they share (heartbeat, sockjsURL ...).
    public static func mount(on server: SockJSServer, under prefix: String = "", base: SockJSOptions = SockJSOptions()) {
        var echo = base
        echo.responseLimit = 4096
        server.mount(prefix + "/echo", options: echo, service: Echo())
        server.mount(prefix + "/close", options: base, service: Close())
        var noWebSocket = base
        noWebSocket.websocket = false
        server.mount(prefix + "/disabled_websocket_echo", options: noWebSocket, service: Echo())
        var cookie = base
        cookie.cookieNeeded = true
        server.mount(prefix + "/cookie_needed_echo", options: cookie, service: Echo())
    }
}

import NIOCore

/// Per-service settings of a mounted SockJS endpoint.
///
/// The defaults are the protocol's: websocket on, no cookie, 128 KiB streaming response limit,
/// a heartbeat every 25 s, sessions forgotten 5 s after their last receiving connection.
public struct SockJSOptions: Sendable {
    /// Offer the websocket transports (`/websocket`); `/info` says `"websocket": false` otherwise.
    public var websocket: Bool = true
    /// Ask load balancers for sticky sessions: `/info` says `"cookie_needed": true` and session
    /// responses set the `JSESSIONID` cookie.
    public var cookieNeeded: Bool = false
    /// Bytes a streaming response (xhr_streaming, eventsource, htmlfile) carries before the
    /// server ends it and the client opens a new one.
    public var responseLimit: Int = 128 * 1024
    /// Interval of `h` frames on an idle receiving connection; they keep proxies from closing it and
    /// let the server find dead peers.
    public var heartbeatInterval: TimeAmount = .seconds(25)
    /// How long a session lives without a receiving connection before it is closed (and, once
    /// closed, how long its close frame is still served).
    public var disconnectDelay: TimeAmount = .seconds(5)
    /// The sockjs-client script that `iframe.html` loads. Point it at a URL the server itself serves
    /// so the iframe transports work offline.
    public var sockjsURL: String = "https://cdn.jsdelivr.net/npm/sockjs-client@1/dist/sockjs.min.js"
    /// The transport's cap on one inbound payload, in bytes, as it arrives: a websocket message
    /// (unmasked, its fragments joined; a hixie-76 frame) or an `xhr_send`/`jsonp_send` request
    /// body (as sent, before JSON or form decoding). Past it a websocket is closed with 1009
    /// (which ends its session) and a POST is answered 413 and its connection closed (the
    /// session goes on). It sits well above an application's own cap on one message (the chat's
    /// 64 KiB frame, which JSON quoting inside the SockJS array can nearly double), so an
    /// application sees an oversize message and answers it itself; see Specs/bounds.md.
    public var maxMessageBytes: Int = 256 * 1024
    /// Outbound bytes a session may have queued while its client is not reading. Past it the
    /// session is closed with `4002 "too slow"` and a log line; other sessions are unaffected.
    public var maxQueuedBytes: Int = 1024 * 1024
    /// Which browser pages may use this service (`Origin`), on every transport and `/info`;
    /// a refused request gets `403` and a one-line reason. nil serves any origin and reflects it
    /// in CORS answers with credentials, as the SockJS protocol suite expects of its test services.
    public var originPolicy: OriginPolicy?

    public init() {}

    /// Builds options by changing the defaults in a closure: `SockJSOptions { $0.websocket = false }`.
    public init(_ configure: (inout SockJSOptions) -> Void) {
        configure(&self)
    }
}

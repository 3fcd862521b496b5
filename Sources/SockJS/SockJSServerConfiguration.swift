import Logging
import NIOCore

/// Server-wide settings: where to listen and the limits every connection lives under.
public struct SockJSServerConfiguration: Sendable {
    /// Address to bind; `127.0.0.1` by default, `0.0.0.0` for every interface.
    public var host: String = "127.0.0.1"
    /// Port to bind; 0 picks a free one (``SockJSServer/start()`` returns it).
    public var port: Int = 0
    /// Longest request line plus headers; a longer head gets 431 and the connection is closed.
    public var maxRequestHeadBytes: Int = 16 * 1024
    /// Longest request body; a longer one gets 413 and the connection is closed (checked
    /// against `Content-Length` before anything is read).
    public var maxRequestBodyBytes: Int = 1024 * 1024
    /// Time a started request (head and body) may take to arrive; a slower one (slowloris) is
    /// answered 408 and closed.
    public var requestTimeout: TimeAmount = .seconds(10)
    /// Time an idle keep-alive connection is kept open between requests.
    public var idleTimeout: TimeAmount = .seconds(75)
    /// Pending outbound bytes at which a connection counts as not writable (a websocket session
    /// then queues in its capped outbound queue instead of the socket buffer).
    public var writeBufferHighWaterMark: Int = 256 * 1024
    /// Pending outbound bytes at which a connection is writable again.
    public var writeBufferLowWaterMark: Int = 64 * 1024
    /// How long a broadcast's writes may wait for the broadcasts right behind it before each
    /// touched connection is flushed. Every flush is one `writev` per connection: with a busy
    /// room, waiting a few milliseconds puts several messages in one system call on the server
    /// and one read on the client, instead of one each. Zero flushes as soon as the loop is free.
    public var broadcastFlushDelay: TimeAmount = .milliseconds(5)
    /// How long ``SockJSServer/shutdown()`` waits for connections to drain before closing them.
    public var shutdownGracePeriod: TimeAmount = .seconds(2)
    /// Where the server logs (overflow closes, refused requests, errors).
    public var logger: Logger = Logger(label: "sockjs")
    /// The names the server answers under, checked on every request's `Host` before anything
    /// else (routes included); a refused request gets `403` and a one-line reason. nil answers
    /// any `Host` (the library's default, for the protocol suite).
    public var hostPolicy: HostPolicy?
    /// Whether connections are TLS (`connectionSetup` adds the TLS handler): the server's own
    /// origin is then `https://` and hixie-76 names `wss://`.
    public var secure: Bool = false
    /// Runs on every accepted connection before the SockJS handler is added, on its event loop:
    /// e.g. adds a TLS handler, which then hands the SockJS handler plain bytes.
    public var connectionSetup: (@Sendable (any Channel) throws -> Void)?

    public init() {}

    /// Builds a configuration by changing the defaults in a closure.
    public init(_ configure: (inout SockJSServerConfiguration) -> Void) {
        configure(&self)
    }
}

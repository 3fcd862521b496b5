import NIOCore
import NIOHTTP1

/// Asks a server for the status of one `GET` (e.g. `/chat/info` or `/healthz`), to tell
/// "nothing listens", "something else listens" and "not ready yet" apart before opening
/// sessions.
public enum HTTPStatusProbe {
    /// The outcome of a probe.
    public enum Outcome: Equatable, Sendable {
        /// The server answered with this status code.
        case status(Int)
        /// The request failed; the sentence says why.
        case failed(String)
    }

    /// `GET path` on `endpoint`'s host and port; completes on `eventLoop`.
    public static func get(_ path: String, at endpoint: SockJSEndpoint, on eventLoop: any EventLoop) -> EventLoopFuture<Outcome> {
        let promise = eventLoop.makePromise(of: Outcome.self)
        eventLoop.execute {
            let connection = HTTPExchangeConnection(eventLoop: eventLoop, endpoint: endpoint)
            var status: Int?
            connection.request(
                .GET,
                path,
                body: nil,
                exchange: .init(
                    onHead: { status = Int($0.code) },
                    onBody: { _ in },
                    onEnd: {
                        connection.close()
                        promise.succeed(status.map(Outcome.status) ?? .failed("The server at \(endpoint) sent no status."))
                    },
                    onFailure: { reason in
                        connection.close()
                        promise.succeed(.failed(reason))
                    }
                )
            )
        }
        return promise.futureResult
    }
}

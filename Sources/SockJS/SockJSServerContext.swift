import Logging
import NIOCore
import Synchronization

/// What every connection handler of a running server shares: routes, endpoints, limits, and
/// the set of open connections (for shutdown). Immutable except for the locked tables.
final class SockJSServerContext: Sendable {
    let configuration: SockJSServerConfiguration
    let endpoints: [SockJSEndpoint]
    let routes: [String: SockJSHTTPHandler]
    let registry: SockJSSessionRegistry
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    init(
        configuration: SockJSServerConfiguration,
        endpoints: [SockJSEndpoint],
        routes: [String: SockJSHTTPHandler],
        registry: SockJSSessionRegistry
    ) {
        self.configuration = configuration
        // Longest prefix first, so `/chat/x` wins over `/chat` when both are mounted.
        self.endpoints = endpoints.sorted { $0.prefix.count > $1.prefix.count }
        self.routes = routes
        self.registry = registry
    }

    var logger: Logger { configuration.logger }

    var parserLimits: HTTPRequestParser.Limits {
        .init(maxHeadBytes: configuration.maxRequestHeadBytes, maxBodyBytes: configuration.maxRequestBodyBytes)
    }

    /// The endpoint whose prefix `path` is under, and the rest of the path.
    func endpoint(for path: Substring) -> (SockJSEndpoint, Substring)? {
        for e in endpoints where path.hasPrefix(e.prefix) {
            let rest = path.dropFirst(e.prefix.count)
            if rest.isEmpty || rest.first == "/" { return (e, rest) }
        }
        return nil
    }

    func connectionOpened(_ channel: any Channel) {
        channels.withLock { $0[ObjectIdentifier(channel)] = channel }
    }

    func connectionClosed(_ channel: any Channel) {
        channels.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    var openConnections: [any Channel] { channels.withLock { Array($0.values) } }
}

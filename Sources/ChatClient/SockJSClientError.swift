import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Turns connection errors into the one sentence a user of the load tester needs.
enum SockJSClientError {
    static func describeConnectFailure(_ error: any Error, endpoint: SockJSEndpoint) -> String {
        if let failure = error as? NIOConnectionError {
            let refused = failure.connectionErrors.contains { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }
            if refused {
                return "Nothing is listening at \(endpoint): start the server there or pass its address with --url."
            }
            if failure.dnsAError != nil || failure.dnsAAAAError != nil {
                return "The host of \(endpoint) could not be resolved: check the --url."
            }
        }
        if let error = error as? IOError, error.errnoCode == ECONNREFUSED {
            return "Nothing is listening at \(endpoint): start the server there or pass its address with --url."
        }
        if case .connectTimeout = error as? ChannelError {
            return "Connecting to \(endpoint) timed out: check that the server runs and is reachable."
        }
        return "Could not connect to \(endpoint): \(error)."
    }
}

import NIOCore
import NIOPosix

/// Turns connection errors into the one sentence a user of the load tester needs.
enum SockJSClientError {
    static func describeConnectFailure(_ error: any Error, endpoint: SockJSEndpoint) -> String {
        if error is NIOConnectionError || "\(error)".contains("connection refused") || "\(error)".contains("Connection refused") {
            return "Nothing is listening at \(endpoint): start the server there or pass its address with --url."
        }
        if error is ChannelError, case .connectTimeout = error as? ChannelError {
            return "Connecting to \(endpoint) timed out: check that the server runs and is reachable."
        }
        return "Could not connect to \(endpoint): \(error)."
    }
}

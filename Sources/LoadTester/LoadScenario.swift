import ChatClient
import NIOCore

/// Everything one load run does, resolved from the command line.
struct LoadScenario: Sendable {
    var endpoints: [SockJSEndpoint]
    var clients: Int
    var transports: TransportMix
    var rooms: Int
    /// Public messages per second per client.
    var rate: Double
    /// Private messages per second per client.
    var privateRate: Double
    /// Seconds of sending.
    var duration: Double
    /// New connections per second.
    var ramp: Double
    /// Seconds to wait after sending for what is still on its way.
    var drain: Double
    /// Extra characters in each message text.
    var padding: Int
    /// Seconds between progress lines.
    var progressInterval: Double
    /// Event loop threads carrying the clients.
    var threads: Int
    /// Server processes to watch (explicit, or found by port when the URL is local).
    var serverPIDs: [Int32]
    var naming: LoadNaming
    /// Faults injected on the client side (tests only; the command line never sets them).
    var faults = InjectedFaults()
    /// `--faults`: clients reconnect, rejoin, resend and catch up; only loss of a `sent` message
    /// (and leaks, wrong senders) fails the run. See `LoadTester+Faults.swift`.
    var faultTolerant = false
    /// `--faults`: seconds to wait at the end for every client to see every client online.
    var presenceTimeout = 30.0
    /// `--resume-drops`: which clients drop once while sending, when and for how long; they
    /// rejoin naming their room's last `seq`. See `LoadTester+Resume.swift`.
    var resumeDrops: ResumeDrops?
    /// `--rejoin-away`: after every client joined, all close their sessions at once, stay away
    /// this many seconds, and rejoin at `ramp` by their device session (the HMAC token on a
    /// server from before device sessions). See `LoadTester+Rejoin.swift`.
    var rejoinAway: Double?
    /// `--local-addresses N`: clients connect from 127.0.0.1 to 127.0.0.N in turn (one source
    /// address has about 28,000 ephemeral ports toward one server port); 1: the system picks.
    var localAddresses = 1

    var plan: LoadPlan { LoadPlan(naming: naming, clients: clients, rooms: rooms) }

    /// The endpoint of client `index`: the members of each room (clients `index % rooms`) go
    /// round-robin over the nodes, so every room has members on every node and public messages
    /// cross nodes (plain `index % nodes`, with 2 rooms and 2 nodes, put each room on one node).
    func endpoint(for index: Int) -> SockJSEndpoint {
        let rooms = max(1, rooms)
        var endpoint = endpoints[(index % rooms + index / rooms) % endpoints.count]
        endpoint.localAddress = Self.localAddress(for: index, of: localAddresses)
        return endpoint
    }

    /// Client `index`'s source address among `count` loopback addresses (127.0.0.1 to
    /// 127.0.0.count, in turn); nil for one address (the system picks).
    static func localAddress(for index: Int, of count: Int) -> SocketAddress? {
        guard count > 1 else { return nil }
        return try? SocketAddress(ipAddress: "127.0.0.\(1 + index % count)", port: 0)
    }

    /// How long to wait for every client to join.
    var joinTimeout: Double { Double(clients) / ramp + 30 }
}

/// A fault a test injects into a run, to show that the verifier catches what a broken server
/// would cause, end to end, through real sessions: a receiving client that ignores one
/// delivery sees exactly what it would see if the server had lost that message.
struct InjectedFaults: Sendable, Equatable {
    /// Client → the ordinal (0-based) of the public message delivered to it that it ignores.
    var ignorePublicDelivery: [Int: Int] = [:]
}

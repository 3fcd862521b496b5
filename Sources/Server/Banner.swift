/// What `rabbitChat` prints once it listens: where to point a browser, which broker, which node.
struct Banner {
    let configuration: ServerConfiguration
    let port: Int
    let nodeId: String
    let secretCreated: Bool
    /// This machine's addresses on the network, named when the server listens on all of them.
    var networkAddresses: [String] = []

    /// The URL a person should open. A wildcard address is not something to browse to, so the
    /// banner shows this machine's loopback URL and says the page is on the network too.
    var url: String {
        let host = configuration.host
        if host == "0.0.0.0" || host == "::" || host == "[::]" { return "\(scheme)://127.0.0.1:\(port)/" }
        return host.contains(":") ? "\(scheme)://[\(host)]:\(port)/" : "\(scheme)://\(host):\(port)/"
    }

    /// `https` with `--tls-cert`, else `http`.
    var scheme: String { configuration.usesTLS ? "https" : "http" }

    /// What the banner says about TLS: the certificate in use, or a warning when tokens and
    /// messages would cross a network in clear (not said for a loopback `--host`).
    var tlsLine: String? {
        if configuration.usesTLS, let certificate = configuration.tlsCertificate {
            return "  TLS:     https:// and wss:// with the certificate \(certificate)"
        }
        if ServerConfiguration.isLoopback(configuration.host) { return nil }
        return "  warning: no TLS: nick tokens and messages cross the network in clear; give --tls-cert and --tls-key to serve https://"
    }

    var brokerLine: String {
        switch configuration.broker {
        case .embedded:
            if let directory = configuration.dataDirectory {
                "built-in, durable: data in \(directory)"
            } else {
                "built-in, in memory: everything is lost when it stops"
            }
        case .rabbitMQ(let urls):
            "RabbitMQ at " + urls.map(ServerConfiguration.redacted).joined(separator: ", ")
        }
    }

    var text: String {
        var lines = [
            "rabbitChat is running. Open \(url) in a browser.",
            "  broker:  \(brokerLine)",
            "  node id: \(nodeId)",
            "  secret:  \(configuration.secretFile)\(secretCreated ? " (created now; give this file to every node of the chat)" : "")",
        ]
        if configuration.host == "0.0.0.0" || configuration.host == "::" {
            let others = networkAddresses.map { "\(scheme)://\($0):\(port)/" }
            lines.append(
                "  serving every network interface: others open "
                    + (others.isEmpty ? "\(scheme)://<this machine's address>:\(port)/" : others.joined(separator: " or ")))
        }
        if let tlsLine { lines.append(tlsLine) }
        if configuration.sockJSTestServices {
            lines.append("  SockJS test services: /echo /close /disabled_websocket_echo /cookie_needed_echo")
        }
        lines.append("Press Ctrl+C to stop.")
        return lines.joined(separator: "\n")
    }
}

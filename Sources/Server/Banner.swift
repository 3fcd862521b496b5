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
        if host == "0.0.0.0" || host == "::" || host == "[::]" { return "http://127.0.0.1:\(port)/" }
        return host.contains(":") ? "http://[\(host)]:\(port)/" : "http://\(host):\(port)/"
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
            let others = networkAddresses.map { "http://\($0):\(port)/" }
            lines.append("  serving every network interface: others open "
                + (others.isEmpty ? "http://<this machine's address>:\(port)/" : others.joined(separator: " or ")))
        }
        if configuration.sockJSTestServices {
            lines.append("  SockJS test services: /echo /close /disabled_websocket_echo /cookie_needed_echo")
        }
        lines.append("Press Ctrl+C to stop.")
        return lines.joined(separator: "\n")
    }
}

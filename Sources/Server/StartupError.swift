/// A problem that stops the server from starting, said as one sentence that tells the user
/// what to do next. `rabbitChat` prints it on standard error and exits with status 1.
struct StartupError: Error, CustomStringConvertible {
    /// The sentence shown to the user.
    let description: String

    init(_ sentence: String) {
        self.description = sentence
    }

    static func portInUse(host: String, port: Int) -> StartupError {
        StartupError(
            "Port \(port) on \(host) is already in use; stop the program that holds it or choose another port with --port."
        )
    }

    static func cannotListen(host: String, port: Int, reason: String) -> StartupError {
        StartupError(
            "Cannot listen on \(host):\(port) (\(reason)); check --host and --port."
        )
    }

    static func sockJSClientMissing(path: String) -> StartupError {
        StartupError(
            "The SockJS browser library was not found at \(path); install it with `apt-get install -y node-sockjs-client` or point --sockjs-client at a copy of sockjs.min.js."
        )
    }

    static func brokerUnreachable(url: String, reason: String) -> StartupError {
        StartupError(
            "Cannot connect to RabbitMQ at \(url) (\(reason)); start RabbitMQ (for example `scripts/rabbitmq.sh start`), fix --broker, or leave --broker out to use the built-in broker."
        )
    }

    static func badBrokerURL(_ url: String) -> StartupError {
        StartupError(
            "The broker URL \(url) is not valid; write it as amqp://user:password@host:port/vhost."
        )
    }
}

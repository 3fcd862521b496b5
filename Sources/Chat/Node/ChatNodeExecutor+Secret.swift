import Broker

/// Every node uses the same secret (Specs/amqp-topology.md): a starting node says its secret's
/// fingerprint in a `hello` on the presence exchange; each running node answers with its own;
/// after `secretCheckWindow` without a different one the node serves joins, else it refuses.
/// ``CatchUpMachine`` decides; these are its broker calls.
extension ChatNodeExecutor {
    /// Publishes this node's `hello` on link `generation`; the machine ends the check
    /// `secretCheckWindow` after it went out (if that link still stands; else the next one
    /// says it again).
    func sayHello(generation: Int, on channel: any BrokerChannel) {
        let hello = BrokerRecord(kind: .hello, node: nodeId, fingerprint: fingerprint)
        Task {
            do {
                try await channel.publish(
                    OutgoingMessage(body: hello.body, properties: MessageProperties(type: "hello")),
                    exchange: topology.presenceExchange, routingKey: "", mandatory: false)
            } catch {
                return  // the connection is going: the next one says hello again
            }
            self.run(self.catchUp.helloSent(generation: generation, now: .now))
        }
    }

    /// A `hello` from a starting node or a `fingerprint` answering ours.
    func onSecretRecord(_ record: BrokerRecord) {
        guard let node = record.node, let theirs = record.fingerprint else { return }
        switch record.kind {
        case .hello:
            run(catchUp.secretRecord(.hello(node: node, fingerprint: theirs)))
        case .fingerprint:
            run(catchUp.secretRecord(.fingerprint(node: node, to: record.to, fingerprint: theirs)))
        default:
            return
        }
    }

    /// Answers a starting node's `hello` with this node's fingerprint.
    func answerHello(_ node: String) async {
        let answer = BrokerRecord(kind: .fingerprint, to: node, node: nodeId, fingerprint: fingerprint)
        guard let channel = try? await publisher() else { return }
        _ = try? await channel.publish(
            OutgoingMessage(body: answer.body, properties: MessageProperties(type: "fingerprint")),
            exchange: topology.presenceExchange, routingKey: "", mandatory: false)
    }

    /// This node's secret is not the chat's: it says so, closes its broker connection (so
    /// ``ChatNode/run()`` ends with ``ChatNodeRefused``) and has served no join. What it left
    /// (its `hello`, an empty roster, its auto-deleted node queue) does not disturb the others.
    func refuseToStart(other: (node: String, fingerprint: String)) {
        let sentence =
            "This node's secret file differs from the one the running node \(other.node) uses (fingerprint \(fingerprint), theirs \(other.fingerprint)); give every node of the chat the same secret file (copy it with --secret-file) and start this node again."
        refusal.withLock { $0 = sentence }
        logger.error("\(sentence)")
        if let connection = link?.connection {
            Task { await connection.close() }
        }
    }
}

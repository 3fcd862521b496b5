import Broker

/// Every node uses the same secret (Specs/amqp-topology.md): a starting node says its secret's
/// fingerprint in a `hello` on the presence exchange; each running node answers with its own;
/// after `secretCheckWindow` without a different one the node serves joins, else it refuses.
extension ChatNodeCore {
    /// Publishes this node's `hello` once per connection until the check is over, and ends the
    /// check `secretCheckWindow` later (if that connection still stands; else the next does).
    func startSecretCheck(generation: Int, publishingOn channel: any BrokerChannel) {
        guard !secretChecked, refusal.withLock({ $0 }) == nil else { return }
        let hello = BrokerRecord(kind: .hello, node: nodeId, fingerprint: fingerprint)
        let window = configuration.secretCheckWindow
        Task {
            do {
                try await channel.publish(OutgoingMessage(body: hello.body, properties: MessageProperties(type: "hello")),
                                          exchange: topology.presenceExchange, routingKey: "", mandatory: false)
            } catch {
                return  // the connection is going: the next one says hello again
            }
            try? await Task.sleep(for: window)
            self.finishSecretCheck(generation: generation)
        }
    }

    func finishSecretCheck(generation: Int) {
        guard !secretChecked, refusal.withLock({ $0 }) == nil, link?.generation == generation else { return }
        if let mismatch = secretMismatch {
            refuseToStart(other: mismatch)
            return
        }
        secretChecked = true
        secretConfirmed.store(true, ordering: .relaxed)
        resumeCaughtUpWaitersIfReady()
    }

    /// A `hello` from a starting node or a `fingerprint` answering ours.
    func onSecretRecord(_ record: BrokerRecord) async {
        guard let node = record.node, node != nodeId, let theirs = record.fingerprint else { return }
        switch record.kind {
        case .hello where secretChecked:
            // A running node answers, and goes on whatever the newcomer's secret is.
            if theirs != fingerprint {
                logger.warning("A node with another secret file tried to join the chat; it refuses to start, this node goes on",
                               metadata: ["node": "\(node)", "its fingerprint": "\(theirs)", "this fingerprint": "\(fingerprint)"])
            }
            let answer = BrokerRecord(kind: .fingerprint, to: node, node: nodeId, fingerprint: fingerprint)
            guard let channel = try? await publisher() else { return }
            _ = try? await channel.publish(OutgoingMessage(body: answer.body, properties: MessageProperties(type: "fingerprint")),
                                           exchange: topology.presenceExchange, routingKey: "", mandatory: false)
        case .hello:
            // Two nodes starting at once with different secrets: both refuse.
            if theirs != fingerprint, secretMismatch == nil { secretMismatch = (node, theirs) }
        case .fingerprint where record.to == nodeId && !secretChecked:
            if theirs != fingerprint, secretMismatch == nil { secretMismatch = (node, theirs) }
        default:
            return
        }
    }

    /// This node's secret is not the chat's: it says so, closes its broker connection (so
    /// ``ChatNode/run()`` ends with ``ChatNodeRefused``) and has served no join. What it left
    /// (its `hello`, an empty roster, its auto-deleted node queue) does not disturb the others.
    func refuseToStart(other: (node: String, fingerprint: String)) {
        let sentence = "This node's secret file differs from the one the running node \(other.node) uses (fingerprint \(fingerprint), theirs \(other.fingerprint)); give every node of the chat the same secret file (copy it with --secret-file) and start this node again."
        refusal.withLock { $0 = sentence }
        logger.error("\(sentence)")
        if let connection = link?.connection {
            Task { await connection.close() }
        }
    }
}

import Broker

/// One binding: a queue bound to an exchange under a key.
struct SimBinding: Hashable {
    let queue: String
    let key: String
    let arguments: AMQPTable
}

/// An exchange and its bindings, with an index per kind so that routing a message is a
/// dictionary lookup (direct), a walk of the bound queues (fanout) or a pattern scan (topic).
final class SimExchange {
    let name: String
    let kind: ExchangeKind
    let durable: Bool
    let autoDelete: Bool
    let arguments: AMQPTable
    /// Every binding, in the order made.
    private(set) var bindings: [SimBinding] = []
    /// The same bindings as a set: binding checks membership in constant time (a node binds one
    /// queue per user; a linear check made N joins cost N² comparisons).
    private var bindingSet: Set<SimBinding> = []
    private var directIndex: [String: [String]] = [:]
    private var topicPatterns: [(pattern: TopicPattern, queue: String)] = []

    init(name: String, kind: ExchangeKind, durable: Bool, autoDelete: Bool, arguments: AMQPTable) {
        self.name = name
        self.kind = kind
        self.durable = durable
        self.autoDelete = autoDelete
        self.arguments = arguments
    }

    /// Adds a binding; binding twice is a no-op, as in AMQP.
    func bind(_ binding: SimBinding) {
        guard bindingSet.insert(binding).inserted else { return }
        bindings.append(binding)
        index(binding)
    }

    /// Removes a binding; returns whether it existed.
    @discardableResult
    func unbind(_ binding: SimBinding) -> Bool {
        guard bindingSet.remove(binding) != nil, let index = bindings.firstIndex(of: binding) else { return false }
        bindings.remove(at: index)
        reindex()
        return true
    }

    /// Removes every binding (the broker is rebuilt from its store).
    func removeAllBindings() {
        bindings = []
        bindingSet = []
        reindex()
    }

    /// Removes every binding of a queue (the queue was deleted); returns how many went.
    @discardableResult
    func unbindAll(queue: String) -> Int {
        let before = bindings.count
        bindings.removeAll { $0.queue == queue }
        if bindings.count != before {
            bindingSet = Set(bindings)
            reindex()
        }
        return before - bindings.count
    }

    /// The names of the queues a message with this routing key goes to, each once.
    func route(_ routingKey: String) -> [String] {
        switch kind {
        case .direct:
            return directIndex[routingKey] ?? []
        case .fanout:
            return uniqued(bindings.map(\.queue))
        case .topic:
            return uniqued(topicPatterns.lazy.filter { $0.pattern.matches(routingKey) }.map(\.queue))
        }
    }

    private func uniqued(_ names: some Sequence<String>) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    private func reindex() {
        directIndex = [:]
        topicPatterns = []
        for binding in bindings { index(binding) }
    }

    /// Adds one binding to the routing index.
    private func index(_ binding: SimBinding) {
        switch kind {
        case .direct:
            if !(directIndex[binding.key]?.contains(binding.queue) ?? false) {
                directIndex[binding.key, default: []].append(binding.queue)
            }
        case .topic:
            topicPatterns.append((TopicPattern(binding.key), binding.queue))
        case .fanout:
            break
        }
    }
}

import Broker

/// The publisher-confirm bookkeeping of one channel: a pure state machine, driven by the
/// connection thread and tested without a broker.
///
/// Publishes are registered in order as groups (one publish, or one batch) and numbered
/// from 1 as AMQP numbers them after `confirm.select`. `basic.ack` / `basic.nack` settle one
/// sequence number or, with `multiple`, every one up to it; a group completes when all its
/// messages are settled, and comes back from the call that settled it with one result per
/// message, so one waiter serves a whole batch.
///
/// A `basic.return` carries no sequence number, and RabbitMQ may return (and confirm) an
/// unroutable message before it confirms earlier routed ones. But returns come in publish
/// order and before their message's own ack, so a return settles the earliest unsettled
/// mandatory message after the previous return that has the same exchange, routing key
/// and body. (Two identical messages are interchangeable, so a tie cannot mislead.)
struct ConfirmTracker<Waiter> {
    /// A group of consecutive publishes with one waiter.
    struct Group {
        let first: UInt64
        var results: [Result<Void, BrokerError>?]
        /// Every index below this one is settled.
        var settledPrefix = 0
        var unsettled: Int
        let waiter: Waiter
        /// What identifies each mandatory message in a return; nil when none is mandatory.
        let returnKeys: [ReturnKey?]?

        var last: UInt64 { first + UInt64(results.count) - 1 }
    }

    /// What a `basic.return` says about the message it returns.
    struct ReturnKey: Equatable {
        let exchange: String
        let routingKey: String
        let body: [UInt8]
    }

    /// A group whose every message is settled, ready to resume its waiter.
    struct Completion {
        let waiter: Waiter
        let results: [Result<Void, BrokerError>]
    }

    /// The sequence number the next publish gets.
    private(set) var nextSequence: UInt64 = 1
    private var groups: [Group] = []
    private var head = 0
    /// The sequence number of the message the last return settled.
    private var lastReturned: UInt64 = 0

    var isEmpty: Bool { head == groups.count }
    var pendingGroups: Int { groups.count - head }

    /// Registers `count` publishes about to be sent, and returns the first one's number.
    /// `returnKeys` has one entry per message, non-nil for the mandatory ones.
    @discardableResult
    mutating func register(count: Int, waiter: Waiter, returnKeys: [ReturnKey?]? = nil) -> UInt64 {
        precondition(count > 0, "a publish group holds at least one message")
        precondition(returnKeys == nil || returnKeys?.count == count, "one return key per message")
        let first = nextSequence
        groups.append(
            Group(
                first: first, results: Array(repeating: nil, count: count), unsettled: count, waiter: waiter,
                returnKeys: returnKeys))
        nextSequence += UInt64(count)
        return first
    }

    /// A `basic.return` arrived: the message it names was not routed. Its result is
    /// settled now; the ack that follows finds it settled.
    mutating func returned(_ key: ReturnKey) -> [Completion] {
        var index = groupIndex(containing: lastReturned + 1) ?? head
        while index < groups.count {
            if let keys = groups[index].returnKeys {
                let start = lastReturned >= groups[index].first ? Int(lastReturned - groups[index].first) + 1 : 0
                for position in start..<keys.count where groups[index].results[position] == nil && keys[position] == key {
                    groups[index].results[position] = .failure(.unroutable(exchange: key.exchange, routingKey: key.routingKey))
                    groups[index].unsettled -= 1
                    lastReturned = groups[index].first + UInt64(position)
                    return collectCompleted(touched: index)
                }
            }
            index += 1
        }
        return []
    }

    /// `basic.ack`.
    mutating func ack(_ tag: UInt64, multiple: Bool) -> [Completion] {
        settle(tag, multiple: multiple, result: .success(()))
    }

    /// `basic.nack`: the broker refused these messages.
    mutating func nack(_ tag: UInt64, multiple: Bool) -> [Completion] {
        settle(tag, multiple: multiple, result: .failure(.nacked))
    }

    /// The channel or connection closed: every unsettled message fails with `error`.
    mutating func failAll(_ error: BrokerError) -> [Completion] {
        var done: [Completion] = []
        for index in head..<groups.count {
            let group = groups[index]
            done.append(Completion(waiter: group.waiter, results: group.results.map { $0 ?? .failure(error) }))
        }
        groups.removeAll()
        head = 0
        return done
    }

    private mutating func settle(_ tag: UInt64, multiple: Bool, result: Result<Void, BrokerError>) -> [Completion] {
        guard tag > 0, !isEmpty else { return [] }
        if multiple {
            var index = head
            while index < groups.count, groups[index].first <= tag {
                let upTo = min(tag, groups[index].last)
                var position = groups[index].settledPrefix
                let end = Int(upTo - groups[index].first)
                while position <= end {
                    if groups[index].results[position] == nil {
                        groups[index].results[position] = result
                        groups[index].unsettled -= 1
                    }
                    position += 1
                }
                groups[index].settledPrefix = max(groups[index].settledPrefix, end + 1)
                index += 1
            }
        } else if let index = groupIndex(containing: tag) {
            let position = Int(tag - groups[index].first)
            if groups[index].results[position] == nil {
                groups[index].results[position] = result
                groups[index].unsettled -= 1
            }
            while groups[index].settledPrefix < groups[index].results.count, groups[index].results[groups[index].settledPrefix] != nil {
                groups[index].settledPrefix += 1
            }
            return collectCompleted(touched: index)
        }
        return collectCompleted()
    }

    private func groupIndex(containing tag: UInt64) -> Int? {
        var low = head
        var high = groups.count - 1
        while low <= high {
            let mid = (low + high) / 2
            if tag < groups[mid].first {
                high = mid - 1
            } else if tag > groups[mid].last {
                low = mid + 1
            } else {
                return mid
            }
        }
        return nil
    }

    /// Takes the completed groups: those at the front (acks mostly come in order), and the
    /// one a single out-of-order ack just completed in the middle.
    private mutating func collectCompleted(touched: Int? = nil) -> [Completion] {
        var done: [Completion] = []
        if let touched, touched > head, groups[touched].unsettled == 0 {
            let group = groups.remove(at: touched)
            done.append(Completion(waiter: group.waiter, results: group.results.map { $0 ?? .success(()) }))
        }
        while head < groups.count, groups[head].unsettled == 0 {
            let group = groups[head]
            done.append(Completion(waiter: group.waiter, results: group.results.map { $0 ?? .success(()) }))
            head += 1
        }
        if head == groups.count {
            groups.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64, head * 2 > groups.count {
            groups.removeFirst(head)
            head = 0
        }
        return done
    }
}

import Broker
import Synchronization

/// What a channel's handle shares with the connection thread: its number and why it closed.
final class ChannelShared: Sendable {
    let id: UInt16
    private let reason = Mutex<BrokerError?>(nil)

    init(id: UInt16) {
        self.id = id
    }

    var closeReason: BrokerError? {
        reason.withLock { $0 }
    }

    /// Records the first reason only: the channel closes once.
    func markClosed(_ error: BrokerError) {
        reason.withLock { if $0 == nil { $0 = error } }
    }

    /// The error every call on the closed channel throws.
    var closedError: BrokerError {
        switch closeReason {
        case .amqp(let code, let text)?: .channelClosed("the broker closed it with \(code) \(text); open a new channel.")
        case .connectionClosed(let why)?: .connectionClosed(why)
        case .channelClosed(let why)?: .channelClosed(why)
        case let other?: .channelClosed(other.description)
        case nil: .channelClosed("it is not open.")
        }
    }
}

/// Who waits for a group of publisher confirms.
enum PublishWaiter {
    case single(CheckedContinuation<Result<Void, BrokerError>, Never>)
    case batch(CheckedContinuation<[Result<Void, BrokerError>], Never>)

    func resume(_ results: [Result<Void, BrokerError>]) {
        switch self {
        case .single(let continuation): continuation.resume(returning: results.first ?? .success(()))
        case .batch(let continuation): continuation.resume(returning: results)
        }
    }
}

/// A channel as its connection thread sees it. Only that thread touches it.
final class ChannelState {
    let shared: ChannelShared
    var confirms = ConfirmTracker<PublishWaiter>()
    var consumers: [String: DeliveryHandOver] = [:]
    /// The per-consumer prefetch the broker applies to the next `basic.consume`.
    var prefetch: UInt16 = 0

    init(shared: ChannelShared) {
        self.shared = shared
    }

    var id: UInt16 { shared.id }
}

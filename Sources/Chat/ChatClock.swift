import FoundationEssentials
import Synchronization

/// Wall-clock time for the chat, in milliseconds since the Unix epoch. Injected so tests can
/// move time (rate limits, dedup, presence expiry) without sleeping.
public protocol ChatClock: Sendable {
    /// Milliseconds since 1970-01-01 00:00 UTC.
    func nowMilliseconds() -> Int64
}

/// The real wall clock.
public struct SystemChatClock: ChatClock {
    public init() {}

    public func nowMilliseconds() -> Int64 {
        let duration = ContinuousClock.now - Self.anchor.continuous
        let (seconds, attoseconds) = duration.components
        return Self.anchor.epochMilliseconds + seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Wall time once at start, then monotonic time from there: timestamps never go back.
    private static let anchor: (continuous: ContinuousClock.Instant, epochMilliseconds: Int64) = {
        (ContinuousClock.now, Int64((Date().timeIntervalSince1970 * 1000).rounded()))
    }()
}

/// A clock that only moves when told to; for tests.
public final class ManualChatClock: ChatClock {
    private let now: Atomic<Int64>

    public init(startingAt milliseconds: Int64 = 1_700_000_000_000) {
        now = Atomic(milliseconds)
    }

    public func nowMilliseconds() -> Int64 { now.load(ordering: .relaxed) }

    /// Moves the clock forward.
    public func advance(by duration: Duration) {
        now.add(duration.milliseconds, ordering: .relaxed)
    }
}

extension Duration {
    /// The duration in whole milliseconds.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// A token bucket per session: `rate` frames per second on average, bursts of `burst`.
/// Frames over the rate are refused (`rate_limited`); a session that keeps on flooding,
/// `strikesToClose` refused frames without an accepted one in between, is closed (4003).
public struct RateLimiter: Sendable, Hashable {
    /// What to do with one incoming frame.
    public enum Decision: Sendable, Hashable {
        case accept
        /// Refuse the frame with `rate_limited`.
        case reject
        /// Refuse it and close the session: it keeps on flooding.
        case close
    }

    public let rate: Double
    public let burst: Double
    public let strikesToClose: Int
    private var tokens: Double
    private var lastRefill: Int64?
    private var strikes = 0

    public init(rate: Double, burst: Double, strikesToClose: Int) {
        self.rate = rate
        self.burst = burst
        self.strikesToClose = strikesToClose
        tokens = burst
    }

    /// Decides about one frame arriving at `now` (milliseconds).
    public mutating func admit(now: Int64) -> Decision {
        if let lastRefill, now > lastRefill {
            tokens = min(burst, tokens + Double(now - lastRefill) * rate / 1000)
        }
        if lastRefill == nil || now > lastRefill! { lastRefill = now }
        if tokens >= 1 {
            tokens -= 1
            strikes = 0
            return .accept
        }
        strikes += 1
        return strikes >= strikesToClose ? .close : .reject
    }
}

import Chat
import Testing

@Suite("Rate limiter")
struct RateLimiterTests {
    @Test func aBurstIsAcceptedThenFramesAreRefused() {
        var limiter = RateLimiter(rate: 20, burst: 50, strikesToClose: 1000)
        let decisions = (0..<60).map { _ in limiter.admit(now: 1000) }
        #expect(decisions.prefix(50).allSatisfy { $0 == .accept })
        #expect(decisions.suffix(10).allSatisfy { $0 == .reject })
    }

    @Test func tokensComeBackAtTheRate() {
        var limiter = RateLimiter(rate: 20, burst: 50, strikesToClose: 1000)
        for _ in 0..<50 { _ = limiter.admit(now: 0) }
        #expect(limiter.admit(now: 0) == .reject)
        #expect(limiter.admit(now: 50) == .accept)
        #expect(limiter.admit(now: 50) == .reject)
        #expect(limiter.admit(now: 1000) == .accept)
    }

    @Test func keepingOnFloodingClosesAndAnAcceptedFrameResetsStrikes() {
        var limiter = RateLimiter(rate: 20, burst: 1, strikesToClose: 3)
        #expect(limiter.admit(now: 0) == .accept)
        #expect(limiter.admit(now: 0) == .reject)
        #expect(limiter.admit(now: 0) == .reject)
        #expect(limiter.admit(now: 50) == .accept)
        #expect(limiter.admit(now: 50) == .reject)
        #expect(limiter.admit(now: 50) == .reject)
        #expect(limiter.admit(now: 50) == .close)
    }

    @Test func timeGoingBackDoesNotMintTokens() {
        var limiter = RateLimiter(rate: 20, burst: 1, strikesToClose: 100)
        #expect(limiter.admit(now: 10_000) == .accept)
        #expect(limiter.admit(now: 0) == .reject)
        #expect(limiter.admit(now: 10_000) == .reject)
    }
}

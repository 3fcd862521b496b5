import Testing

@testable import Chat

/// ``PasswordLimiter`` as values on a manual clock: per nick 5 failures per 15 minutes, per
/// address 20 attempts per minute and 100 per hour, and its capped maps failing closed.
@Suite struct PasswordLimiterTests {
    typealias Limiter = PasswordLimiter<ManualInstant>

    static func at(_ seconds: Int64) -> ManualInstant { ManualInstant(offset: .seconds(seconds)) }

    @Test func fiveFailuresLockANickForFifteenMinutesAndASuccessClearsThem() {
        var limiter = Limiter()
        for second in 0..<5 {
            #expect(limiter.attempt(nick: "alice", address: "10.0.0.\(second)", now: Self.at(Int64(second))) == .allowed)
            limiter.failed(nick: "alice", now: Self.at(Int64(second)))
        }
        #expect(limiter.attempt(nick: "alice", address: "10.0.0.9", now: Self.at(10)) == .limited(retryAfter: .seconds(890)))
        #expect(limiter.attempt(nick: "bob", address: "10.0.0.9", now: Self.at(10)) == .allowed, "another nick is not locked")
        #expect(limiter.attempt(nick: "alice", address: "10.0.0.9", now: Self.at(900)) == .allowed, "the oldest failure left the window")
        limiter.succeeded(nick: "alice")
        #expect(limiter.nickFailures["alice"] == nil)
        for second in 901..<905 {
            #expect(limiter.attempt(nick: "alice", address: "10.0.0.8", now: Self.at(Int64(second))) == .allowed)
            limiter.failed(nick: "alice", now: Self.at(Int64(second)))
        }
        #expect(limiter.attempt(nick: "alice", address: "10.0.0.7", now: Self.at(905)) == .allowed, "four failures since the success")
    }

    @Test func anAddressHasTwentyAttemptsAMinuteAndAHundredAnHour() {
        var limiter = Limiter()
        for index in 0..<20 {
            #expect(limiter.attempt(nick: "n\(index)", address: "192.0.2.1", now: Self.at(0)) == .allowed)
        }
        #expect(limiter.attempt(nick: "x", address: "192.0.2.1", now: Self.at(30)) == .limited(retryAfter: .seconds(30)))
        #expect(limiter.attempt(nick: "x", address: "192.0.2.2", now: Self.at(30)) == .allowed, "another address is not limited")
        var now: Int64 = 60
        var allowed = 20
        while allowed < 100 {
            for _ in 0..<20 {
                #expect(limiter.attempt(nick: "y", address: "192.0.2.1", now: Self.at(now)) == .allowed)
                allowed += 1
            }
            now += 60
        }
        #expect(limiter.attempt(nick: "y", address: "192.0.2.1", now: Self.at(now)) == .limited(retryAfter: .seconds(3600 - now)))
        #expect(limiter.attempt(nick: "y", address: "192.0.2.1", now: Self.at(3600)) == .allowed)
    }

    @Test func fullMapsRefuseNewcomersUntilAnEntryExpires() {
        var limits = Limiter.Limits()
        limits.maxNicks = 2
        limits.maxAddresses = 3
        var limiter = Limiter(limits: limits)
        for (index, nick) in ["a", "b"].enumerated() {
            #expect(limiter.attempt(nick: nick, address: "10.0.0.\(index)", now: Self.at(0)) == .allowed)
            limiter.failed(nick: nick, now: Self.at(0))
        }
        #expect(limiter.attempt(nick: "c", address: "10.0.0.2", now: Self.at(1)) == .limited(retryAfter: .seconds(60)))
        #expect(limiter.nickFailures.count == 2)
        #expect(limiter.attempt(nick: "a", address: "10.0.0.2", now: Self.at(1)) == .allowed, "a nick already in the map")
        #expect(limiter.attempt(nick: "x", address: "10.0.0.3", now: Self.at(2)) == .limited(retryAfter: .seconds(60)))
        #expect(limiter.addressAttempts.count == 3)
        #expect(limiter.attempt(nick: "c", address: "10.0.0.2", now: Self.at(3600)) == .allowed, "expired nicks are pruned")
        #expect(limiter.nickFailures.count == 0)
        #expect(limiter.attempt(nick: "c", address: "10.0.0.3", now: Self.at(3600)) == .allowed, "expired addresses are pruned")
        #expect(limiter.addressAttempts.count == 2)
    }
}

/// ``PasswordHash``: scrypt at the Specs' parameters, verified in constant time.
@Suite struct PasswordHashTests {
    @Test func aHashVerifiesItsPasswordOnlyAndRefusesCostlyParameters() throws {
        let hash = try PasswordHash.make(password: "correct horse battery staple")
        #expect(hash.n == 32768 && hash.r == 8 && hash.p == 1 && hash.salt.count == 16 && hash.hash.count == 32)
        #expect(try hash.verify("correct horse battery staple"))
        #expect(try !hash.verify("correct horse battery stapler"))
        let again = try PasswordHash.make(password: "correct horse battery staple")
        #expect(again.salt != hash.salt && again.hash != hash.hash, "a fresh salt each time")
        var costly = hash
        costly.n = 1 << 24
        #expect(throws: PasswordHash.Failure.badParameters) { try costly.verify("correct horse battery staple") }
        costly.n = 1000
        #expect(throws: PasswordHash.Failure.badParameters) { try costly.verify("correct horse battery staple") }
        // Each parameter within its own range, together 128 · 2^20 · 32 · 4 bytes = 16 GiB.
        costly.n = 1 << 20
        costly.r = 32
        costly.p = 4
        #expect(throws: PasswordHash.Failure.badParameters) { try costly.verify("correct horse battery staple") }
    }
}

@testable import Chat
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

@Suite("Dedup window")
struct DedupWindowTests {
    typealias Entry = DedupWindow.Entry

    @Test func aRememberedIdIsFoundWithItsMsgId() {
        var window = DedupWindow(capacity: 10, windowMilliseconds: 1000)
        window.insert("c1", Entry(msgId: "m1", ts: 0, confirmed: false), now: 0)
        window.confirm("c1")
        #expect(window.lookup("c1", now: 500) == Entry(msgId: "m1", ts: 0, confirmed: true))
        #expect(window.lookup("c2", now: 500) == nil)
    }

    @Test func idsOlderThanTheWindowAreForgotten() {
        var window = DedupWindow(capacity: 10, windowMilliseconds: 1000)
        window.insert("old", Entry(msgId: "m1", ts: 0, confirmed: true), now: 0)
        window.insert("new", Entry(msgId: "m2", ts: 900, confirmed: true), now: 900)
        #expect(window.lookup("old", now: 1001) == nil)
        #expect(window.lookup("new", now: 1001) != nil)
    }

    @Test func theOldestIdsGoWhenFull() {
        var window = DedupWindow(capacity: 3, windowMilliseconds: 1_000_000)
        for n in 0..<5 { window.insert("c\(n)", Entry(msgId: "m\(n)", ts: Int64(n), confirmed: true), now: Int64(n)) }
        #expect(window.count == 3)
        #expect(window.lookup("c1", now: 5) == nil)
        #expect(window.lookup("c2", now: 5) != nil)
        #expect(window.lookup("c4", now: 5) != nil)
    }

    @Test func aFailedPublishIsRemovedSoARetryPublishesAgain() {
        var window = DedupWindow(capacity: 3, windowMilliseconds: 1000)
        window.insert("c1", Entry(msgId: "m1", ts: 0, confirmed: false), now: 0)
        window.remove("c1")
        #expect(window.lookup("c1", now: 1) == nil)
    }
}

@Suite("Nick tokens and message ids")
struct NickTokenTests {
    let secret: [UInt8] = Array("a shared secret of the cluster".utf8)

    @Test func aTokenVerifiesForItsNickOnly() {
        let tokens = NickToken(secret: secret)
        let token = tokens.token(for: "alice")
        #expect(tokens.verify(token, for: "alice"))
        #expect(!tokens.verify(token, for: "alicf"))
        #expect(!tokens.verify(token, for: "Alice"))
    }

    @Test func aTokenUnderAnotherSecretDoesNotVerify() {
        let other = NickToken(secret: Array("another secret".utf8)).token(for: "alice")
        #expect(!NickToken(secret: secret).verify(other, for: "alice"))
    }

    @Test func malformedTokensAreRejected() {
        let tokens = NickToken(secret: secret)
        let token = tokens.token(for: "alice")
        for bad in ["", "x", String(token.dropLast()), token + "A", "!!!!", String(repeating: "A", count: 43)] {
            #expect(!tokens.verify(bad, for: "alice"))
        }
    }

    @Test func tokensAreUrlSafeBase64OfA32ByteMac() {
        let token = NickToken(secret: secret).token(for: "alice")
        #expect(token.count == 43)
        #expect(token.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
    }

    @Test func msgIdIsStableForSenderAndIdAndDiffersOtherwise() {
        let ids = MessageIDs(secret: secret)
        let first = ids.messageId(sender: "alice", clientId: "c1")
        #expect(first == MessageIDs(secret: secret).messageId(sender: "alice", clientId: "c1"))
        #expect(first != ids.messageId(sender: "alice", clientId: "c2"))
        #expect(first != ids.messageId(sender: "bob", clientId: "c1"))
        #expect(ids.messageId(sender: "a", clientId: "b\u{0}c") != ids.messageId(sender: "a\u{0}b", clientId: "c"))
        #expect(first.count == 32)
    }
}

@Suite("Presence table")
struct PresenceTableTests {
    typealias Change = PresenceTable.Change

    @Test func aNickIsOnlineWhileAnyLiveNodeListsIt() {
        var table = PresenceTable(expiryMilliseconds: 10_000)
        #expect(table.apply(node: "n1", nicks: ["alice"], now: 0) == [Change(nick: "alice", online: true)])
        #expect(table.apply(node: "n2", nicks: ["alice", "bob"], now: 0) == [Change(nick: "bob", online: true)])
        #expect(table.apply(node: "n1", nicks: [], now: 1) == [])
        #expect(table.isOnline("alice"))
        #expect(table.apply(node: "n2", nicks: ["bob"], now: 2) == [Change(nick: "alice", online: false)])
    }

    @Test func aSilentNodeExpiresAndItsUsersGoOffline() {
        var table = PresenceTable(expiryMilliseconds: 10_000)
        _ = table.apply(node: "n1", nicks: ["alice"], now: 0)
        _ = table.apply(node: "n2", nicks: ["bob"], now: 5_000)
        #expect(table.expire(now: 10_000) == [])
        #expect(table.expire(now: 10_001) == [Change(nick: "alice", online: false)])
        #expect(table.onlineNicks == ["bob"])
        #expect(table.apply(node: "n1", nicks: ["alice"], now: 11_000) == [Change(nick: "alice", online: true)])
    }

    @Test func repeatingAnAnnouncementChangesNothing() {
        var table = PresenceTable(expiryMilliseconds: 10_000)
        _ = table.apply(node: "n1", nicks: ["alice", "bob"], now: 0)
        #expect(table.apply(node: "n1", nicks: ["alice", "bob"], now: 1).isEmpty)
    }
}

@Suite("Room history index")
struct RoomHistoryTests {
    func message(_ seq: Int64) -> ChatMessage {
        ChatMessage(msgId: "m\(seq)", from: "a", room: "r", text: "t\(seq)", ts: seq, seq: seq)
    }

    @Test func keepsTheNewestUpToCapacityOldestFirst() {
        var history = RoomHistory(capacity: 3)
        for seq in 1...5 { history.append(message(Int64(seq)), room: "r") }
        #expect(history.messages(in: "r", limit: 10).map(\.seq) == [3, 4, 5])
        #expect(history.messages(in: "r", limit: 2).map(\.seq) == [4, 5])
        #expect(history.messages(in: "other", limit: 2).isEmpty)
    }

    @Test func beforeIsExclusiveAndGivesTheNewestOlderOnes() {
        var history = RoomHistory(capacity: 100)
        for seq in [2, 4, 6, 8, 10] { history.append(message(Int64(seq)), room: "r") }
        #expect(history.messages(in: "r", before: 8, limit: 2).map(\.seq) == [4, 6])
        #expect(history.messages(in: "r", before: 7, limit: 10).map(\.seq) == [2, 4, 6])
        #expect(history.messages(in: "r", before: 2, limit: 10).isEmpty)
    }

    @Test func roomNamesAreSorted() {
        var history = RoomHistory(capacity: 1)
        history.append(message(1), room: "zeta")
        history.append(message(2), room: "alpha")
        #expect(history.roomNames == ["alpha", "zeta"])
    }
}

import Chat
import Testing

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

    @Test func aNodesOwnSessionsJoiningAndLeavingChangeOnlyTheirNick() {
        var table = PresenceTable(expiryMilliseconds: 10_000)
        _ = table.apply(node: "n2", nicks: ["bob"], now: 0)
        #expect(table.update(node: "n1", nick: "alice", online: true, now: 1) == [Change(nick: "alice", online: true)])
        #expect(table.update(node: "n1", nick: "alice", online: true, now: 2) == [])
        #expect(table.update(node: "n1", nick: "bob", online: true, now: 3) == [], "bob is already online on n2")
        #expect(table.roster(of: "n1") == ["alice", "bob"])
        #expect(table.update(node: "n1", nick: "alice", online: false, now: 4) == [Change(nick: "alice", online: false)])
        #expect(table.update(node: "n1", nick: "bob", online: false, now: 5) == [])
        #expect(table.isOnline("bob"))
        #expect(table.roster(of: "n1").isEmpty)
        #expect(table.apply(node: "n1", nicks: ["carol"], now: 6) == [Change(nick: "carol", online: true)])
    }
}

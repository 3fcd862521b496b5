import Chat
import Testing

@Suite("Roster snapshot")
struct RosterSnapshotTests {
    static let users = [
        UserStatus(nick: "bob", online: false),
        UserStatus(nick: "dan", online: true),
        UserStatus(nick: "fay", online: false),
    ]

    /// What the frame codec writes for `users`: the snapshot's bytes must be exactly these.
    static func encoded(_ users: [UserStatus]) -> String {
        let text = ChatFrameCodec.encode(.welcome(Welcome(nick: "x", token: "t", users: users, rooms: [], entered: [], history: [:])))
        let start = text.firstRange(of: #""users":"#)!.upperBound
        return String(text[start...].dropLast())
    }

    @Test(arguments: ["aaron", "bob", "cat", "dan", "fay", "zed"])
    func theJoiningNickIsOnlineInItsPlaceWhetherListedOrNot(_ nick: String) {
        let snapshot = RosterSnapshot(users: Self.users)
        let expected = snapshot.users(withOnline: nick)
        #expect(expected.map(\.nick) == expected.map(\.nick).sorted())
        #expect(expected.filter { $0.nick == nick } == [UserStatus(nick: nick, online: true)])
        #expect(expected.count == Self.users.count + (Self.users.contains { $0.nick == nick } ? 0 : 1))
        #expect(snapshot.json(withOnline: nick) == Self.encoded(expected))
    }

    @Test func anEmptyRosterHoldsOnlyTheJoiningNick() {
        let snapshot = RosterSnapshot(users: [])
        #expect(snapshot.json(withOnline: "ann") == #"[{"nick":"ann","online":true}]"#)
        #expect(snapshot.users(withOnline: "ann") == [UserStatus(nick: "ann", online: true)])
    }

    @Test func aNickThatIsNotAValidNameIsStillEncodedAsJSON() {
        let odd = [UserStatus(nick: "a\"b", online: false), UserStatus(nick: "c", online: true)]
        let snapshot = RosterSnapshot(users: odd)
        #expect(snapshot.json(withOnline: "d") == Self.encoded(snapshot.users(withOnline: "d")))
    }

    @Test func aSplicedWelcomeIsByteForByteTheEncodedOne() {
        let snapshot = RosterSnapshot(users: Self.users)
        let users = snapshot.users(withOnline: "cat")
        let message = ChatMessage(msgId: "m", from: "bob", room: "lobby", text: "hi", ts: 1, seq: 3)
        let welcome = Welcome(nick: "cat", token: "t", users: users, rooms: ["lobby"], entered: ["lobby"], history: ["lobby": [message]])
        var head = welcome
        head.users = []
        let spliced = ChatFrameCodec.encodeWelcome(head, usersJSON: snapshot.json(withOnline: "cat")) { users }
        #expect(spliced == ChatFrameCodec.encode(.welcome(welcome)))
    }
}

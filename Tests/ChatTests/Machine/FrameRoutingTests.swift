import Testing

@testable import Chat

/// The routing of client frames (``FrameRouting``) alone: values in, a route out; no broker,
/// no session, no clock.
@Suite("FrameRouting")
struct FrameRoutingTests {
    static let alice: (nick: String, rooms: SessionRooms) = ("alice", ["lobby", "dev"])

    static func route(
        _ frame: ClientFrame, joined: (nick: String, rooms: SessionRooms)? = alice, order: SendOrderHold.Verdict = .proceed, typing: Bool = true
    ) -> FrameRoute {
        FrameRouting.route(frame, joined: joined, order: { _ in order }, typingAdmitted: { typing })
    }

    @Test func aFrameBeforeTheJoinIsNotJoinedWithItsIdAndAJoinAlwaysGoesToTheJoin() {
        let say = ClientFrame.say(SayRequest(id: "c1", text: "hi"))
        #expect(
            Self.route(say, joined: nil)
                == .answer(ChatProtocolError(.notJoined, "Join first: send a join frame with your nick.", id: "c1"), refused: false))
        let join = JoinRequest(nick: "alice")
        #expect(Self.route(.join(join), joined: nil) == .join(join))
        #expect(Self.route(.join(join)) == .join(join), "a second join is the join machine's to refuse")
    }

    @Test func aFrameBehindARefusedOneIsUnavailableNamingTheIdWaitedFor() {
        let tell = ClientFrame.tell(TellRequest(id: "c2", to: "bob", text: "psst"))
        let route = Self.route(tell, order: .refuse(waitingFor: "c1"))
        #expect(
            route
                == .answer(
                    ChatProtocolError(.unavailable, "Your earlier message c1 was not accepted: send it again first, then this one.", id: "c2"), refused: true))
        #expect(Self.route(tell) == .tell(id: "c2", to: "bob", text: "psst"))
        // Frames without an id are never held back.
        #expect(Self.route(.ack(AckRequest(msgIds: ["m1"])), order: .refuse(waitingFor: "c1")) == .ack(msgIds: ["m1"]))
    }

    @Test func aSayGoesToTheLobbyByDefaultAndOnlyToARoomTheSessionIsIn() {
        #expect(Self.route(.say(SayRequest(id: "c1", text: "hi"))) == .say(id: "c1", room: "lobby", text: "hi"))
        #expect(Self.route(.say(SayRequest(id: "c2", room: "dev", text: "build"))) == .say(id: "c2", room: "dev", text: "build"))
        #expect(
            Self.route(.say(SayRequest(id: "c3", room: "ops", text: "x")))
                == .answer(ChatProtocolError(.notInRoom, "You are not in the room ops: enter it first.", id: "c3"), refused: false))
    }

    @Test func typingReachesItsRoomOrAddresseeAndOverItsRateIsDroppedSilently() {
        #expect(Self.route(.typing(TypingRequest(room: "dev"))) == .typing(room: "dev", to: nil, routingKey: "typing.room.dev"))
        #expect(Self.route(.typing(TypingRequest(to: "bob"))) == .typing(room: nil, to: "bob", routingKey: "typing.user.bob"))
        #expect(Self.route(.typing(TypingRequest(room: "dev")), typing: false) == .drop)
        // Not in the room: answered, and the rate is not even asked.
        var asked = false
        let route = FrameRouting.route(
            .typing(TypingRequest(room: "ops")), joined: Self.alice, order: { _ in .proceed },
            typingAdmitted: {
                asked = true
                return true
            })
        #expect(route == .answer(ChatProtocolError(.notInRoom, "You are not in the room ops: enter it first.", id: nil), refused: false))
        #expect(!asked)
    }

    @Test func theOtherFramesGoToTheirHandlersWithTheirDefaults() {
        #expect(Self.route(.enter(RoomRequest(room: "ops"))) == .enter(room: "ops"))
        #expect(Self.route(.leave(RoomRequest(room: "dev"))) == .leave(room: "dev"))
        let history = HistoryRequest(room: "dev", after: 7)
        #expect(Self.route(.history(history)) == .history(history))
        #expect(Self.route(.users(UsersRequest())) == .users(prefix: "", limit: ClientFrame.defaultUsersLimit))
        #expect(Self.route(.users(UsersRequest(prefix: "al", limit: 3))) == .users(prefix: "al", limit: 3))
        #expect(Self.route(.devices(DevicesRequest())) == .devices)
        #expect(Self.route(.signOut(SignOutRequest())) == .signOut(device: nil, everywhere: false), "this device")
        #expect(Self.route(.signOut(SignOutRequest(device: "e9b2c4f01a7d"))) == .signOut(device: "e9b2c4f01a7d", everywhere: false))
        #expect(Self.route(.signOut(SignOutRequest(everywhere: true))) == .signOut(device: nil, everywhere: true))
    }
}

import Chat
import Testing

@Suite("Presence batch")
struct PresenceBatchTests {
    typealias Change = PresenceTable.Change

    @Test func changesOfOneIntervalLeaveAsOneFrameWithSortedLists() {
        var batch = PresenceBatch()
        batch.add([Change(nick: "carol", online: true), Change(nick: "alice", online: true)])
        batch.add([Change(nick: "bob", online: false)])
        #expect(batch.count == 3)
        #expect(batch.take(ts: 7) == Presence(online: ["alice", "carol"], offline: ["bob"], ts: 7))
        #expect(batch.isEmpty)
        #expect(batch.take(ts: 8) == nil, "an empty batch sends nothing")
    }

    @Test func aNickThatChangesAgainKeepsOnlyItsNewestState() {
        var batch = PresenceBatch()
        batch.add([Change(nick: "alice", online: true)])
        batch.add([Change(nick: "alice", online: false), Change(nick: "bob", online: true)])
        batch.add([Change(nick: "bob", online: false)])
        #expect(batch.count == 2)
        #expect(batch.take(ts: 1) == Presence(online: [], offline: ["alice", "bob"], ts: 1))
    }

    @Test func aThousandJoinsCostEachSessionOneFrame() {
        var batch = PresenceBatch()
        for n in 0..<1000 { batch.add([Change(nick: "user\(n)", online: true)]) }
        let frame = batch.take(ts: 1)
        #expect(frame?.online.count == 1000)
        #expect(frame?.online == (0..<1000).map { "user\($0)" }.sorted())
    }

    @Test func thePresenceFrameEncodesAsTheGoldenExampleShows() throws {
        let frame = ServerFrame.presence(Presence(online: ["bob"], offline: ["carol"], ts: 1_700_000_002_000))
        #expect(ChatFrameCodec.encode(frame) == #"{"offline":["carol"],"online":["bob"],"ts":1700000002000,"type":"presence"}"#)
        #expect(try ChatFrameCodec.decodeServerFrame(ChatFrameCodec.encode(frame)) == frame)
        #expect(Presence(nick: "dan", online: false, ts: 1) == Presence(online: [], offline: ["dan"], ts: 1))
        #expect(Presence(online: ["a"], offline: ["b"], ts: 1).status(of: "b") == false)
        #expect(Presence(online: ["a"], offline: ["b"], ts: 1).status(of: "c") == nil)
    }
}

import Testing

@testable import Chat

/// Drives a ``HistoryMachine``'s end probe as the node's executor does, without a broker, tasks
/// or sleeps: it keeps the probe's timer as a value, fires it when the manual clock passes its
/// deadline, and records each answer.
struct HistoryProbeHarness {
    typealias Machine = HistoryMachine<ManualInstant>

    static let timeout = Duration.seconds(5)

    var machine = Machine(history: RoomHistory(capacity: 100), probeTimeout: Self.timeout)
    var now = ManualInstant(offset: .zero)
    var timers: [Int: ManualInstant] = [:]
    /// Each probe's answer (nil inside: the end is unknown).
    var answers: [Int: Int64?] = [:]

    mutating func note(_ actions: [Machine.ProbeAction]) {
        for action in actions {
            switch action {
            case .startTimer(let timer): timers[timer.probe] = timer.deadline
            case .cancelTimer(let probe): timers.removeValue(forKey: probe)
            case .answer(let probe, let end):
                #expect(answers[probe] == nil, "a probe is answered once")
                answers[probe] = end
            }
        }
    }

    mutating func start() -> Int {
        let (probe, actions) = machine.probeStarted(now: now)
        note(actions)
        return probe
    }

    /// Moves the clock by `duration` and fires the timers due.
    mutating func advance(by duration: Duration) {
        now = now.advanced(by: duration)
        for (probe, deadline) in timers.sorted(by: { $0.key < $1.key }) where deadline <= now {
            timers.removeValue(forKey: probe)
            note(machine.probeTimerFired(probe))
        }
    }
}

/// The history stream's reading and the end probe (Specs/chat-protocol.md, "Delivery
/// guarantees") on ``HistoryMachine`` alone: no broker, no tasks, a manual clock, no sleeps.
@Suite("HistoryMachine")
struct HistoryMachineTests {
    typealias Machine = HistoryMachine<ManualInstant>

    static func say(_ n: Int, room: String) -> BrokerRecord {
        BrokerRecord(kind: .say, msgId: "m\(n)", from: "bob", room: room, text: "text \(n)", ts: Int64(1000 + n))
    }

    static func frame(_ n: Int, room: String, offset: Int64) -> String {
        ChatFrameCodec.encode(.message(ChatMessage(msgId: "m\(n)", from: "bob", room: room, text: "text \(n)", ts: Int64(1000 + n), seq: offset)))
    }

    @Test func aBatchIsIndexedReadBackAndSentOncePerRoomToRoomsWithLocalMembersOnly() {
        var machine = Machine(history: RoomHistory(capacity: 100), probeTimeout: .seconds(5))
        let batch: [Machine.Record] = [
            .init(offset: 10, body: Self.say(1, room: "lobby").body),
            .init(offset: 11, body: Self.say(2, room: "dev").body),
            .init(offset: 12, body: Self.say(3, room: "lobby").body),
            .init(offset: 13, body: BrokerRecord(kind: .sync, node: "b", marker: "b/1").body),
            .init(offset: 14, body: Array("not json".utf8)),
            .init(offset: 15, body: Self.say(4, room: "Bad Room!").body),
        ]
        var asked: [String] = []
        let actions = machine.read(batch) { room in
            asked.append(room)
            return room == "lobby"
        }
        #expect(
            actions == [
                .readUpTo(offset: 10), .readBack(msgId: "m1"), .readUpTo(offset: 11), .readBack(msgId: "m2"), .readUpTo(offset: 12),
                .readBack(msgId: "m3"), .readUpTo(offset: 13), .readUpTo(offset: 14), .skippedUnreadable, .readUpTo(offset: 15),
                .send(room: "lobby", frames: [Self.frame(1, room: "lobby", offset: 10), Self.frame(3, room: "lobby", offset: 12)]),
            ])
        #expect(asked == ["lobby", "dev"], "each room is looked up once per batch")
        #expect(machine.history.messages(in: "lobby", limit: 10).map(\.seq) == [10, 12])
        #expect(machine.history.messages(in: "dev", limit: 10).map(\.msgId) == ["m2"])
        #expect(machine.lastOffset == 15 && machine.recordsRead == 6)

        // The next batch asks again: membership may have changed between batches.
        let next = machine.read([.init(offset: 16, body: Self.say(5, room: "dev").body)]) { _ in true }
        #expect(next == [.readUpTo(offset: 16), .readBack(msgId: "m5"), .send(room: "dev", frames: [Self.frame(5, room: "dev", offset: 16)])])
    }

    @Test func aRoomsMessagesOfOneBatchGoInRunsOfAtMostTheFrameLimitInStreamOrder() {
        var machine = Machine(history: RoomHistory(capacity: 100), probeTimeout: .seconds(5), frameLimit: 2)
        let batch = (1...5).map { Machine.Record(offset: Int64($0), body: Self.say($0, room: "lobby").body) }
        let sends = machine.read(batch) { _ in true }.compactMap { action -> [String]? in
            if case .send(_, let frames) = action { frames } else { nil }
        }
        #expect(sends == [[1, 2], [3, 4], [5]].map { $0.map { Self.frame($0, room: "lobby", offset: Int64($0)) } })
    }

    /// The one `history` frame of an answer (nil when it is anything else, a `gap` included).
    static func onlyHistory(_ frames: [ServerFrame]) -> History? {
        guard frames.count == 1, case .history(let history) = frames[0] else { return nil }
        return history
    }

    @Test func anEnterAndAHistoryPageGiveTheNewestWithinTheirLimitsAndSayWhetherOlderAreKept() {
        var machine = Machine(history: RoomHistory(capacity: 100), probeTimeout: .seconds(5))
        let batch = (1...8).map { Machine.Record(offset: Int64($0), body: Self.say($0, room: "lobby").body) }
        _ = machine.read(batch) { _ in false }
        let limits = ChatLimits(historyOnJoin: 5)
        let entered = machine.entered("lobby", limits: limits)
        #expect(entered.room == "lobby" && entered.history.map(\.seq) == [4, 5, 6, 7, 8] && entered.more)
        #expect(machine.entered("empty", limits: limits) == Entered(room: "empty", history: [], more: false))
        let page = Self.onlyHistory(machine.page(HistoryRequest(room: "lobby", before: 4, limit: 2), limits: limits))
        #expect(page?.messages.map(\.seq) == [2, 3] && page?.more == true)
        let first = Self.onlyHistory(machine.page(HistoryRequest(room: "lobby", before: 3), limits: limits))
        #expect(first?.messages.map(\.seq) == [1, 2] && first?.more == false, "the default limit takes the rest")
        // With `after`: the oldest after it, in order; the node read the room from offset 1 on.
        let after = Self.onlyHistory(machine.page(HistoryRequest(room: "lobby", after: 5), limits: limits))
        #expect(after?.messages.map(\.seq) == [6, 7, 8] && after?.more == false && after?.after == 5)
        var tight = limits
        tight.historyBytesPerReply = RoomHistory.cost(of: ChatMessage(msgId: "m1", from: "bob", room: "lobby", text: "text 1", ts: 1001, seq: 1)) * 2
        #expect(machine.entered("lobby", limits: tight).history.map(\.seq) == [7, 8])
    }

    @Test func aLinkReadsOnAfterTheLastRecordReadElseABoundedPartBackFromTheEnd() {
        var machine = Machine(history: RoomHistory(capacity: 100), probeTimeout: .seconds(5))
        #expect(machine.start(end: nil, readOnStart: 20_000) == .first)
        #expect(machine.start(end: 50_000, readOnStart: 20_000) == .offset(30_000))
        #expect(machine.start(end: 10, readOnStart: 20_000) == .offset(0))
        _ = machine.read([.init(offset: 41, body: Self.say(1, room: "lobby").body)]) { _ in false }
        #expect(machine.start(end: 50_000, readOnStart: 20_000) == .offset(42))
    }

    @Test func theEndProbeIsAnsweredByItsFirstDeliveryOrByItsConsumersEnd() {
        var probes = HistoryProbeHarness()
        let first = probes.start()
        #expect(probes.timers[first] == ManualInstant(offset: HistoryProbeHarness.timeout))
        probes.advance(by: .seconds(1))
        probes.note(probes.machine.probeRead(first, offset: 42))
        #expect(probes.answers[first] == .some(42) && probes.timers.isEmpty && probes.machine.probe == nil)
        probes.note(probes.machine.probeTimerFired(first))
        #expect(probes.answers.count == 1, "a fired timer of an answered probe changes nothing")

        let second = probes.start()
        probes.note(probes.machine.probeRead(second, offset: nil))
        #expect(probes.answers[second] == .some(nil) && probes.timers.isEmpty)
    }

    @Test func theEndProbeWithoutADeliveryBeforeItsDeadlineLeavesTheEndUnknown() {
        var probes = HistoryProbeHarness()
        let probe = probes.start()
        probes.advance(by: HistoryProbeHarness.timeout - .milliseconds(1))
        #expect(probes.answers.isEmpty)
        probes.advance(by: .milliseconds(1))
        #expect(probes.answers[probe] == .some(nil) && probes.machine.probe == nil)
        probes.note(probes.machine.probeRead(probe, offset: 7))
        #expect(probes.answers[probe] == .some(nil), "a late delivery changes nothing")

        // A probe started while another runs answers the older one first (unknown).
        let older = probes.start()
        let newer = probes.start()
        #expect(probes.answers[older] == .some(nil) && probes.timers.keys.sorted() == [newer])
    }
}

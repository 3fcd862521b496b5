import Chat
import ServerTestSupport
import Synchronization
import Testing

/// An outlet that notes the instant its welcome (or a refusal) came, and hands over the frame:
/// no polling between the node's `send` and the measurement.
final class TimedOutlet: ChatOutlet {
    private let answers: AsyncStream<(String, ContinuousClock.Instant)>
    private let continuation: AsyncStream<(String, ContinuousClock.Instant)>.Continuation

    init() {
        (answers, continuation) = AsyncStream.makeStream(of: (String, ContinuousClock.Instant).self)
    }

    func send(_ text: String) {
        guard text.contains(#""type":"welcome""#) || text.contains(#""type":"error""#) else { return }
        continuation.yield((text, ContinuousClock.now))
    }

    func close(code: Int, reason: String) { continuation.finish() }

    /// The first welcome or error, and when it was sent.
    func answer() async throws -> (ServerFrame, ContinuousClock.Instant) {
        for await (text, at) in answers { return (try ChatFrameCodec.decodeServerFrame(text), at) }
        throw TimedOut("the session closed before its join was answered")
    }
}

/// Issue 16 ("joins by session token cost no more than today's joins"): joins by a device's
/// session token and by the old HMAC token, timed side by side in the same minute on one node,
/// alternating, each nick joined once (its earlier session gone), from `join` sent to `welcome`.
/// The medians are printed (`join cost`); what is checked is what each kind of join did: a
/// session join signs its device in again, an HMAC-token join makes a new device.
@Suite("Join cost: session token vs HMAC token", .timeLimit(.minutes(5)))
struct JoinCostTests {
    static let joins = 60

    @Test(arguments: [BackendKind.inMemory, BackendKind.rabbitMQ])
    func joinsBySessionTokenAndByTheHmacTokenTimedSideBySide(_ kind: BackendKind) async throws {
        try await withCluster(kind) { cluster in
            let bySession = (0..<Self.joins).map { "bysession\($0)" }
            let byToken = (0..<Self.joins).map { "bytoken\($0)" }
            for nick in bySession + byToken { cluster.uses(nick) }
            try await cluster.start("a")
            var welcomes: [String: Welcome] = [:]
            for nick in bySession + byToken {
                let client = cluster.client(on: "a")
                welcomes[nick] = try await client.join(nick)
                client.session.disconnected()
            }
            // Each earlier session let go of its inbox before the timed joins.
            let node = cluster.node("a")
            try await eventually("the first sessions to end") { await node.queueDepths().inboxes == 0 }

            /// One timed join: from handing the frame to the session to the node sending the welcome.
            func timedJoin(_ request: JoinRequest) async throws -> (Welcome, Duration) {
                let outlet = TimedOutlet()
                let session = node.attach(outlet)
                let start = ContinuousClock.now
                session.receive(ChatFrameCodec.encode(.join(request)))
                let (frame, at) = try await outlet.answer()
                session.disconnected()
                guard case .welcome(let welcome) = frame else { throw TimedOut("\(request.nick) was refused: \(frame)") }
                return (welcome, at - start)
            }

            var sessionTimes: [Duration] = []
            var tokenTimes: [Duration] = []
            for index in 0..<Self.joins {
                let first = try #require(welcomes[bySession[index]])
                let (again, bySessionTime) = try await timedJoin(JoinRequest(nick: bySession[index], session: first.session))
                sessionTimes.append(bySessionTime)
                #expect(again.device == first.device && again.session == first.session, "the same device")

                let tokenFirst = try #require(welcomes[byToken[index]])
                let (tokenAgain, byTokenTime) = try await timedJoin(JoinRequest(nick: byToken[index], token: tokenFirst.token))
                tokenTimes.append(byTokenTime)
                #expect(tokenAgain.device != tokenFirst.device, "a new device")
            }
            func median(_ times: [Duration]) -> Duration { times.sorted()[times.count / 2] }
            func p90(_ times: [Duration]) -> Duration { times.sorted()[times.count * 9 / 10] }
            print(
                "join cost (\(kind), \(Self.joins) each, alternating): session token median \(median(sessionTimes)), p90 \(p90(sessionTimes)); "
                    + "HMAC token median \(median(tokenTimes)), p90 \(p90(tokenTimes))")
            #expect(sessionTimes.count == Self.joins && tokenTimes.count == Self.joins)
        }
    }
}

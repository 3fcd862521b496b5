import ChatClient
import ChatProtocol

/// How a client of a `--resume-drops` run follows its room across drops: `ChatClient`'s
/// `ResumePositions` keeps the position it names when it rejoins and says which messages are
/// new; this adds what the verifier needs (Specs/chat-protocol.md, "Resume without gaps"):
/// while a resume runs (from the rejoin's welcome to the `history` page without `more`) the new
/// messages, paged or live, are held and handed over in `seq` order when it ends, so the ledger
/// sees the room in order; a message `ResumePositions` drops as one the client has is a
/// repeat, allowed only where the spec allows it (a `seq` listed by a page of this resume that
/// also came live); everything else it drops is a duplicate from the server. Pure: frames in,
/// outcomes out.
struct RoomResume: Sendable {
    /// A message for the ledger: `recovered` when it came through the resume frames or pages.
    struct Delivery: Sendable, Equatable {
        var message: ChatMessage
        var recovered: Bool
    }

    /// What one frame (or the rejoin's welcome) asks of the client.
    struct Outcome: Sendable, Equatable {
        /// New messages to record, in order.
        var deliveries: [Delivery] = []
        /// Messages `ResumePositions` dropped as ones the client has: `allowed` when the spec allows the repeat.
        var repeats: [(message: ChatMessage, allowed: Bool)] = []
        /// A `gap` for the room: what lay between `after` and `next` is not served.
        var gap: Gap?
        /// Ask `history` with this `after` (the resume's `history` said `more`).
        var pageAfter: Int64?
        /// The resume ended with this frame: held messages are in `deliveries`; resend now.
        var finished = false

        static func == (lhs: Outcome, rhs: Outcome) -> Bool {
            lhs.deliveries == rhs.deliveries && lhs.gap == rhs.gap && lhs.pageAfter == rhs.pageAfter && lhs.finished == rhs.finished
                && lhs.repeats.map(\.message) == rhs.repeats.map(\.message) && lhs.repeats.map(\.allowed) == rhs.repeats.map(\.allowed)
        }
    }

    let room: String
    private(set) var positions = ResumePositions()
    /// Between the rejoin's welcome and the end of its paging.
    private(set) var isResuming = false
    /// The rejoin named a position, so a `history` with `after` is due before the resume ends.
    private var awaitingResumeHistory = false
    /// New messages held while resuming, by `seq`.
    private var held: [Int64: Delivery] = [:]
    /// `seq`s that came in a page of the current or last resume, and live: a repeat of one of
    /// them (once) is the overlap the spec allows. Emptied at the next drop.
    private var paged: Set<Int64> = []
    private var live: Set<Int64> = []

    init(room: String) { self.room = room }

    /// The join's `resume` after a drop: the room's position, when the client has one.
    var resumeRequest: [String: Int64] { positions.resume(for: [room]) }

    /// The client rejoined and got its welcome; `resumed` says whether the join named a position.
    mutating func rejoined(_ welcome: Welcome, resumed: Bool) -> Outcome {
        isResuming = true
        awaitingResumeHistory = resumed
        held = [:]
        paged = []
        live = []
        var outcome = Outcome()
        hold(positions.observe(.welcome(welcome)), in: welcome.history[room] ?? [], recovered: true, outcome: &outcome)
        finishIfDone(&outcome)
        return outcome
    }

    /// A frame after the first welcome (`message`, `history`, `gap`; others change nothing).
    mutating func received(_ frame: ServerFrame) -> Outcome {
        var outcome = Outcome()
        switch frame {
        case .message(let message) where message.room == room:
            let fresh = positions.observe(frame)
            if let seq = message.seq {
                if isResuming { live.insert(seq) }
                if fresh.isEmpty {
                    outcome.repeats.append((message, paged.remove(seq) != nil))
                    return outcome
                }
            }
            if isResuming {
                hold(fresh, in: [message], recovered: false, outcome: &outcome)
            } else {
                outcome.deliveries = fresh.map { Delivery(message: $0, recovered: false) }
            }
        case .history(let history) where history.room == room && history.after != nil:
            let fresh = positions.observe(frame)
            let freshSeqs = Set(fresh.compactMap(\.seq))
            for message in history.messages {
                guard let seq = message.seq else { continue }
                if freshSeqs.contains(seq) {
                    paged.insert(seq)
                } else {
                    outcome.repeats.append((message, live.remove(seq) != nil))
                }
            }
            awaitingResumeHistory = false
            if isResuming {
                hold(fresh, in: [], recovered: true, outcome: &outcome)
            } else {
                outcome.deliveries = fresh.map { Delivery(message: $0, recovered: true) }
            }
            if let after = positions.pagingAfter(in: room) {
                outcome.pageAfter = after
            } else {
                finishIfDone(&outcome)
            }
        case .gap(let gap) where gap.room == room:
            _ = positions.observe(frame)
            outcome.gap = gap
        default:
            break
        }
        return outcome
    }

    /// Holds `fresh` while resuming; repeats in `frame` that `fresh` left out are reported.
    private mutating func hold(_ fresh: [ChatMessage], in frame: [ChatMessage], recovered: Bool, outcome: inout Outcome) {
        let freshSeqs = Set(fresh.compactMap(\.seq))
        for message in frame {
            if let seq = message.seq, !freshSeqs.contains(seq) { outcome.repeats.append((message, false)) }
        }
        for message in fresh {
            guard let seq = message.seq else { continue }
            held[seq] = Delivery(message: message, recovered: recovered)
        }
    }

    /// Ends the resume once its `history` came and no page is due: the held messages go out in `seq` order.
    private mutating func finishIfDone(_ outcome: inout Outcome) {
        guard isResuming, !awaitingResumeHistory, positions.pagingAfter(in: room) == nil else { return }
        isResuming = false
        outcome.deliveries += held.keys.sorted().compactMap { held[$0] }
        held = [:]
        outcome.finished = true
    }
}

/// Keeps one session's `say`/`tell` frames in the order the client sent them when some of them
/// are refused as not accepted (`unavailable`, `rate_limited`): newer ones would otherwise go
/// through before the client's resends and overtake them. From the first refusal on, a newer
/// `say`/`tell` runs only if it is the oldest refused one coming again (same `id`); any other is
/// refused too and joins the refused ones. A client that resends refused messages oldest first
/// gets them all through, in order, and then its newer ones.
///
/// Pure value: the session records refusals and asks before running each frame. Frames are
/// numbered by the session in arrival order (their admission number); a frame refused on
/// arrival (rate limit, full queue) sits between two admission numbers, a frame refused when it
/// ran at its own number.
struct SendOrderHold: Sendable, Hashable {
    /// A refused frame the session waits for.
    struct Held: Sendable, Hashable {
        var id: String
        /// Where it sits in the session's arrival order: twice its admission number, plus one
        /// for a frame refused on arrival after admission number `n` (it came after `n`).
        var position: UInt64
    }

    /// The most refused ids remembered. Overflow rule: a refusal beyond it is not remembered,
    /// so that frame, when it comes again, is refused until the ones before it went through
    /// and then runs in turn like any newer frame.
    static let capacity = 1024

    /// The refused frames, oldest (by position) first.
    private(set) var held: [Held] = []
    /// The refused frame whose resend the last ``check(id:admission:)`` let through: if that
    /// resend is refused again, it goes back to the front, still the one waited for.
    private var lifted: Held?

    /// What to do with a `say`/`tell` about to run.
    enum Verdict: Sendable, Hashable {
        case proceed
        /// Refuse it (`unavailable`): the older frame with this id must come again first.
        case refuse(waitingFor: String)
    }

    init() {}

    /// The frame with admission number `admission` was refused when it ran (called before the
    /// session's next frame is checked).
    mutating func refusedWhenRun(id: String, admission: UInt64) {
        if let lifted, lifted.id == id {
            self.lifted = nil
            held.insert(lifted, at: 0)
            return
        }
        hold(Held(id: id, position: admission * 2))
    }

    /// A frame was refused on arrival, after the frame with admission number `lastAdmitted`.
    mutating func refusedOnArrival(id: String, lastAdmitted: UInt64) {
        hold(Held(id: id, position: lastAdmitted * 2 + 1))
    }

    /// Whether the `say`/`tell` with `id` and admission number `admission` may run. Frames that
    /// came before the oldest refused one always run; after it, only that one's resend, which
    /// makes the next refused one the one waited for.
    mutating func check(id: String, admission: UInt64) -> Verdict {
        lifted = nil
        guard let oldest = held.first else { return .proceed }
        if admission * 2 <= oldest.position { return .proceed }
        if id == oldest.id {
            lifted = held.removeFirst()
            return .proceed
        }
        hold(Held(id: id, position: admission * 2))
        return .refuse(waitingFor: oldest.id)
    }

    /// Adds a refusal in arrival order; an id already waiting keeps its place.
    private mutating func hold(_ candidate: Held) {
        guard !held.contains(where: { $0.id == candidate.id }), held.count < Self.capacity else { return }
        let index = held.firstIndex { $0.position > candidate.position } ?? held.endIndex
        held.insert(candidate, at: index)
    }
}

/// Keeps one session's `say`/`tell` frames in the order the client sent them when one of them
/// is refused as not accepted (`unavailable`, `rate_limited`): later ones would otherwise go
/// through before the client's resend of the refused one and overtake it. From the refusal on,
/// every newer `say`/`tell` is refused too, until the refused one comes again (same `id`); a
/// client that resends refused messages oldest first then gets them all through in order.
///
/// Pure value: the session records refusals and asks before running each frame. Frames are
/// numbered by the session in arrival order (their admission number); a refusal at arrival
/// (rate limit, full queue) sits between two admission numbers, a refusal of a frame that ran
/// (publish failed) at that frame's number.
struct SendOrderHold: Sendable, Hashable {
    /// The refused frame the session waits for.
    struct Held: Sendable, Hashable {
        var id: String
        /// Where it sits in the session's arrival order: twice its admission number, plus one
        /// for a frame refused on arrival after admission number `n` (it came after `n`).
        var position: UInt64
    }

    private(set) var held: Held?

    /// What to do with a `say`/`tell` about to run.
    enum Verdict: Sendable, Hashable {
        case proceed
        /// Refuse it (`unavailable`): the older frame with this id must come again first.
        case refuse(waitingFor: String)
    }

    init() {}

    /// The frame with admission number `admission` was refused when it ran.
    mutating func refusedWhenRun(id: String, admission: UInt64) {
        hold(Held(id: id, position: admission * 2))
    }

    /// A frame was refused on arrival, after the frame with admission number `lastAdmitted`.
    mutating func refusedOnArrival(id: String, lastAdmitted: UInt64) {
        hold(Held(id: id, position: lastAdmitted * 2 + 1))
    }

    /// Whether the `say`/`tell` with `id` and admission number `admission` may run. The held
    /// frame's own resend lifts the hold; frames that came before the held one always run.
    mutating func check(id: String, admission: UInt64) -> Verdict {
        guard let held else { return .proceed }
        if admission * 2 <= held.position { return .proceed }
        if id == held.id {
            self.held = nil
            return .proceed
        }
        return .refuse(waitingFor: held.id)
    }

    /// Keeps the oldest refusal: the client resends oldest first, so that one comes first.
    private mutating func hold(_ candidate: Held) {
        if let held, held.position <= candidate.position { return }
        held = candidate
    }
}

/// `--resume-drops`: a share of the clients drop their connection once while sending (a clean
/// close of the transport, as when a laptop loses Wi-Fi), stay away for a few seconds, then
/// rejoin (on the next node when there are several) naming their last `seq` of their room
/// (Specs/chat-protocol.md, "Resume without gaps"). Public messages must still reach every
/// member exactly once, in order, with no `gap`; private ones at least once (the inbox
/// redelivers what was not acked; duplicates are dropped by `msgId` and counted).
struct ResumeDrops: Sendable, Equatable {
    /// The share of clients (0 to 1) that drop once; spread evenly over the clients.
    var share: Double
    /// How long a dropped client stays away, in seconds.
    var away: ClosedRange<Double> = 1...5
    /// When in the sending phase the drop comes, as parts of its duration.
    var moment: ClosedRange<Double> = 0.1...0.6

    /// Whether client `index` drops: `share` of the clients, spread evenly.
    func drops(_ index: Int) -> Bool {
        share > 0 && Int((Double(index + 1) * share).rounded(.down)) > Int((Double(index) * share).rounded(.down))
    }

    /// How many of `clients` drop.
    func droppingClients(of clients: Int) -> Int { (0..<clients).filter(drops).count }
}

/// What a `--resume-drops` run counted, summed over the clients.
struct ResumeFigures: Sendable, Equatable, Codable {
    /// Connections the clients closed on purpose.
    var drops = 0
    /// Rejoins after a drop that named the room's last `seq`.
    var resumes = 0
    /// Rejoins on another node than the one dropped.
    var toOtherNode = 0
    /// Public messages that came back through the resume frames and `history` pages with `after`.
    var recovered = 0
    /// `history` requests with `after` (a resume's frame said `more`).
    var pages = 0
    /// Messages a resume page listed that also came live (kept once, as the spec allows).
    var pageRepeats = 0
    /// The client's own messages whose `sent` was lost with the drop, confirmed by their copy in the room.
    var confirmedByOwnCopy = 0
    /// `gap` frames (each also a violation).
    var gaps = 0

    mutating func add(_ other: ResumeFigures) {
        drops += other.drops
        resumes += other.resumes
        toOtherNode += other.toOtherNode
        recovered += other.recovered
        pages += other.pages
        pageRepeats += other.pageRepeats
        confirmedByOwnCopy += other.confirmedByOwnCopy
        gaps += other.gaps
    }

    /// The summary's line; `privateDuplicates`: private messages that came again and were dropped by `msgId`.
    func summary(privateDuplicates: Int) -> String {
        "resume      \(drops) drops, \(resumes) resumes (\(toOtherNode) on another node), \(recovered) messages recovered by resume in \(pages) extra pages, "
            + "\(pageRepeats) page repeats kept once, \(confirmedByOwnCopy) own messages confirmed by their copy, \(gaps) gaps; "
            + "private: \(privateDuplicates) redelivered duplicates dropped by msgId"
    }
}

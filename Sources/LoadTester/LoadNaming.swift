/// The names one load run uses: nicks and rooms carry a run tag, so two runs (or a human in the
/// lobby) never mix, and a receiver can map a nick or room back to its index without a table.
struct LoadNaming: Sendable, Equatable {
    /// A short tag unique to this run (letters and digits).
    let run: String

    /// `lt<run>u<index>`: fits the nick rule `^[A-Za-z0-9_.-]{1,32}$` for any run tag of ≤ 16 characters.
    func nick(_ index: Int) -> String { "lt\(run)u\(index)" }

    /// `lt<run>r<index>`.
    func room(_ index: Int) -> String { "lt\(run)r\(index)" }

    /// The client index of a nick of this run, or nil for anyone else.
    func clientIndex(ofNick nick: String) -> Int? { index(in: nick, marker: "u") }

    /// The room index of a room name of this run, or nil for any other room.
    func roomIndex(ofRoom room: String) -> Int? { index(in: room, marker: "r") }

    private func index(in name: String, marker: Character) -> Int? {
        let prefix = "lt\(run)\(marker)"
        guard name.hasPrefix(prefix) else { return nil }
        let digits = name.dropFirst(prefix.count)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = Int(digits), value >= 0 else { return nil }
        return value
    }

    /// A fresh random run tag.
    static func randomRun() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
        return String((0..<6).map { _ in alphabet.randomElement()! })
    }
}

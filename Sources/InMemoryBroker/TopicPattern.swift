/// A topic exchange binding key, split into words once, matched against routing keys.
///
/// Words are separated by `.`; `*` matches exactly one word and `#` zero or more words,
/// as AMQP 0-9-1 topic exchanges do.
struct TopicPattern: Hashable {
    let words: [Substring]

    init(_ key: String) {
        words = key.split(separator: ".", omittingEmptySubsequences: false)
    }

    func matches(_ routingKey: String) -> Bool {
        let key = routingKey.split(separator: ".", omittingEmptySubsequences: false)
        return Self.match(words[...], key[...])
    }

    private static func match(_ pattern: ArraySlice<Substring>, _ key: ArraySlice<Substring>) -> Bool {
        guard let head = pattern.first else { return key.isEmpty }
        if head == "#" {
            let rest = pattern.dropFirst()
            if rest.isEmpty { return true }
            var tail = key
            while true {
                if match(rest, tail) { return true }
                if tail.isEmpty { return false }
                tail = tail.dropFirst()
            }
        }
        guard let word = key.first else { return false }
        return (head == "*" || head == word) && match(pattern.dropFirst(), key.dropFirst())
    }
}

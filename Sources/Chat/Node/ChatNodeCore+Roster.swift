extension ChatNodeCore {
    /// Whether session `id` joined or has a join under way (the join timeout spares it).
    func hasJoinedOrIsJoining(_ id: UInt64) -> Bool {
        sessions[id] != nil || joining.contains(id)
    }

    /// The next ``Claim/seen`` tick.
    func nextSeen() -> UInt64 {
        seenCounter += 1
        return seenCounter
    }

    /// The welcome's `users` before the joining nick is added: every online nick, then the
    /// most recently seen offline ones, `welcomeRoster` at most (the joining nick is added when
    /// not among them), sorted by nick (Specs/chat-protocol.md, "The bounded welcome").
    func welcomeRosterUsers() -> [UserStatus] {
        let cap = max(0, configuration.limits.welcomeRoster)
        guard claims.count > cap else {
            return claims.keys.sorted().map { UserStatus(nick: $0, online: presence.isOnline($0)) }
        }
        // Online first, then by how recently seen; ties (none: ticks are unique) by nick.
        var ranked: [(nick: String, online: Bool, seen: UInt64)] = []
        ranked.reserveCapacity(claims.count)
        for (nick, claim) in claims { ranked.append((nick, presence.isOnline(nick), claim.seen)) }
        ranked.sort { a, b in
            if a.online != b.online { return a.online }
            return a.seen > b.seen
        }
        return ranked.prefix(cap).map { UserStatus(nick: $0.nick, online: $0.online) }.sorted { $0.nick < $1.nick }
    }

    /// The answer to `users`: the claimed nicks starting with `prefix`, sorted, at most `limit`.
    func findUsers(prefix: String, limit: Int) -> UsersList {
        let nicks: [String]
        if let cached = sortedNicksCache {
            nicks = cached
        } else {
            nicks = claims.keys.sorted()
            sortedNicksCache = nicks
        }
        // The first nick not below `prefix` (binary search), then those that start with it.
        var low = 0
        var high = nicks.count
        while low < high {
            let mid = (low + high) / 2
            if nicks[mid] < prefix { low = mid + 1 } else { high = mid }
        }
        var users: [UserStatus] = []
        var index = low
        while index < nicks.count, users.count <= limit, nicks[index].hasPrefix(prefix) {
            users.append(UserStatus(nick: nicks[index], online: presence.isOnline(nicks[index])))
            index += 1
        }
        let more = users.count > limit
        if more { users.removeLast() }
        return UsersList(prefix: prefix, users: users, more: more)
    }
}

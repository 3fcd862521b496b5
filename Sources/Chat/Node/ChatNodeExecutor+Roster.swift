extension ChatNodeExecutor {
    /// The welcome's `users` before the joining nick is added (``ClaimsMachine/welcomeRosterUsers(cap:isOnline:)``).
    func welcomeRosterUsers() -> [UserStatus] {
        claimsMachine.welcomeRosterUsers(cap: configuration.limits.welcomeRoster) { presence.isOnline($0) }
    }

    /// The answer to `users`: the claimed nicks starting with `prefix`, sorted, at most `limit`.
    func findUsers(prefix: String, limit: Int) -> UsersList {
        claimsMachine.findUsers(prefix: prefix, limit: limit) { presence.isOnline($0) }
    }
}

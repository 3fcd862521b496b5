extension ChatFrameCodec {
    /// Encodes `welcome` with `usersJSON` (an encoded `[UserStatus]`) as its `users`, without
    /// decoding or re-encoding the roster: a node encodes its roster once per presence flush,
    /// and each welcome copies those bytes. The result is byte for byte what ``encode(_:)``
    /// gives for the same welcome with those users (`users` builds them should the layout
    /// ever differ).
    public static func encodeWelcome(_ welcome: Welcome, usersJSON: String, users: () -> [UserStatus]) -> String {
        var head = welcome
        head.users = []
        let text = encode(.welcome(head))
        // Keys are sorted and `users` sorts last among a welcome's keys, so the text ends with
        // the empty array it holds and the closing brace.
        guard text.hasSuffix(#""users":[]}"#) else {
            head.users = users()
            return encode(.welcome(head))
        }
        return text.dropLast(3) + usersJSON + "}"
    }
}

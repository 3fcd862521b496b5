/// The close codes the chat uses besides SockJS's own.
public enum ChatCloseCode {
    /// The same nick joined elsewhere.
    public static let replaced = 4001
    /// The outbound queue overflowed (the transport closes with it).
    public static let tooSlow = 4002
    /// Still over the rate limit after warnings.
    public static let flooding = 4003
    /// No successful join within ``ChatConfiguration/joinTimeout`` of connecting.
    public static let joinTimeout = 4004
    /// This session's device was signed out (`signOut` on any device, `rabbitChat user passwd/delete`).
    public static let signedOut = 4005
}

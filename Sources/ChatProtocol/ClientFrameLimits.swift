/// The limits a client frame is checked against when it is decoded: the part of the chat's
/// limits (`ChatLimits` in Chat) that the frame codec needs. Defaults are the documented ones.
public struct ClientFrameLimits: Sendable, Hashable {
    /// Maximum length of a message text, in Unicode scalar values.
    public var maxTextScalars: Int
    /// Maximum size of one client frame, in UTF-8 bytes.
    public var maxFrameBytes: Int

    public init(maxTextScalars: Int = 4000, maxFrameBytes: Int = 64 * 1024) {
        self.maxTextScalars = maxTextScalars
        self.maxFrameBytes = maxFrameBytes
    }
}

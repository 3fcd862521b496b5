@_exported import ChatProtocol

extension ChatLimits {
    /// The limits the frame codec checks a client frame against.
    public var frames: ClientFrameLimits {
        ClientFrameLimits(maxTextScalars: maxTextScalars, maxFrameBytes: maxFrameBytes)
    }
}

extension ChatFrameCodec {
    /// Decodes and validates one client frame against the chat's limits; see
    /// the codec's own `decodeClientFrame(_:limits:)`.
    public static func decodeClientFrame(_ text: String, limits: ChatLimits) throws(ChatProtocolError) -> ClientFrame {
        try decodeClientFrame(text, limits: limits.frames)
    }
}

extension ClientFrame {
    /// Checks every field against the protocol's rules and the chat's limits.
    public func validate(limits: ChatLimits) throws(ChatProtocolError) {
        try validate(limits: limits.frames)
    }
}

import FuzzChecks

/// libFuzzer's entry point: one input through the chat frame codec checks (see `FuzzTarget.chatFrames`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.chatFrames.fuzzOne(data, size)
}

/// Fuzzes under libFuzzer when built by `scripts/fuzz.sh`; replays files given as arguments otherwise.
@main
enum FuzzChatFrames {
    static func main() {
        FuzzTarget.chatFrames.main(testOneInput: fuzzOneInput)
    }
}

import FuzzChecks

/// libFuzzer's entry point: one input through the websocket frame checks (see `FuzzTarget.webSocketFrames`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.webSocketFrames.fuzzOne(data, size)
}

/// Fuzzes under libFuzzer when built by `scripts/fuzz.sh`; replays files given as arguments otherwise.
@main
enum FuzzWebSocketFrames {
    static func main() {
        FuzzTarget.webSocketFrames.main(testOneInput: fuzzOneInput)
    }
}

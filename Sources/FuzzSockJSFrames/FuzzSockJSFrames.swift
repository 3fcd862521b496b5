import FuzzChecks

/// libFuzzer's entry point: one input through the SockJS message and escaping checks (see `FuzzTarget.sockJSFrames`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.sockJSFrames.fuzzOne(data, size)
}

/// Fuzzes under libFuzzer when built by `scripts/fuzz.sh`; replays files given as arguments otherwise.
@main
enum FuzzSockJSFrames {
    static func main() {
        FuzzTarget.sockJSFrames.main(testOneInput: fuzzOneInput)
    }
}

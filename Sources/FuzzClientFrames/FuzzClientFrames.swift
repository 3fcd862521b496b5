import FuzzChecks

/// libFuzzer's entry point: one input through the client's server-frame checks (see `FuzzTarget.clientFrames`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.clientFrames.fuzzOne(data, size)
}

/// Fuzzes under libFuzzer when built by `scripts/fuzz.sh`; replays files given as arguments otherwise.
@main
enum FuzzClientFrames {
    static func main() {
        FuzzTarget.clientFrames.main(testOneInput: fuzzOneInput)
    }
}

import FuzzChecks

/// libFuzzer's entry point: one input through the HTTP request and routing checks (see `FuzzTarget.httpHead`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.httpHead.fuzzOne(data, size)
}

/// Fuzzes under libFuzzer when built by `scripts/fuzz.sh`; replays files given as arguments otherwise.
@main
enum FuzzHTTPHead {
    static func main() {
        FuzzTarget.httpHead.main(testOneInput: fuzzOneInput)
    }
}

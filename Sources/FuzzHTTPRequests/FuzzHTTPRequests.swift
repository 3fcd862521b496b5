import FuzzChecks

/// libFuzzer's entry point: one input through the whole HTTP/1.1 request stream checks (see `FuzzTarget.httpRequests`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.httpRequests.fuzzOne(data, size)
}

/// Fuzzes under libFuzzer when built by `scripts/fuzz.sh`; replays files given as arguments otherwise.
@main
enum FuzzHTTPRequests {
    static func main() {
        FuzzTarget.httpRequests.main(testOneInput: fuzzOneInput)
    }
}

import FuzzChecks

/// libFuzzer's entry point: one input through the whole-connection SockJS server checks (see `FuzzTarget.sockJSConnection`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.sockJSConnection.fuzzOne(data, size)
}

/// Fuzzes under libFuzzer when built by `scripts/fuzz.sh`; replays files given as arguments otherwise.
@main
enum FuzzSockJSConnection {
    static func main() {
        FuzzTarget.sockJSConnection.main(testOneInput: fuzzOneInput)
    }
}

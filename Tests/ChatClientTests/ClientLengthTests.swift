import ChatClient
import Testing

/// Issue 13, the client side: LoadTester talks to servers it does not trust. Numbers and
/// strings in the SockJS frames a server sends are range-checked by the client's own parsers
/// (HTTP framing and websocket lengths are SwiftNIO's, bounded by `maxFrameSize`).
@Suite("Client parsers: lengths and numbers from a hostile server")
struct ClientLengthTests {
    @Test(
        "close codes that overflow Int are refused, the extremes that fit are read",
        arguments: [
            "c[99999999999999999999,\"x\"]", "c[9223372036854775808,\"x\"]", "c[-9223372036854775809,\"x\"]",
            "c[1e400,\"x\"]", "c[-,\"x\"]", "c[,\"x\"]",
        ])
    func overflowingCloseCodes(_ text: String) {
        #expect(throws: SockJSFrame.ParseError.self) { try SockJSFrame.parse(text) }
    }

    @Test("close codes at the edges of Int")
    func edgeCloseCodes() throws {
        #expect(try SockJSFrame.parse("c[9223372036854775807,\"x\"]") == .close(code: .max, reason: "x"))
        #expect(try SockJSFrame.parse("c[-9223372036854775807,\"x\"]") == .close(code: -.max, reason: "x"))
    }

    @Test(
        "truncated escapes and strings at the end of a frame are errors, not reads past the end",
        arguments: [
            "a[\"\\", "a[\"\\u12", "a[\"\\ud83d\\u", "a[\"abc", "a[\"a\\\"", "a[", "a",
        ])
    func truncated(_ text: String) {
        #expect(throws: SockJSFrame.ParseError.self) { try SockJSFrame.parse(text) }
    }
}

import Chat
import Testing

/// Issue 13: JSON numbers a client puts in `history` (`before`, `limit`) and numbers a server
/// puts in chat frames (`ts`, `seq`) are range-checked by their decoders: nothing traps, hangs
/// or wraps, whatever their size, sign or exponent.
@Suite("JSON numbers off the wire")
struct JSONNumberRegressionTests {
    func history(_ fields: String) -> Result<ClientFrame, ChatProtocolError> {
        Result { () throws(ChatProtocolError) in
            try ChatFrameCodec.decodeClientFrame(#"{"type":"history","room":"lobby"\#(fields)}"#, limits: ChatLimits())
        }
    }

    @Test(
        "`before` and `limit` outside their types or ranges are bad_request",
        arguments: [
            #","before":1e400"#, #","before":-1e400"#, #","before":9223372036854775808"#, #","before":1.5"#,
            #","before":"5""#, #","before":1e999999999"#, #","before":-9223372036854775809"#,
            #","limit":0"#, #","limit":-1"#, #","limit":101"#, #","limit":1e400"#, #","limit":18446744073709551616"#,
            #","limit":1e999999999"#, #","limit":0.5"#, #","limit":-0.0e-999999"#, #","limit":true"#,
        ])
    func outOfRange(_ fields: String) {
        guard case .failure(let error) = history(fields) else {
            Issue.record("\(fields) was accepted")
            return
        }
        #expect(error.code == .badRequest, "\(fields): \(error)")
    }

    @Test("the extremes of `before` are accepted as they are; -0 is 0")
    func extremes() throws {
        for (fields, before) in [(#","before":-0"#, Int64(0)), (#","before":9223372036854775807"#, Int64.max), (#","before":-9223372036854775808"#, Int64.min)]
        {
            guard case .success(.history(let request)) = history(fields) else {
                Issue.record("\(fields) was refused")
                continue
            }
            #expect(request.before == before)
        }
        guard case .success(.history(let request)) = history(#","limit":100"#) else {
            Issue.record("limit 100 was refused")
            return
        }
        #expect(request.limit == 100)
    }

    @Test("a 60,000-digit number inside the frame cap is refused, not parsed into a trap")
    func enormousDigitRun() {
        let digits = String(repeating: "9", count: 60_000)
        guard case .failure(let error) = history(",\"before\":" + digits) else {
            Issue.record("a 60,000-digit before was accepted")
            return
        }
        #expect(error.code == .badRequest)
    }

    @Test(
        "server frames with out-of-range ts or seq fail to decode instead of trapping",
        arguments: [
            #"{"type":"sent","id":"1","msgId":"m","ts":1e400}"#,
            #"{"type":"sent","id":"1","msgId":"m","ts":9223372036854775808}"#,
            #"{"type":"message","msgId":"a","from":"b","room":"r","text":"t","ts":1,"seq":-9223372036854775809}"#,
            #"{"type":"message","msgId":"a","from":"b","room":"r","text":"t","ts":1,"seq":1e999999999}"#,
        ])
    func serverNumbers(_ text: String) {
        #expect(throws: (any Error).self) { try ChatFrameCodec.decodeServerFrame(text) }
    }

    @Test("-0 and the Int64 extremes in server frames decode to their values")
    func serverExtremes() throws {
        #expect(try ChatFrameCodec.decodeServerFrame(#"{"type":"sent","id":"1","msgId":"m","ts":-0}"#) == .sent(Sent(id: "1", msgId: "m", ts: 0)))
        #expect(
            try ChatFrameCodec.decodeServerFrame(#"{"type":"sent","id":"1","msgId":"m","ts":-9223372036854775808}"#)
                == .sent(Sent(id: "1", msgId: "m", ts: .min)))
    }
}

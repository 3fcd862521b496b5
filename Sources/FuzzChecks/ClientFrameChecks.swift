import Chat
import ChatClient
import FoundationEssentials

/// Properties of what a chat client reads from a server, which may be hostile (LoadTester
/// talks to any URL it is given): an `xhr_streaming` body split into lines, each line a SockJS
/// frame (`o`, `h`, `a[...]`, `c[code,"reason"]`), each message a chat server frame.
///
/// HTTP response framing and websocket lengths on the client are SwiftNIO's (`NIOHTTP1`,
/// `NIOWebSocket`, bounded by the client's `maxFrameSize`); these are the client's own parsers.
///
/// - Never a crash, whatever the bytes (close codes that overflow, broken escapes, lone
///   surrogates, huge or negative numbers in chat frames).
/// - The hand-written array parser (`SockJSWire`'s, which the server uses too) agrees with
///   `JSONDecoder` on every array of strings that `JSONDecoder` reads (but for its leniency
///   about trailing commas: `a["x",]` is not JSON, and the browser's `JSON.parse` refuses it
///   too), and re-encoding what it read gives the same strings back.
/// - A close frame's code round-trips; a chat frame a client decodes re-encodes to the same frame.
enum ClientFrameChecks {
    static func check(_ bytes: [UInt8]) -> [String] {
        var v = Violations()
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            checkLine(Array(line), &v)
        }
        return v.list
    }

    static func checkLine(_ line: [UInt8], _ v: inout Violations) {
        let frame: SockJSFrame
        do {
            frame = try SockJSFrame.parse(utf8: line)
        } catch {
            let body = Array(line.dropFirst())
            if line.first == UInt8(ascii: "a"), !SockJSFrameChecks.hasTrailingComma(body),
                let strings = try? JSONDecoder().decode([String].self, from: Data(body)),
                !strings.contains(where: { $0.unicodeScalars.contains("\u{FFFD}") })
            {
                v.fail("the client refused \(preview(line)), an array of strings that JSONDecoder reads: \(error)")
            }
            return
        }
        switch frame {
        case .open, .heartbeat:
            break
        case .messages(let strings):
            if let reference = try? JSONDecoder().decode([String].self, from: Data(line.dropFirst())) {
                v.expect(reference == strings, "the client read \(preview(line)) differently from JSONDecoder")
            }
            let encoded = SockJSJSON.encodeStringArray(strings)
            let again = try? SockJSJSON.parseStringArray(encoded)
            v.expect(again == strings, "messages of \(preview(line)) changed when re-encoded as \(preview(encoded))")
            for message in strings {
                ChatFrameChecks.checkServerFrame(message, &v)
            }
        case .close:
            let encoded = frame.text
            let again = try? SockJSFrame.parse(utf8: encoded)
            v.expect(again == frame, "close frame \(preview(line)) changed when re-encoded as \(preview(encoded))")
        }
    }
}

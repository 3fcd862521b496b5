import Chat
import ChatClient
import Foundation
import ServerTestSupport
import Testing

/// Issue 13 against a live `rabbitChat` process: the exact requests that crashed or could
/// crash the server are answered with their error, and the server goes on serving (two
/// bystanders exchange a public and a private message afterwards). A chat frame over 64 KiB
/// is answered `too_large` on every transport and its session goes on; a payload past the
/// transport's own cap (256 KiB) ends only the connection that sent it.
@Suite("Hostile framing and oversize frames against a live rabbitChat", .serialized)
struct OversizeAndFramingTests {
    static let crashRequest =
        "POST /chat/000/abcdefgh/xhr_send HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n7fffffffffffffff\r\n"

    /// Writes `raw` on a new connection and returns everything the server sent until it closed.
    func exchange(_ port: Int, _ raw: [UInt8]) throws -> String {
        let socket = try TestSocket(port: port)
        try socket.write(raw)
        return String(decoding: socket.readUntilClosed().bytes, as: UTF8.self)
    }

    @Test("the issue-13 crash request (chunk size 7fffffffffffffff after a 1-byte chunk) is 413 and the server still serves")
    func chunkOverflowCrashRequest() async throws {
        let server = try await LiveServer.start()
        let bystanders = try await Bystanders.join(port: server.port)
        // Into a live session too, as the issue's attacker would.
        let session = "/chat/000/" + ChatPeer.freshNick("c")
        let open = try TestHTTP.request(
            port: server.port, raw: "POST \(session)/xhr HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        #expect(open.text.hasPrefix("o"))
        for request in [Self.crashRequest, Self.crashRequest.replacingOccurrences(of: "/chat/000/abcdefgh/", with: session + "/")] {
            let answer = try exchange(server.port, Array(request.utf8))
            #expect(answer.hasPrefix("HTTP/1.1 413 "), "answer: \(answer.prefix(200))")
        }
        #expect(server.isRunning)
        #expect(try TestHTTP.request(port: server.port, raw: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").status == 200)
        #expect(await bystanders.exchange())
        await server.stop()
    }

    @Test("ambiguous and overflowing lengths are refused with their status and the server still serves")
    func hostileLengths() async throws {
        let server = try await LiveServer.start()
        let bystanders = try await Bystanders.join(port: server.port)
        let post = "POST /chat/000/abcdefgh/xhr_send HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        let cases: [(String, String)] = [
            (post + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", "413"),
            (post + "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", "413"),
            (post + "Transfer-Encoding: chunked\r\n\r\n-0\r\n\r\n", "400"),
            (post + "Content-Length: 99999999999999999999999\r\n\r\n", "413"),
            (post + "Content-Length: 9223372036854775807\r\n\r\n", "413"),
            (post + "Content-Length: -1\r\n\r\n", "400"),
            (post + "Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", "400"),
            (post + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"),
            (post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "501"),
            ("POST /chat/000/abcdefgh/xhr_send HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"),
            // hixie-76 keys whose digits overflow, and a key without spaces.
            (
                "GET /chat/000/abcdefgh/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key1: \(String(repeating: "9", count: 40)) 1\r\nSec-WebSocket-Key2: 1 2\r\n\r\n",
                "400"
            ),
            (
                "GET /chat/000/abcdefgh/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key1: 12345\r\nSec-WebSocket-Key2: 1 2\r\n\r\n",
                "400"
            ),
        ]
        for (request, status) in cases {
            let answer = try exchange(server.port, Array(request.utf8))
            #expect(answer.hasPrefix("HTTP/1.1 \(status) "), "\(request.debugDescription): \(answer.prefix(200))")
        }
        #expect(server.isRunning)
        #expect(await bystanders.exchange())
        await server.stop()
    }

    @Test("websocket lengths of 2^63-1 (1009) and with the top bit set (1002) close only that websocket")
    func hostileWebSocketLengths() async throws {
        let server = try await LiveServer.start()
        let bystanders = try await Bystanders.join(port: server.port)
        for (length, code) in [(UInt64(Int64.max), UInt16(1009)), (UInt64.max, UInt16(1002))] {
            let socket = try TestSocket(port: server.port)
            try socket.write(
                "GET /chat/000/\(ChatPeer.freshNick("w"))/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            var frame: [UInt8] = [0x81, 0xFF]
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8(truncatingIfNeeded: length >> UInt64(shift))) }
            try socket.write(frame + [1, 2, 3, 4])
            let bytes = socket.readUntilClosed().bytes
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 101 "))
            // The server's close frame: 0x88, length, then the code.
            let close = bytes.indices.dropLast(3).first { bytes[$0] == 0x88 && bytes[$0 + 2] == UInt8(code >> 8) && bytes[$0 + 3] == UInt8(code & 0xFF) }
            #expect(close != nil, "no close \(code) in \(bytes.suffix(40))")
        }
        #expect(server.isRunning)
        #expect(await bystanders.exchange())
        await server.stop()
    }

    static let oversizeFrame = #"{"type":"say","id":"big","room":"lobby","text":"hi","pad":""# + String(repeating: "x", count: 70 * 1024) + #""}"#

    @Test("a 70 KiB chat frame is too_large and the session goes on", arguments: SockJSTransportKind.allCases)
    func oversizeChatFrame(_ transport: SockJSTransportKind) async throws {
        let server = try await LiveServer.start()
        let bystanders = try await Bystanders.join(port: server.port)
        let peer = try await ChatPeer.joined(port: server.port, transport: transport)
        peer.sendRaw(Self.oversizeFrame)
        let error = await peer.nextError()
        #expect(error?.code == .tooLarge, "\(transport): \(String(describing: error))")
        peer.connection.say(id: "after", text: "still here")
        #expect(await peer.saw { if case .frame(.sent(let s)) = $0 { s.id == "after" } else { false } })
        #expect(!peer.isClosed)
        #expect(await bystanders.receiver.saw { if case .frame(.message(let m)) = $0 { m.text == "still here" } else { false } })
        #expect(await bystanders.exchange())
        peer.close()
        await server.stop()
    }

    @Test("a 70 KiB chat frame through jsonp_send is too_large and the session goes on")
    func oversizeChatFrameOverJSONPSend() async throws {
        let server = try await LiveServer.start()
        let bystanders = try await Bystanders.join(port: server.port)
        let session = "/chat/000/" + ChatPeer.freshNick("j")
        let nick = ChatPeer.freshNick("j")
        func post(_ path: String, _ body: String, type: String) throws -> TestHTTPResponse {
            try TestHTTP.request(
                port: server.port,
                raw:
                    "POST \(session)/\(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            )
        }
        func jsonpSend(_ frame: String) throws -> TestHTTPResponse {
            let payload = SockJSJSON.encodeStringArray([frame])
            return try post(
                "jsonp_send", "d=" + payload.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!, type: "application/x-www-form-urlencoded")
        }
        /// Polls until a poll's body contains `needle` (bounded).
        func poll(until needle: String) throws -> Bool {
            for _ in 0..<20 {
                let answer = try post("xhr", "", type: "text/plain")
                if answer.text.contains(needle) { return true }
                if answer.text.hasPrefix("c[") { return false }
            }
            return false
        }
        #expect(try post("xhr", "", type: "text/plain").text.hasPrefix("o"))
        let join = try jsonpSend(#"{"type":"join","nick":"\#(nick)"}"#)
        #expect(join.status == 200 && join.text == "ok")
        #expect(try poll(until: "welcome"))
        let big = try jsonpSend(Self.oversizeFrame)
        #expect(big.status == 200, "jsonp_send of the oversize frame: \(big.status) \(big.text)")
        #expect(try poll(until: "too_large"))
        #expect(try jsonpSend(#"{"type":"say","id":"after","room":"lobby","text":"still here"}"#).status == 200)
        #expect(try poll(until: #"\"id\":\"after\""#))
        #expect(await bystanders.exchange())
        await server.stop()
    }

    @Test("a payload past the transport cap (256 KiB) ends only its own connection: websocket 1009, xhr_send 413")
    func pastTheTransportCap() async throws {
        let server = try await LiveServer.start()
        let bystanders = try await Bystanders.join(port: server.port)
        let huge = #"{"type":"say","id":"huge","text":""# + String(repeating: "x", count: 300 * 1024) + #""}"#
        let peer = try await ChatPeer.joined(port: server.port)
        peer.sendRaw(huge)
        #expect(await peer.closed() != nil)

        let session = "/chat/000/" + ChatPeer.freshNick("x")
        #expect(
            try TestHTTP.request(port: server.port, raw: "POST \(session)/xhr HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .text.hasPrefix("o"))
        let body = SockJSJSON.encodeStringArray([huge])
        let sent = try TestHTTP.request(
            port: server.port,
            raw: "POST \(session)/xhr_send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        #expect(sent.status == 413)
        // The HTTP session itself goes on: a poll still answers (a heartbeat-free join works).
        let join = SockJSJSON.encodeStringArray([#"{"type":"join","nick":"\#(ChatPeer.freshNick("x"))"}"#])
        let joined = try TestHTTP.request(
            port: server.port,
            raw:
                "POST \(session)/xhr_send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: \(join.utf8.count)\r\nConnection: close\r\n\r\n\(join)"
        )
        #expect(joined.status == 204)
        let poll = try TestHTTP.request(
            port: server.port, raw: "POST \(session)/xhr HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        #expect(poll.text.contains("welcome"), "poll: \(poll.text.prefix(200))")
        #expect(await bystanders.exchange())
        await server.stop()
    }
}

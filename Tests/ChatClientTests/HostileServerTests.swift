import ChatClient
import NIOCore
import NIOPosix
import ServerTestSupport
import Testing

/// Issue 13, the client side: LoadTester may be pointed at a hostile server. One that answers
/// with a chunk size of `7fffffffffffffff` (xhr transports) or a websocket frame of length
/// 2^63-1 ends the session with a clear close event; the client process does not trap.
@Suite("Client against a hostile server", .serialized)
struct HostileServerTests {
    static let group = MultiThreadedEventLoopGroup.singleton

    /// A tiny HTTP server in Python: every xhr request gets `o`, then a chunk size that
    /// overflows Int; a websocket upgrade gets its 101, `o`, then a frame of length 2^63-1.
    static let script = #"""
        import socket, sys, threading, hashlib, base64
        port = int(sys.argv[1])
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port)); s.listen(64)
        def serve(c):
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    d = c.recv(4096)
                    if not d: return
                    data += d
                head = data.split(b"\r\n\r\n")[0].decode("latin-1")
                line = head.split("\r\n")[0]
                if "/websocket" in line:
                    key = [h.split(":", 1)[1].strip() for h in head.split("\r\n")[1:] if h.lower().startswith("sec-websocket-key:")][0]
                    accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
                    c.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n").encode())
                    c.sendall(b"\x81\x01o" + b"\x81\x7f\x7f\xff\xff\xff\xff\xff\xff\xff" + b"h" * 64)
                elif "xhr_send" in line:
                    c.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
                else:
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\nTransfer-Encoding: chunked\r\n\r\n2\r\no\n\r\n7fffffffffffffff\r\nh\nh\nh\n")
                c.settimeout(5)
                while c.recv(4096): pass
            except Exception:
                pass
            finally:
                c.close()
        while True:
            c, _ = s.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()
        """#

    @Test("a chunk size of 7fffffffffffffff or a websocket length of 2^63-1 closes the session cleanly", arguments: SockJSTransportKind.allCases)
    func overflowingLengthsFromTheServer(_ transport: SockJSTransportKind) async throws {
        let port = try FreePort.next()
        let server = try await LiveServer.start(
            executable: "/usr/bin/env", arguments: ["python3", "-c", Self.script, String(port)], port: port)
        defer { server.stopBlocking() }
        let recorder = EventRecorder()
        let client = SockJSClient(
            endpoint: try SockJSEndpoint(url: server.url("/echo")),
            transport: transport,
            eventLoop: Self.group.next(),
            onEvent: { recorder.record($0) }
        )
        let events = try await recorder.wait(timeout: .seconds(20)) { $0.contains { if case .closed = $0 { true } else { false } } }
        let closed = events.compactMap { if case .closed(let code, let reason) = $0 { (code, reason) } else { nil } }.first
        #expect(closed != nil, "\(transport): events \(events)")
        if let closed {
            #expect([1002, 1006].contains(closed.0), "\(transport): \(closed)")
            #expect(!closed.1.isEmpty)
        }
        client.close()
    }
}

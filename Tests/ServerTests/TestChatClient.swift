import Foundation
import ServerTestSupport

/// A SockJS client on the xhr-streaming transport (receiving) and xhr_send (sending), speaking
/// the chat protocol's JSON frames. Blocking and bounded: every wait has a deadline.
final class TestChatClient {
    let port: Int
    let prefix: String
    private var socket: TestSocket
    private let receiveBuffer: Int32?
    /// Opens the next streaming response when the server ends one (at the SockJS response
    /// limit, 128 KiB), as a browser's xhr-streaming does.
    private let reopens: Bool
    private var raw: [UInt8] = []
    private var chunked = false
    private var body: [UInt8] = []
    private var pending: [String] = []
    /// The SockJS close frame, e.g. `c[3000,"Go away!"]`, once one arrived.
    private(set) var closeFrame: String?
    /// True once the server ended the streaming response.
    private(set) var ended = false

    /// Opens a session and waits for the SockJS open frame.
    /// `receiveBuffer` shrinks the receiving socket's kernel buffer (a client that stops
    /// reading); `reopens` opens the next streaming response when one ends.
    init(port: Int, prefix: String = "/chat", receiveBuffer: Int32? = nil, reopens: Bool = false) throws {
        self.port = port
        self.prefix = prefix + "/000/" + UUID().uuidString.prefix(8).lowercased()
        self.receiveBuffer = receiveBuffer
        self.reopens = reopens
        socket = try Self.stream(port: port, path: self.prefix, receiveBuffer: receiveBuffer)
        let opened = try nextSockJSFrame(timeout: .seconds(10))
        guard opened == "o" else {
            throw TestSocketError(
                "expected the open frame, got \(opened ?? "nothing") (ended: \(ended), unparsed: \(String(decoding: raw.prefix(300), as: UTF8.self)), body: \(String(decoding: body.prefix(300), as: UTF8.self)))"
            )
        }
    }

    /// A connection with the `xhr_streaming` request of session `path` sent.
    private static func stream(port: Int, path: String, receiveBuffer: Int32?) throws -> TestSocket {
        let socket = try TestSocket(port: port, timeout: .seconds(1), receiveBuffer: receiveBuffer)
        try socket.write("POST \(path)/xhr_streaming HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Length: 0\r\n\r\n")
        return socket
    }

    /// Sends one chat frame.
    func send(_ frame: [String: Any]) throws {
        let text = String(decoding: try JSONSerialization.data(withJSONObject: frame), as: UTF8.self)
        let body = String(decoding: try JSONSerialization.data(withJSONObject: [text]), as: UTF8.self)
        let response = try TestHTTP.request(
            port: port, method: "POST", path: prefix + "/xhr_send", body: body,
            headers: ["Content-Type": "text/plain"])
        guard response.status == 204 || response.status == 200 else {
            throw TestSocketError("xhr_send answered \(response.status): \(response.text)")
        }
    }

    /// The next chat frame, or nil when none came before the deadline or the session ended.
    func next(timeout: Duration = .seconds(10)) throws -> [String: Any]? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if !pending.isEmpty {
                let text = pending.removeFirst()
                return try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            }
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero, let frame = try nextSockJSFrame(timeout: remaining) else { return nil }
            if frame.hasPrefix("a") {
                let messages = try JSONSerialization.jsonObject(with: Data(frame.dropFirst().utf8)) as? [String] ?? []
                pending += messages
            } else if frame.hasPrefix("c") {
                closeFrame = frame
                return nil
            }
        }
    }

    /// Chat frames until one satisfies `match`; nil if none did before the deadline.
    func waitFor(timeout: Duration = .seconds(15), _ match: ([String: Any]) -> Bool) throws -> [String: Any]? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let frame = try next(timeout: deadline - ContinuousClock.now) else { return nil }
            if match(frame) { return frame }
        }
        return nil
    }

    /// Joins as `nick` and returns the welcome. A refused join throws with the server's error
    /// frame, so a failure says why instead of waiting out the timeout.
    @discardableResult
    func join(_ nick: String, timeout: Duration = .seconds(30)) throws -> [String: Any] {
        try send(["type": "join", "nick": nick])
        let answer = try waitFor(timeout: timeout) { ["welcome", "error"].contains($0["type"] as? String) }
        guard let answer else { throw TestSocketError("no welcome for \(nick) within \(timeout) (close frame: \(closeFrame ?? "none"))") }
        guard answer["type"] as? String == "welcome" else { throw TestSocketError("the join of \(nick) was refused: \(answer)") }
        return answer
    }

    /// Reads until the session's close frame or the end of the response.
    func waitForClose(timeout: Duration = .seconds(10)) throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while closeFrame == nil, !ended, ContinuousClock.now < deadline {
            _ = try next(timeout: deadline - ContinuousClock.now)
        }
        return closeFrame
    }

    /// The next SockJS frame (`o`, `h`, `a[...]`, `c[...]`), skipping the streaming prelude.
    private func nextSockJSFrame(timeout: Duration) throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let newline = body.firstIndex(of: 10) {
                let line = String(decoding: body[..<newline], as: UTF8.self)
                body.removeSubrange(...newline)
                if line.isEmpty || line.allSatisfy({ $0 == "h" }) && line.count > 1 { continue }
                if line == "h" { continue }
                return line
            }
            if ended || ContinuousClock.now >= deadline { return nil }
            let bytes: [UInt8]
            do { bytes = try socket.read() } catch { continue }
            if bytes.isEmpty {
                if reopens, closeFrame == nil {
                    try reopen()
                    continue
                }
                ended = true
                continue
            }
            raw += bytes
            decode()
            if reopens, responseEnded, closeFrame == nil { try reopen() }
        }
    }

    private var headParsed = false
    /// The streaming response's last chunk came (the server may keep the connection).
    private var responseEnded = false

    /// The next streaming response of the session, on a new connection.
    private func reopen() throws {
        socket = try Self.stream(port: port, path: prefix, receiveBuffer: receiveBuffer)
        raw = []
        headParsed = false
        chunked = false
        responseEnded = false
    }

    /// Moves what arrived into `body`: strips the response head once, then de-chunks if needed.
    private func decode() {
        if !headParsed {
            guard let end = TestHTTP.headEnd(raw) else { return }
            let head = String(decoding: raw[0..<end], as: UTF8.self).lowercased()
            chunked = head.contains("transfer-encoding: chunked")
            raw.removeSubrange(0..<(end + 4))
            headParsed = true
        }
        if chunked {
            let (decoded, rest, ended) = TestHTTP.dechunk(raw)
            body += decoded
            raw = rest
            if ended { responseEnded = true }
        } else {
            body += raw
            raw = []
        }
    }
}

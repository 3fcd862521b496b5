import ChatProtocol
import Foundation
import NIOCore
import NIOPosix
import ServerTestSupport
import Testing

@testable import ChatClient

/// The chat client against a real `rabbitChat`, on every transport: frames in, frames out.
@Suite(.serialized) struct ChatConnectionTests {
    /// Reads a connection's events in order. Bounded: a watchdog closes the connection after
    /// 30 s, which ends the stream, so a missing frame fails the test instead of hanging it.
    final class Reader {
        var iterator: AsyncStream<ChatClientEvent>.AsyncIterator
        var seen: [ChatClientEvent] = []
        let watchdog: Task<Void, any Error>

        init(_ connection: ChatConnection, _ stream: AsyncStream<ChatClientEvent>) {
            iterator = stream.makeAsyncIterator()
            watchdog = Task {
                try await Task.sleep(for: .seconds(30))
                connection.close()
            }
        }

        deinit { watchdog.cancel() }

        /// The next frame that `match` accepts (others are kept in `seen`).
        func next<T>(_ what: String, _ match: (ServerFrame) -> T?) async throws -> T {
            while let event = await iterator.next() {
                seen.append(event)
                if case .frame(let frame) = event, let value = match(frame) { return value }
            }
            Issue.record("no \(what) before the stream ended; got \(seen)")
            throw Missing()
        }

        struct Missing: Error {}
    }

    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    @Test(arguments: SockJSTransportKind.allCases)
    func joinsSaysTellsAcksAndReadsHistory(transport: SockJSTransportKind) async throws {
        let server = try await TestServer.rabbitChat.start()
        defer { server.stopBlocking() }
        let endpoint = try SockJSEndpoint(url: server.url("/chat"))
        let (alice, aliceEvents) = ChatConnection.streaming(endpoint: endpoint, transport: transport, eventLoop: Self.group.next())
        let (bob, bobEvents) = ChatConnection.streaming(endpoint: endpoint, transport: transport, eventLoop: Self.group.next())
        let a = Reader(alice, aliceEvents)
        let b = Reader(bob, bobEvents)
        defer {
            alice.close()
            bob.close()
        }

        alice.join(nick: "alice", rooms: ["tea"])
        let welcome = try await a.next("welcome") { if case .welcome(let w) = $0 { w } else { nil } }
        #expect(welcome.nick == "alice")
        #expect(welcome.entered == ["tea"])
        #expect(!welcome.token.isEmpty)
        bob.join(nick: "bob", rooms: ["tea"])
        _ = try await b.next("welcome") { if case .welcome(let w) = $0 { w } else { nil } }

        alice.say(id: "a1", text: "hello <b>tea</b>", room: "tea")
        let sent = try await a.next("sent") { if case .sent(let s) = $0 { s } else { nil } }
        #expect(sent.id == "a1")
        let roomMessage = try await b.next("message") { if case .message(let m) = $0 { m } else { nil } }
        #expect(roomMessage.from == "alice")
        #expect(roomMessage.room == "tea")
        #expect(roomMessage.text == "hello <b>tea</b>")
        #expect(roomMessage.msgId == sent.msgId)

        alice.tell(id: "a2", to: "bob", text: "psst 🐢")
        let told = try await a.next("sent") { if case .sent(let s) = $0, s.id == "a2" { s } else { nil } }
        let whisper = try await b.next("private message") { if case .message(let m) = $0, m.to != nil { m } else { nil } }
        #expect(whisper.to == "bob")
        #expect(whisper.from == "alice")
        #expect(whisper.text == "psst 🐢")
        #expect(whisper.msgId == told.msgId)
        bob.ack([whisper.msgId])
        let receipt = try await a.next("delivered") { if case .delivered(let d) = $0 { d } else { nil } }
        #expect(receipt.msgId == told.msgId)
        #expect(receipt.to == "bob")

        bob.history(room: "tea", limit: 10)
        let history = try await b.next("history") { if case .history(let h) = $0 { h } else { nil } }
        #expect(history.room == "tea")
        #expect(history.messages.map(\.msgId) == [sent.msgId])
    }

    /// A reconnecting client names its last `seq` of the room and gets what it missed after the
    /// welcome, then pages on with `after` (Specs/chat-protocol.md, "Resume without gaps").
    @Test func aReconnectResumesTheRoomFromItsLastSeq() async throws {
        let server = try await TestServer.rabbitChat.start()
        defer { server.stopBlocking() }
        let endpoint = try SockJSEndpoint(url: server.url("/chat"))
        let (alice, aliceEvents) = ChatConnection.streaming(endpoint: endpoint, transport: .websocket, eventLoop: Self.group.next())
        let (bob, bobEvents) = ChatConnection.streaming(endpoint: endpoint, transport: .websocket, eventLoop: Self.group.next())
        let a = Reader(alice, aliceEvents)
        let b = Reader(bob, bobEvents)
        defer { alice.close() }
        var positions = ResumePositions()
        alice.join(nick: "alice", rooms: ["tea"])
        _ = try await a.next("welcome") { if case .welcome(let w) = $0 { w } else { nil } }
        bob.join(nick: "bob", rooms: ["tea"])
        let welcome = try await b.next("welcome") { if case .welcome(let w) = $0 { w } else { nil } }
        _ = positions.observe(.welcome(welcome))
        alice.say(id: "a0", text: "first", room: "tea")
        let first = try await b.next("message") { if case .message(let m) = $0 { m } else { nil } }
        let fresh = positions.observe(.message(first))
        #expect(fresh == [first])
        bob.close()

        for n in 1...3 {
            alice.say(id: "a\(n)", text: "missed \(n)", room: "tea")
            _ = try await a.next("sent") { if case .sent(let s) = $0, s.id == "a\(n)" { s } else { nil } }
        }
        let (again, againEvents) = ChatConnection.streaming(endpoint: endpoint, transport: .websocket, eventLoop: Self.group.next())
        let c = Reader(again, againEvents)
        defer { again.close() }
        again.join(nick: "bob", token: welcome.token, rooms: ["tea"], resume: positions.resume(for: ["tea"]))
        let rejoined = try await c.next("welcome") { if case .welcome(let w) = $0 { w } else { nil } }
        #expect(rejoined.history["tea"] == nil)
        let resumed = try await c.next("history") { if case .history(let h) = $0 { h } else { nil } }
        #expect(resumed.after == first.seq)
        let missed = positions.observe(.history(resumed))
        #expect(missed.map(\.text) == ["missed 1", "missed 2", "missed 3"])
        again.history(room: "tea", after: positions.rooms["tea"], limit: 10)
        let none = try await c.next("history after") { if case .history(let h) = $0 { h } else { nil } }
        #expect(none.messages.isEmpty && !none.more)
    }

    /// Issue 16, point 2, through the client: a password join makes a device, `devices` lists
    /// it, a join by its `session` signs it in again, `signOut` answers `signedOut` and the
    /// server closes the connection with 4005.
    @Test func aDeviceSignsInBySessionListsItsDevicesAndSignsOutWith4005() async throws {
        let server = try await TestServer.rabbitChat.start()
        defer { server.stopBlocking() }
        let endpoint = try SockJSEndpoint(url: server.url("/chat"))
        let (first, firstEvents) = ChatConnection.streaming(endpoint: endpoint, transport: .websocket, eventLoop: Self.group.next())
        let a = Reader(first, firstEvents)
        first.join(nick: "alice")
        let claimed = try await a.next("welcome") { if case .welcome(let w) = $0 { w } else { nil } }
        first.send(.setPassword(SetPasswordRequest(password: "correct horse battery staple")))
        _ = try await a.next("passwordSet") { if case .passwordSet = $0 { true } else { nil } }
        first.close()

        let (laptop, laptopEvents) = ChatConnection.streaming(endpoint: endpoint, transport: .websocket, eventLoop: Self.group.next())
        let b = Reader(laptop, laptopEvents)
        laptop.join(nick: "alice", password: "correct horse battery staple", device: "laptop")
        let signedIn = try await b.next("welcome") { if case .welcome(let w) = $0 { w } else { nil } }
        #expect(signedIn.device != claimed.device && signedIn.session?.count == 43)
        laptop.devices()
        let listed = try await b.next("devices") { if case .devices(let d) = $0 { d.devices } else { nil } }
        #expect(listed.map(\.id) == [signedIn.device, claimed.device].compactMap { $0 })
        #expect(listed.first?.label == "laptop" && listed.first?.current == true)
        laptop.close()

        let (again, againEvents) = ChatConnection.streaming(endpoint: endpoint, transport: .websocket, eventLoop: Self.group.next())
        let c = Reader(again, againEvents)
        defer { again.close() }
        again.join(nick: "alice", session: signedIn.session)
        let back = try await c.next("welcome") { if case .welcome(let w) = $0 { w } else { nil } }
        #expect(back.device == signedIn.device && back.session == signedIn.session)
        again.signOut()
        let out = try await c.next("signedOut") { if case .signedOut(let s) = $0 { s.devices } else { nil } }
        #expect(out == [signedIn.device].compactMap { $0 })
        var closeCode: Int?
        while let event = await c.iterator.next() {
            if case .closed(let code, _) = event {
                closeCode = code
                break
            }
        }
        #expect(closeCode == 4005)
    }

    /// An endpoint with a local address connects from it, on every transport (LoadTester's
    /// `--local-addresses` spreads 50,000 clients over 127.0.0.x this way): the kernel's table
    /// of TCP sockets shows a connection from 127.0.0.3 to the server's port.
    @Test(arguments: SockJSTransportKind.allCases)
    func aConnectionWithALocalAddressConnectsFromIt(transport: SockJSTransportKind) async throws {
        let server = try await TestServer.rabbitChat.start()
        defer { server.stopBlocking() }
        var endpoint = try SockJSEndpoint(url: server.url("/chat"))
        endpoint.localAddress = try SocketAddress(ipAddress: "127.0.0.3", port: 0)
        let (carol, events) = ChatConnection.streaming(endpoint: endpoint, transport: transport, eventLoop: Self.group.next())
        let reader = Reader(carol, events)
        defer { carol.close() }
        carol.join(nick: "carol")
        _ = try await reader.next("welcome") { if case .welcome(let w) = $0 { w } else { nil } }
        // /proc/net/tcp: "sl local_address rem_address st ...", addresses as little-endian hex IP:port.
        // Read to the end: /proc files have no size, and a one-shot read stops at a page.
        let file = try #require(FileHandle(forReadingAtPath: "/proc/net/tcp"))
        let table = String(decoding: file.readDataToEndOfFile(), as: UTF8.self)
        try file.close()
        let serverPort = String(endpoint.port, radix: 16, uppercase: true)
        let fromThree = table.split(separator: "\n").filter { line in
            let fields = line.split(separator: " ")
            guard fields.count > 3 else { return false }
            let remotePort = fields[2].split(separator: ":").last.map { String(Int($0, radix: 16) ?? -1, radix: 16, uppercase: true) }
            return fields[1].hasPrefix("0300007F:") && remotePort == serverPort && fields[3] == "01"
        }
        #expect(!fromThree.isEmpty, "an established connection from 127.0.0.3 to port \(endpoint.port)")
    }

    @Test func serverErrorsArriveAsFrames() async throws {
        let server = try await TestServer.rabbitChat.start()
        defer { server.stopBlocking() }
        let (connection, events) = ChatConnection.streaming(
            endpoint: try SockJSEndpoint(url: server.url("/chat")),
            transport: .websocket,
            eventLoop: Self.group.next()
        )
        defer { connection.close() }
        let reader = Reader(connection, events)
        connection.say(id: "x", text: "too early")
        let error = try await reader.next("error") { if case .error(let e) = $0 { e } else { nil } }
        #expect(error.code == .notJoined)
        connection.sockJS.send("{not json")
        let bad = try await reader.next("error") { if case .error(let e) = $0 { e } else { nil } }
        #expect(bad.code == .badJSON)
    }
}

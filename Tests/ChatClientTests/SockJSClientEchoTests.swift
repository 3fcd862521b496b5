import NIOCore
import NIOPosix
import ServerTestSupport
import Testing

@testable import ChatClient

/// Every transport against real SockJS servers: sockjs-node (an independent implementation)
/// and the project's own `sockjs-echo-server`.
@Suite(.serialized) struct SockJSClientEchoTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    func connect(
        _ url: String,
        _ transport: SockJSTransportKind,
        recorder: EventRecorder,
        configuration: SockJSClient.Configuration = .init()
    ) throws -> SockJSClient {
        SockJSClient(
            endpoint: try SockJSEndpoint(url: url),
            transport: transport,
            eventLoop: Self.group.next(),
            configuration: configuration,
            onEvent: { recorder.record($0) }
        )
    }

    static func messages(_ events: [SockJSClientEvent]) -> [String] {
        events.compactMap { if case .message(let text) = $0 { text } else { nil } }
    }

    static func isClosed(_ events: [SockJSClientEvent]) -> Bool {
        if case .closed = events.last { return true }
        return false
    }

    @Test(arguments: TestServer.echoServers, SockJSTransportKind.allCases)
    func echoesMessagesInOrderAndClosesCleanly(server kind: TestServer, transport: SockJSTransportKind) async throws {
        let server = try await kind.start()
        defer { server.stopBlocking() }
        let recorder = EventRecorder()
        let client = try connect(server.url("/echo"), transport, recorder: recorder)
        let sent = ["hello", "żółw 🐢 \u{2028}", #"{"type":"say","text":"a \"quote\""}"#] + (0..<200).map { "n\($0)" }
        // Sent before open: queued, then sent in one go.
        client.send(sent[0])
        let opened = try await recorder.wait { $0.contains(.open) }
        #expect(opened.first == .open)
        for message in sent.dropFirst() { client.send(message) }
        let events = try await recorder.wait { Self.messages($0).count >= sent.count }
        #expect(Self.messages(events) == sent)
        client.close()
        let closed = try await recorder.wait(until: Self.isClosed)
        #expect(closed.last == .closed(code: 1000, reason: "Closed by the client."))
        #expect(closed.filter { if case .closed = $0 { true } else { false } }.count == 1)
    }

    @Test(arguments: TestServer.echoServers, SockJSTransportKind.allCases)
    func reportsTheServersCloseFrame(server kind: TestServer, transport: SockJSTransportKind) async throws {
        let server = try await kind.start()
        defer { server.stopBlocking() }
        let recorder = EventRecorder()
        _ = try connect(server.url("/close"), transport, recorder: recorder)
        let events = try await recorder.wait { $0.count >= 2 }
        #expect(events == [.open, .closed(code: 3000, reason: "Go away!")])
    }

    @Test(arguments: SockJSTransportKind.allCases)
    func heartbeatsKeepAQuietSessionOpen(transport: SockJSTransportKind) async throws {
        // Heartbeats every 0.2 s; the client gives up after 1 s of silence. 2 s without a
        // message: only heartbeats keep the session alive.
        let server = try await TestServer.project.start(heartbeat: 0.2)
        defer { server.stopBlocking() }
        let recorder = EventRecorder()
        let configuration = SockJSClient.Configuration(
            session: .init(silenceTimeout: .seconds(1)),
            tickInterval: .milliseconds(100)
        )
        let client = try connect(server.url("/echo"), transport, recorder: recorder, configuration: configuration)
        _ = try await recorder.wait { $0.contains(.open) }
        try await Task.sleep(for: .seconds(2))
        client.send("still here")
        let events = try await recorder.wait { Self.messages($0) == ["still here"] }
        #expect(events == [.open, .message("still here")])
        client.close()
    }

    @Test func aSilentServerEndsTheSession() async throws {
        // The reference server's heartbeat is 25 s: with 0.5 s of tolerance the client gives up.
        let server = try await TestServer.reference.start()
        defer { server.stopBlocking() }
        let recorder = EventRecorder()
        let configuration = SockJSClient.Configuration(
            session: .init(silenceTimeout: .milliseconds(500)),
            tickInterval: .milliseconds(50)
        )
        _ = try connect(server.url("/echo"), .websocket, recorder: recorder, configuration: configuration)
        let events = try await recorder.wait(until: Self.isClosed)
        #expect(events == [.open, .closed(code: 1006, reason: "The server sent nothing, not even a heartbeat, for 500 ms.")])
    }

    @Test(arguments: SockJSTransportKind.allCases)
    func saysClearlyWhenNothingListens(transport: SockJSTransportKind) async throws {
        let port = try FreePort.next()
        let recorder = EventRecorder()
        _ = try connect("http://127.0.0.1:\(port)/chat", transport, recorder: recorder)
        let events = try await recorder.wait { !$0.isEmpty }
        #expect(
            events == [
                .closed(
                    code: 1006,
                    reason: "Nothing is listening at http://127.0.0.1:\(port)/chat: start the server there or pass its address with --url."
                )
            ])
    }

    @Test(arguments: TestServer.echoServers)
    func manyClientsShareTwoEventLoops(server kind: TestServer) async throws {
        let server = try await kind.start()
        defer { server.stopBlocking() }
        let transports = SockJSTransportKind.allCases
        let recorders = (0..<60).map { _ in EventRecorder() }
        let clients = try recorders.enumerated().map { index, recorder in
            try connect(server.url("/echo"), transports[index % transports.count], recorder: recorder)
        }
        for (index, client) in clients.enumerated() { client.send("from \(index)") }
        for (index, recorder) in recorders.enumerated() {
            let events = try await recorder.wait { Self.messages($0).count >= 1 }
            #expect(Self.messages(events) == ["from \(index)"], "client \(index) on \(transports[index % 3]): \(events)")
        }
        #expect(Set(clients.map { ObjectIdentifier($0.eventLoop as AnyObject) }).count == 2)
        for client in clients { client.close() }
    }
}

import NIOCore
import NIOPosix
import Testing

@testable import ChatClient

/// Every transport against a real SockJS server: the reference sockjs-node echo service.
@Suite(.serialized) struct SockJSClientEchoTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    func connect(_ url: String, _ transport: SockJSTransportKind, recorder: EventRecorder) throws -> SockJSClient {
        SockJSClient(
            endpoint: try SockJSEndpoint(url: url),
            transport: transport,
            eventLoop: Self.group.next(),
            onEvent: { recorder.record($0) }
        )
    }

    static func messages(_ events: [SockJSClientEvent]) -> [String] {
        events.compactMap { if case .message(let text) = $0 { text } else { nil } }
    }

    @Test(arguments: SockJSTransportKind.allCases)
    func echoesMessagesInOrderAndClosesCleanly(transport: SockJSTransportKind) async throws {
        let server = try await ReferenceEchoServer()
        defer { server.stop() }
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
        let closed = try await recorder.wait { $0.last.map { if case .closed = $0 { true } else { false } } ?? false }
        #expect(closed.last == .closed(code: 1000, reason: "Closed by the client."))
    }

    @Test(arguments: SockJSTransportKind.allCases)
    func reportsTheServersCloseFrame(transport: SockJSTransportKind) async throws {
        let server = try await ReferenceEchoServer()
        defer { server.stop() }
        let recorder = EventRecorder()
        _ = try connect(server.url("/close"), transport, recorder: recorder)
        let events = try await recorder.wait { $0.count >= 2 }
        #expect(events == [.open, .closed(code: 3000, reason: "Go away!")])
    }

    @Test(arguments: SockJSTransportKind.allCases)
    func saysClearlyWhenNothingListens(transport: SockJSTransportKind) async throws {
        let port = try await ReferenceEchoServer.freePort()
        let recorder = EventRecorder()
        let client = try connect("http://127.0.0.1:\(port)/chat", transport, recorder: recorder)
        if transport != .websocket { client.send("x") }
        let events = try await recorder.wait { !$0.isEmpty }
        guard case .closed(1006, let reason) = events.first else {
            Issue.record("expected a 1006 close, got \(events)")
            return
        }
        #expect(reason == "Nothing is listening at http://127.0.0.1:\(port)/chat: start the server there or pass its address with --url.")
    }

    @Test func manyClientsShareTwoEventLoops() async throws {
        let server = try await ReferenceEchoServer()
        defer { server.stop() }
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
        #expect(Set(clients.map { ObjectIdentifier($0.eventLoop as AnyObject) }).count <= 2)
        for client in clients { client.close() }
    }
}

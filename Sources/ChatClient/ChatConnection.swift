import ChatProtocol
import NIOCore

/// A chat client: one SockJS session that speaks the chat protocol of `Chat` (its `Codable`
/// frames, encoded and decoded with `ChatFrameCodec`), so a test or the load tester talks in
/// frames, never in JSON.
///
/// Lives on one event loop like its `SockJSClient`; `onEvent` runs there. Any method may be
/// called from any thread.
public final class ChatConnection: Sendable {
    /// The SockJS session underneath.
    public let sockJS: SockJSClient

    /// The nonce of this connection's tokenless joins unless the caller names one.
    private let joinNonce = JoinRequest.makeNonce()

    /// The loop that owns this connection and runs `onEvent`.
    public var eventLoop: any EventLoop { sockJS.eventLoop }

    /// Opens a session to the chat service at `endpoint` (e.g. `http://127.0.0.1:9191/chat`).
    public init(
        endpoint: SockJSEndpoint,
        transport: SockJSTransportKind,
        eventLoop: any EventLoop,
        configuration: SockJSClient.Configuration = .init(),
        onEvent: @escaping @Sendable (ChatClientEvent) -> Void
    ) {
        self.sockJS = SockJSClient(
            endpoint: endpoint,
            transport: transport,
            eventLoop: eventLoop,
            configuration: configuration
        ) { event in
            switch event {
            case .open:
                onEvent(.open)
            case .message(let text):
                do {
                    onEvent(.frame(try ChatFrameCodec.decodeServerFrame(text)))
                } catch {
                    onEvent(.unreadable(text: text, reason: "\(error)"))
                }
            case .closed(let code, let reason):
                onEvent(.closed(code: code, reason: reason))
            }
        }
    }

    /// Sends one client frame. Returns `false` when it was refused (see `SockJSClient.send`).
    @discardableResult
    public func send(_ frame: ClientFrame) -> Bool {
        sockJS.send(ChatFrameCodec.encode(frame))
    }

    /// `join`: must come first. A claimed nick needs its `token`; `rooms` defaults to the lobby.
    /// Without a token the join carries `nonce` (by default one made for this connection), so
    /// a retry of a join answered `unavailable` gets the nick if the first attempt's claim won;
    /// a client that retries on another connection passes the same `nonce` again.
    /// `resume` names the last `seq` the client has of some of `rooms` (see ``ResumePositions``):
    /// what followed comes right after the welcome, or a `gap`.
    /// A protected nick joins with its `password` (a new device, labelled `device`), or with
    /// the `session` token of an earlier welcome (this device again, no password).
    @discardableResult
    public func join(
        nick: String, token: String? = nil, rooms: [String]? = nil, nonce: String? = nil, resume: [String: Int64]? = nil, password: String? = nil,
        session: String? = nil, device: String? = nil
    ) -> Bool {
        let proven = token != nil || password != nil || session != nil
        return send(
            .join(
                JoinRequest(
                    nick: nick, token: token, rooms: rooms, nonce: proven ? nil : nonce ?? joinNonce,
                    resume: resume.flatMap { $0.isEmpty ? nil : JoinResume(rooms: $0) }, password: password, session: session, device: device)))
    }

    /// `devices`: the user's signed-in devices (answered with `devices`).
    @discardableResult
    public func devices() -> Bool {
        send(.devices(DevicesRequest()))
    }

    /// `signOut`: this device (both nil), the device `device`, or every device (`everywhere`);
    /// answered with `signedOut`, then each signed-out session closes with 4005.
    @discardableResult
    public func signOut(device: String? = nil, everywhere: Bool = false) -> Bool {
        send(.signOut(SignOutRequest(device: device, everywhere: everywhere ? true : nil)))
    }

    /// `say`: a public message to a room the session is in. `id` makes retries idempotent.
    @discardableResult
    public func say(id: String, text: String, room: String? = nil) -> Bool {
        send(.say(SayRequest(id: id, room: room, text: text)))
    }

    /// `tell`: a private message to a nick, online or not.
    @discardableResult
    public func tell(id: String, to nick: String, text: String) -> Bool {
        send(.tell(TellRequest(id: id, to: nick, text: text)))
    }

    /// `ack`: the client has these private messages and `delivered` receipts (by `msgId`): they
    /// then stop being redelivered, and the senders of the messages get `delivered`.
    @discardableResult
    public func ack(_ msgIds: [String]) -> Bool {
        send(.ack(AckRequest(msgIds: msgIds)))
    }

    /// `history`: older public messages of a room (`before`), or the oldest ones after a `seq`
    /// (`after`, to page on after a resume whose `history` said `more`).
    @discardableResult
    public func history(room: String, before: Int64? = nil, after: Int64? = nil, limit: Int? = nil) -> Bool {
        send(.history(HistoryRequest(room: room, before: before, after: after, limit: limit)))
    }

    /// `enter`: start receiving a room's messages.
    @discardableResult
    public func enter(room: String) -> Bool {
        send(.enter(RoomRequest(room: room)))
    }

    /// `leave`: stop receiving a room's messages.
    @discardableResult
    public func leave(room: String) -> Bool {
        send(.leave(RoomRequest(room: room)))
    }

    /// Closes the session; `onEvent` gets `.closed`.
    public func close() {
        sockJS.close()
    }
}

extension ChatConnection {
    /// Opens a connection whose events arrive on an `AsyncStream` (for tests and scripts; the
    /// load tester uses the callback). Overflow rule: the stream holds at most `bufferLimit`
    /// unread events and drops newer ones past that, so pick a limit the reader never reaches.
    public static func streaming(
        endpoint: SockJSEndpoint,
        transport: SockJSTransportKind,
        eventLoop: any EventLoop,
        bufferLimit: Int = 10_000
    ) -> (ChatConnection, AsyncStream<ChatClientEvent>) {
        let (stream, continuation) = AsyncStream.makeStream(
            of: ChatClientEvent.self,
            bufferingPolicy: .bufferingOldest(bufferLimit)
        )
        let connection = ChatConnection(endpoint: endpoint, transport: transport, eventLoop: eventLoop) { event in
            continuation.yield(event)
            if case .closed = event { continuation.finish() }
        }
        return (connection, stream)
    }
}

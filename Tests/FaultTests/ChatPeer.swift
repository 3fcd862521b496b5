import Chat
import ChatClient
import Foundation
import NIOCore
import NIOPosix
import ServerTestSupport
import Synchronization

/// A chat client for a test: one SockJS session (websocket unless told otherwise) whose events
/// are collected as they come, with bounded waits for the frame a test expects next.
final class ChatPeer: Sendable {
    let connection: ChatConnection
    let nick: String

    init(port: Int, nick: String = ChatPeer.freshNick(), transport: SockJSTransportKind = .websocket) {
        self.nick = nick
        let box = EventBox()
        connection = ChatConnection(
            endpoint: SockJSEndpoint(host: "127.0.0.1", port: port, prefix: "/chat"),
            transport: transport,
            eventLoop: MultiThreadedEventLoopGroup.singleton.next()
        ) { event in box.append(event) }
        self.box = box
    }

    private let box: EventBox

    /// A nick unique to this test run.
    static func freshNick(_ prefix: String = "f") -> String {
        prefix + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12)).lowercased()
    }

    /// Joins `rooms` and waits for the welcome.
    static func joined(port: Int, rooms: [String] = ["lobby"], transport: SockJSTransportKind = .websocket) async throws -> ChatPeer {
        let peer = ChatPeer(port: port, transport: transport)
        // As DESIGN.md tells clients: a join answered `unavailable` (a node still catching up
        // with the broker, a busy machine) is retried, a few times, a second apart.
        for _ in 0..<5 {
            peer.connection.join(nick: peer.nick, rooms: rooms)
            let answer = await peer.next(where: {
                switch $0 {
                case .frame(.welcome): true
                case .frame(.error(let error)): error.code == .unavailable
                default: false
                }
            })
            if case .frame(.welcome) = answer { return peer }
            if answer == nil { break }
            // A client's retry pace, not a wait for anything.
            try await Task.sleep(for: .seconds(1))
        }
        throw PeerFailure(description: "\(peer.nick) got no welcome; events: \(peer.box.all.suffix(5))")
    }

    /// The next event (after the ones already taken) that satisfies `match`, within `timeout`.
    func next(timeout: Duration = .seconds(15), where match: (ChatClientEvent) -> Bool) async -> ChatClientEvent? {
        var found: ChatClientEvent?
        try? await eventually("an event", timeout: timeout, interval: .milliseconds(10)) {
            let all = box.all
            var position = box.cursor
            while position < all.count {
                let event = all[position]
                position += 1
                if match(event) {
                    box.cursor = position
                    found = event
                    return true
                }
            }
            return false
        }
        return found
    }

    /// Whether any event so far (taken or not) satisfies `match`, waiting up to `timeout` for one.
    func saw(timeout: Duration = .seconds(15), _ match: (ChatClientEvent) -> Bool) async -> Bool {
        (try? await eventually("an event", timeout: timeout, interval: .milliseconds(10)) { box.all.contains(where: match) }) != nil
    }

    /// The next error frame.
    func nextError(timeout: Duration = .seconds(15)) async -> ErrorFrame? {
        let event = await next(timeout: timeout) { if case .frame(.error) = $0 { true } else { false } }
        if case .frame(.error(let error)) = event { return error }
        return nil
    }

    /// The close, whenever it came (earlier events are skipped).
    func closed(timeout: Duration = .seconds(15)) async -> (code: Int, reason: String)? {
        let event = await next(timeout: timeout) { if case .closed = $0 { true } else { false } }
        if case .closed(let code, let reason) = event { return (code, reason) }
        return nil
    }

    /// Whether the session has closed so far.
    var isClosed: Bool { box.all.contains { if case .closed = $0 { true } else { false } } }

    /// Sends raw text as one SockJS message (not necessarily a chat frame).
    @discardableResult
    func sendRaw(_ text: String) -> Bool { connection.sockJS.send(text) }

    func close() { connection.close() }
}

/// The events of one peer, appended on its event loop and read by the test.
final class EventBox: Sendable {
    private let state = Mutex<(events: [ChatClientEvent], cursor: Int)>(([], 0))
    func append(_ event: ChatClientEvent) { state.withLock { $0.events.append(event) } }
    var all: [ChatClientEvent] { state.withLock { $0.events } }
    var cursor: Int {
        get { state.withLock { $0.cursor } }
        set { state.withLock { $0.cursor = newValue } }
    }
}

struct PeerFailure: Error, CustomStringConvertible {
    var description: String
}

/// Two well-behaved users in one room: the bystanders every bad-input test checks after the fact.
struct Bystanders {
    let sender: ChatPeer
    let receiver: ChatPeer
    let room: String

    static func join(port: Int, room: String = "lobby") async throws -> Bystanders {
        Bystanders(
            sender: try await ChatPeer.joined(port: port, rooms: [room]),
            receiver: try await ChatPeer.joined(port: port, rooms: [room]),
            room: room
        )
    }

    /// One public and one private message from the sender: both confirmed (`sent`) and both
    /// delivered to the receiver. True when all four arrived within the timeout.
    func exchange(timeout: Duration = .seconds(15)) async -> Bool {
        let tag = UUID().uuidString
        sender.connection.say(id: "p" + tag, text: "public " + tag, room: room)
        sender.connection.tell(id: "t" + tag, to: receiver.nick, text: "private " + tag)
        let publicSent = await sender.saw(timeout: timeout) { if case .frame(.sent(let s)) = $0 { s.id == "p" + tag } else { false } }
        let privateSent = await sender.saw(timeout: timeout) { if case .frame(.sent(let s)) = $0 { s.id == "t" + tag } else { false } }
        let gotPublic = await receiver.saw(timeout: timeout) { if case .frame(.message(let m)) = $0 { m.text == "public " + tag } else { false } }
        let gotPrivate = await receiver.saw(timeout: timeout) { if case .frame(.message(let m)) = $0 { m.text == "private " + tag } else { false } }
        return publicSent && privateSent && gotPublic && gotPrivate
    }

    func close() {
        sender.close()
        receiver.close()
    }
}

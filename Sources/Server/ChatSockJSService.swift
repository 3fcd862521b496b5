import Chat
import NIOCore
import SockJS
import Synchronization

/// The `/chat` SockJS service: each SockJS session becomes a chat session of the node.
/// Messages go to the chat session in the order SockJS delivers them; a closed SockJS session
/// disconnects its chat session exactly once.
final class ChatSockJSService: SockJSService {
    private let node: ChatNode
    private let metrics: ServerMetrics
    /// The chat session of every open SockJS session. Touched once per open, message and close;
    /// the lock is held only for the dictionary operation.
    private let sessions = Mutex<[ObjectIdentifier: ChatSession]>([:])

    init(node: ChatNode, metrics: ServerMetrics) {
        self.node = node
        self.metrics = metrics
    }

    func sessionOpened(_ session: SockJSSession) {
        let chat = node.attach(SockJSChatOutlet(session: session, metrics: metrics), address: session.remoteAddress?.ipAddress ?? "unknown")
        sessions.withLock { $0[ObjectIdentifier(session)] = chat }
        metrics.sessionsChanged(transport: session.transport.rawValue, by: 1)
    }

    func session(_ session: SockJSSession, received message: String) {
        let chat = sessions.withLock { $0[ObjectIdentifier(session)] }
        chat?.receive(message)
    }

    func sessionClosed(_ session: SockJSSession, reason: SockJSCloseReason) {
        guard let chat = sessions.withLock({ $0.removeValue(forKey: ObjectIdentifier(session)) }) else { return }
        metrics.sessionsChanged(transport: session.transport.rawValue, by: -1)
        chat.disconnected()
    }

    /// Open chat sessions on this node.
    var count: Int { sessions.withLock { $0.count } }
}

import Broker
import Dispatch

/// An instant of the chat's clock (``ChatClock``, milliseconds), for the password limits: a
/// test that moves its ``ManualChatClock`` moves the limits' windows too.
struct ChatClockInstant: InstantProtocol {
    var offset: Duration

    init(milliseconds: Int64) { offset = .milliseconds(milliseconds) }
    init(offset: Duration) { self.offset = offset }

    func advanced(by duration: Duration) -> ChatClockInstant { ChatClockInstant(offset: offset + duration) }
    func duration(to other: ChatClockInstant) -> Duration { other.offset - offset }
    static func < (lhs: ChatClockInstant, rhs: ChatClockInstant) -> Bool { lhs.offset < rhs.offset }
}

extension ChatNodeExecutor {
    typealias Accounts = AccountsMachine<UInt64>
    typealias PasswordLimits = PasswordLimiter<ChatClockInstant>

    /// What a join of a protected nick found.
    enum SignIn: Sendable, Hashable {
        /// Not protected: the join goes on as before issue 16.
        case open
        /// The password matched: the nick is the join's, as with a valid token.
        case signedIn
        case refused(ChatProtocolError)
    }

    /// The clock's instant now, for ``PasswordLimiter``.
    var limiterNow: ChatClockInstant { ChatClockInstant(milliseconds: now) }

    /// Runs `work` (a password derivation) off the actor, when the accounts machine lets it:
    /// at most two at once, 32 waiting; nil when refused (`unavailable`) or when it threw.
    func derive<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async -> T? {
        let waiter = nextWaiter
        nextWaiter += 1
        let admitted = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            derivationResumers[waiter] = continuation
            run(accountsMachine.requestDerivation(waiter))
        }
        guard admitted else { return nil }
        let result: T? = await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            // A queue of its own (not the actor's executor nor the cooperative pool): scrypt
            // takes about 150 ms and must not hold up the node's other work.
            ChatNodeExecutor.derivationQueue.async { continuation.resume(returning: try? work()) }
        }
        run(accountsMachine.derivationEnded())
        return result
    }

    static let derivationQueue = DispatchQueue(label: "rabbitChat.scrypt", attributes: .concurrent)

    func run(_ actions: [Accounts.Action]) {
        for action in actions {
            switch action {
            case .derive(let waiter): derivationResumers.removeValue(forKey: waiter)?.resume(returning: true)
            case .refuse(let waiter): derivationResumers.removeValue(forKey: waiter)?.resume(returning: false)
            }
        }
    }

    static var busy: ChatProtocolError {
        ChatProtocolError(.unavailable, "Too many sign-ins at once on this server: try again in a few seconds.")
    }

    /// A join's account check (``AccountsMachine/check(nick:withPassword:registrationClosed:)``),
    /// then, for a protected nick, the limits and the password derivation.
    func signIn(_ request: JoinRequest, address: String) async -> SignIn {
        switch accountsMachine.check(nick: request.nick, withPassword: request.password != nil, registrationClosed: configuration.registrationClosed) {
        case .open:
            return .open
        case .registrationClosed:
            return .refused(
                ChatProtocolError(.registrationClosed, "This server admits only accounts made by its operator: ask the operator for an account."))
        case .authFailed:
            return .refused(ChatProtocolError(.authFailed, ClientFrame.signInFailed))
        case .verify(let hash):
            guard let password = request.password else { return .refused(ChatProtocolError(.authFailed, ClientFrame.signInFailed)) }
            if let refusal = limit(nick: request.nick, address: address) { return .refused(refusal) }
            guard let matches = await derive({ try hash.verify(password) }) else { return .refused(Self.busy) }
            if matches {
                passwordLimiter.succeeded(nick: request.nick)
                return .signedIn
            }
            passwordLimiter.failed(nick: request.nick, now: limiterNow)
            return .refused(ChatProtocolError(.authFailed, ClientFrame.signInFailed))
        }
    }

    private func limit(nick: String, address: String) -> ChatProtocolError? {
        guard case .limited(let wait) = passwordLimiter.attempt(nick: nick, address: address, now: limiterNow) else { return nil }
        let seconds = max(1, wait.components.seconds + (wait.components.attoseconds > 0 ? 1 : 0))
        return ChatProtocolError(.rateLimited, "Too many password attempts: wait \(seconds) seconds, then try again.")
    }

    /// `setPassword`: checks `current` when the nick has a password, hashes the new one (off
    /// the actor), publishes the `password` record to `chat.state` and waits for its confirm.
    func setPassword(_ request: SetPasswordRequest, nick: String, session: ChatSession) async {
        if let account = accountsMachine.accounts[nick] {
            guard let current = request.current else {
                session.send(ChatProtocolError(.authFailed, "Your nick has a password: send it as 'current' to change it.").frame)
                return
            }
            if let refusal = limit(nick: nick, address: session.address) {
                session.send(refusal.frame)
                return
            }
            guard let matches = await derive({ try account.hash.verify(current) }) else {
                session.send(Self.busy.frame)
                return
            }
            guard matches else {
                passwordLimiter.failed(nick: nick, now: limiterNow)
                session.send(ChatProtocolError(.authFailed, "That is not your current password: send it as 'current' to change your password.").frame)
                return
            }
            passwordLimiter.succeeded(nick: nick)
        }
        let password = request.password
        guard let hash = await derive({ try PasswordHash.make(password: password) }) else {
            session.send(Self.busy.frame)
            return
        }
        let record = StateRecord.password(nick: nick, hash: hash, ts: now, byOperator: false)
        do {
            let channel = try await publisher()
            try await channel.publish(
                OutgoingMessage(body: record.encoded(), properties: MessageProperties(persistent: true, type: "password")),
                exchange: "", routingKey: topology.stateStream, mandatory: true)
        } catch {
            logger.warning("Could not store a password record", metadata: ["nick": "\(nick)", "error": "\(error)"])
            session.send(ChatProtocolError(.unavailable, "Your password could not be stored: try again in a few seconds.").frame)
            return
        }
        // Known here at once; the stream brings the same record back (newest wins, so twice is once).
        accountsMachine.read(.password(nick: nick, hash: hash, ts: record.ts, byOperator: false))
        session.send(.passwordSet(PasswordSet()))
    }

    /// A record of the `chat.state` stream.
    func onStateRecord(_ delivery: Delivery) {
        if let offset = delivery.streamOffset { lastStateOffset = offset }
        if delivery.properties.type == "sync" {
            if let record = BrokerRecord.decode(delivery.body) { run(catchUp.stateSyncRead(marker: record.marker)) }
            return
        }
        guard let record: Accounts.Record = StateRecord.decode(delivery.body) else { return }
        accountsMachine.read(record)
    }
}

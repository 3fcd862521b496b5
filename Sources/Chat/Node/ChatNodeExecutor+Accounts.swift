import Broker
import Dispatch
import FoundationEssentials

extension ChatNodeExecutor {
    typealias Accounts = AccountsMachine<UInt64>

    /// How a derivation (scrypt) ended.
    enum Derived<Value: Sendable>: Sendable {
        case done(Value)
        /// It threw (parameters this node does not derive with).
        case failed
        /// No place to run it: too many derivations wait already.
        case busy
    }

    /// Runs `work` (a password derivation) off the actor, when the accounts machine lets it:
    /// at most two at once, 32 waiting.
    func derive<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async -> Derived<T> {
        let waiter = nextWaiter
        nextWaiter += 1
        let admitted = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            derivationResumers[waiter] = continuation
            run(accountsMachine.requestDerivation(waiter))
        }
        guard admitted else { return .busy }
        let result: T? = await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            // A queue of its own (not the actor's executor nor the cooperative pool): scrypt
            // takes about 150 ms and must not hold up the node's other work.
            ChatNodeExecutor.derivationQueue.async { continuation.resume(returning: try? work()) }
        }
        run(accountsMachine.derivationEnded())
        return result.map { .done($0) } ?? .failed
    }

    /// A password check's outcome, as the accounts machine takes it.
    func verify(_ password: String, against hash: PasswordHash) async -> Accounts.Verification {
        switch await derive({ try hash.verify(password) }) {
        case .done(true): .matched
        case .done(false): .mismatched
        case .failed: .unusable
        case .busy: .busy
        }
    }

    static let derivationQueue = DispatchQueue(label: "rabbitChat.scrypt", attributes: .concurrent)

    func run(_ actions: [Accounts.Action]) {
        for action in actions {
            switch action {
            case .derive(let waiter): derivationResumers.removeValue(forKey: waiter)?.resume(returning: true)
            case .refuse(let waiter): derivationResumers.removeValue(forKey: waiter)?.resume(returning: false)
            case .deviceRecorded(let waiter, let known):
                deviceTimers.cancel(waiter)
                deviceResumers.removeValue(forKey: waiter)?.resume(returning: known)
            case .signOut(let nick, let devices):
                closeSignedOut(nick: nick, devices: Set(devices))
            }
        }
    }

    /// Every local session of `nick` on one of `devices` closes with 4005 `Signed out`; a
    /// session whose own `signOut` awaits its confirm closes after its `signedOut` instead.
    func closeSignedOut(nick: String, devices: Set<String>) {
        for (id, entry) in sessions where entry.nick == nick && !signingOut.contains(id) {
            guard let device = entry.device, devices.contains(device) else { continue }
            close(entry)
        }
    }

    private func close(_ entry: SessionEntry) {
        guard !entry.session.isClosed else { return }
        entry.session.markClosed()
        entry.outlet.close(code: ChatCloseCode.signedOut, reason: "Signed out")
    }

    /// A join's sign-in: the accounts machine decides (``AccountsMachine/signIn(_:registrationClosed:now:)``);
    /// a password is derived here, off the actor, and its outcome decided there too.
    func signIn(_ request: JoinRequest, address: String) async -> Accounts.Admission {
        let credentials = Accounts.Credentials(nick: request.nick, password: request.password, session: request.session, address: address)
        switch accountsMachine.signIn(credentials, registrationClosed: configuration.registrationClosed, now: now) {
        case .decided(let admission):
            return admission
        case .verify(let hash):
            let verification = await verify(request.password ?? "", against: hash)
            let admission = accountsMachine.passwordChecked(nick: request.nick, verification, now: now)
            if admission == .signedIn, let weaker = accountsMachine.rehashNeeded(nick: request.nick, cost: configuration.passwordCost) {
                let nick = request.nick
                let password = request.password ?? ""
                Task { await self.rehash(nick: nick, password: password, replacing: weaker) }
            }
            return admission
        }
    }

    /// After a sign-in whose password was stored with weaker parameters than this node's:
    /// the same password hashed at this node's cost, published as a `rehash` record (best
    /// effort: busy or failed, the next sign-in tries again). Nothing is published when the
    /// password changed meanwhile; the record itself replaces only the hash it names.
    func rehash(nick: String, password: String, replacing weaker: PasswordHash) async {
        let cost = configuration.passwordCost
        guard case .done(let hash) = await derive({ try PasswordHash.make(password: password, n: cost) }) else { return }
        guard accountsMachine.rehashNeeded(nick: nick, cost: cost)?.salt == weaker.salt else { return }
        let record = Accounts.Record.rehash(nick: nick, hash: hash, replacing: weaker.salt, ts: now)
        if await publishState(record) {
            logger.info("A password stored with weaker parameters was hashed again at this node's cost", metadata: ["nick": "\(nick)", "N": "\(cost)"])
        }
    }

    /// A new device for `nick`: draws its id and session token, publishes its `device` record
    /// (confirmed) and waits until the stream brings it back (so every node that read as far
    /// knows it). Nil when the broker failed or the record did not come back in time.
    func recordDevice(nick: String, label: String?) async -> (id: String, session: String)? {
        let id = Self.randomDeviceId()
        let token = Self.randomSessionToken()
        let record = Accounts.deviceRecord(nick: nick, id: id, token: token, label: label ?? ClientFrame.defaultDeviceLabel, now: now)
        guard await publishState(record) else { return nil }
        let waiter = nextWaiter
        nextWaiter += 1
        let known = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            deviceResumers[waiter] = continuation
            deviceTimers.start(waiter, deadline: .now + configuration.claimTimeout) { [weak self] in await self?.deviceTimerFired($0, id: id) }
            run(accountsMachine.awaitDevice(nick: nick, id: id, job: waiter))
        }
        return known ? (id, token) : nil
    }

    private func deviceTimerFired(_ firing: MachineTimers<UInt64>.Firing, id: String) {
        guard deviceTimers.take(firing) else { return }
        logger.warning("A new device's record did not come back through chat.state in time: its join is answered unavailable", metadata: ["device": "\(id)"])
        run(accountsMachine.deviceWaitExpired(id: id))
    }

    /// A device joined again an hour or more after it was last seen: a `seen` record, best effort.
    func refreshSeen(nick: String, device: String) {
        let record = Accounts.Record.seen(nick: nick, id: device, ts: now)
        Task { _ = await self.publishState(record) }
    }

    /// Publishes `record` to `chat.state` and waits for its confirm; false when it failed.
    func publishState(_ record: Accounts.Record) async -> Bool {
        await publishState(StateRecord(record), nick: record.nick)
    }

    /// Publishes `body` (a record of `nick`, stamped with this node's id) to `chat.state` and
    /// waits for its confirm; false when it failed.
    func publishState(_ record: StateRecord, nick: String) async -> Bool {
        var body = record
        body.node = nodeId
        do {
            let channel = try await publisher()
            try await channel.publish(
                OutgoingMessage(body: body.encoded(), properties: MessageProperties(persistent: true, type: body.kind)),
                exchange: "", routingKey: topology.stateStream, mandatory: true)
            return true
        } catch {
            logger.warning("Could not store a state record", metadata: ["kind": "\(body.kind)", "nick": "\(nick)", "error": "\(error)"])
            return false
        }
    }

    /// `setPassword`: the accounts machine decides (``AccountsMachine/changePassword(nick:current:address:now:)``);
    /// the current password and the new hash are derived here, off the actor; the `password`
    /// record is published and confirmed before `passwordSet`.
    func setPassword(_ request: SetPasswordRequest, nick: String, session: ChatSession) async {
        var change = accountsMachine.changePassword(nick: nick, current: request.current, address: session.address, now: now)
        if case .verifyCurrent(let hash) = change {
            let verification = await verify(request.current ?? "", against: hash)
            change = accountsMachine.currentChecked(nick: nick, verification, now: now)
        }
        guard case .hashNew = change else {
            if case .refused(let error) = change { session.send(error.frame) }
            return
        }
        let password = request.password
        let cost = configuration.passwordCost
        guard case .done(let hash) = await derive({ try PasswordHash.make(password: password, n: cost) }) else {
            session.send(Accounts.busy.frame)
            return
        }
        let record = Accounts.Record.password(nick: nick, hash: hash, ts: now, byOperator: false)
        guard await publishState(record) else {
            session.send(ChatProtocolError(.unavailable, "Your password could not be stored: try again in a few seconds.").frame)
            return
        }
        // Known here at once; the stream brings the same record back (newest wins, so twice is once).
        accountsMachine.read(record)
        session.send(.passwordSet(PasswordSet()))
    }

    /// `devices`: the user's devices, newest first.
    func listDevices(session: ChatSession) {
        guard let entry = sessions[session.id] else { return }
        session.send(.devices(DeviceList(devices: accountsMachine.deviceList(of: entry.nick, current: entry.device))))
    }

    /// `signOut`: the accounts machine decides what to revoke; the `revoke` record is published
    /// (confirmed), then `signedOut`, then every live session of those devices here closes
    /// (4005); the other nodes close theirs when they read the record.
    func signOut(device: String?, everywhere: Bool, session: ChatSession) async {
        guard let entry = sessions[session.id] else { return }
        switch accountsMachine.signOut(nick: entry.nick, current: entry.device, device: device, everywhere: everywhere, now: now) {
        case .refused(let error):
            session.send(error.frame)
        case .publish(let record, let devices):
            // The stream may bring the record back before its confirm: this session then
            // closes only after its answer (below).
            signingOut.insert(session.id)
            let stored = await publishState(record)
            signingOut.remove(session.id)
            if stored {
                session.send(.signedOut(SignedOut(devices: devices)))
                run(accountsMachine.signedOut(nick: entry.nick, devices: devices))
            } else {
                session.send(ChatProtocolError(.unavailable, "The sign-out could not be stored: try again in a few seconds.").frame)
            }
            if let own = entry.device, !accountsMachine.isSignedIn(nick: entry.nick, device: own) { close(entry) }
        }
    }

    /// A record of the `chat.state` stream.
    func onStateRecord(_ delivery: Delivery) {
        if let offset = delivery.streamOffset {
            lastStateOffset = offset
            if firstStateOffset == nil { firstStateOffset = offset }
        }
        if delivery.properties.type == "sync" {
            let record = BrokerRecord.decode(delivery.body)
            if let record { run(catchUp.stateSyncRead(marker: record.marker)) }
            countStateSync(delivery.body, node: record?.node)
            return
        }
        foldStateRecord(delivery.body, offset: delivery.streamOffset)
    }

    /// 12 random hex digits.
    static func randomDeviceId() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value & 0xFFFF_FFFF_FFFF, radix: 16)
        return String(repeating: "0", count: 12 - hex.count) + hex
    }

    /// 32 random bytes, base64url without padding (43 characters).
    static func randomSessionToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return NickToken.base64URL(Data(bytes))
    }
}

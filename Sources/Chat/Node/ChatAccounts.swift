import Broker

/// The operator's accounts (`rabbitChat user add/passwd/delete`, Specs/server.md): writes
/// `password` and `delete` records to the `chat.state` stream over any broker connection, as
/// the nodes read them. Under `--registration closed` only nicks with such an account join.
public enum ChatAccounts {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// One sentence saying what went wrong and what to do.
        public var description: String
    }

    /// Makes (or replaces) the operator account of `nick` with `password`; the hash is derived
    /// here (about 150 ms), then the record is published and confirmed, then a `revoke` of
    /// every device of the nick (signed-in browsers sign in again with the new password).
    /// `cost`: scrypt's `N` (``ChatConfiguration/passwordCost``).
    public static func setPassword(
        _ password: String, for nick: String, on connection: any BrokerConnection, topology: ChatTopology, cost: Int = 1 << 15
    ) async throws(Failure) {
        guard ChatName.isValid(nick) else {
            throw Failure(description: "A nick is 1 to 32 letters, digits, '_', '.' or '-': \(nick) is not one.")
        }
        guard ClientFrame.passwordBytes.contains(password.utf8.count) else {
            throw Failure(
                description: "A password is \(ClientFrame.passwordBytes.lowerBound) to \(ClientFrame.passwordBytes.upperBound) bytes: pick another one.")
        }
        let hash: PasswordHash
        do {
            hash = try PasswordHash.make(password: password, n: cost)
        } catch {
            throw Failure(description: "The password could not be hashed (\(error)).")
        }
        let ts = SystemChatClock().nowMilliseconds()
        try await publish(StateRecord.password(nick: nick, hash: hash, ts: ts, byOperator: true), on: connection, topology: topology)
        // A new password signs every device out (their sessions close with 4005).
        try await publish(StateRecord(AccountsMachine<Int>.Record.revokeAll(nick: nick, ts: ts)), on: connection, topology: topology)
    }

    /// Deletes the account of `nick`: the nick is no longer protected (and, under
    /// `--registration closed`, may no longer join); every device of it is signed out.
    public static func delete(_ nick: String, on connection: any BrokerConnection, topology: ChatTopology) async throws(Failure) {
        guard ChatName.isValid(nick) else {
            throw Failure(description: "A nick is 1 to 32 letters, digits, '_', '.' or '-': \(nick) is not one.")
        }
        let ts = SystemChatClock().nowMilliseconds()
        try await publish(StateRecord.delete(nick: nick, ts: ts), on: connection, topology: topology)
        try await publish(StateRecord(AccountsMachine<Int>.Record.revokeAll(nick: nick, ts: ts)), on: connection, topology: topology)
    }

    private static func publish(_ record: StateRecord, on connection: any BrokerConnection, topology: ChatTopology) async throws(Failure) {
        do {
            var channel = try await connection.openChannel()
            do {
                try await channel.declareQueue(topology.stateStream, options: QueueOptions(durable: true, arguments: ChatTopology.stateStreamArguments))
            } catch let error where error.code == BrokerError.preconditionFailed {
                // Declared with other arguments (an earlier build's): used as it is, as the nodes do.
                channel = try await connection.openChannel()
                try await channel.declareQueue(topology.stateStream, options: QueueOptions(passive: true))
            }
            try await channel.publish(
                OutgoingMessage(body: record.encoded(), properties: MessageProperties(persistent: true, type: record.kind)),
                exchange: "", routingKey: topology.stateStream, mandatory: true)
            await channel.close()
        } catch {
            throw Failure(description: "The broker did not store the account (\(error)): check that it runs, then try again.")
        }
    }
}

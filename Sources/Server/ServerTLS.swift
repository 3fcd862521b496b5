import Foundation
import NIOCore
import NIOSSL

/// `--tls-cert` and `--tls-key`: the PEM files that make the server speak `https://` and
/// `wss://` on its one port. Read and checked at start-up, so a bad file is one sentence
/// before anything listens, not a failed handshake later.
enum ServerTLS {
    /// A server context for the PEM certificate chain at `certificate` (leaf first) and the
    /// PEM private key at `key`: TLS 1.2 or newer, HTTP/1.1 offered by ALPN.
    static func context(certificate: String, key: String) throws(StartupError) -> NIOSSLContext {
        guard let certificateBytes = FileManager.default.contents(atPath: certificate) else {
            throw StartupError("The TLS certificate \(certificate) cannot be read; check the path given to --tls-cert and its permissions.")
        }
        guard let keyBytes = FileManager.default.contents(atPath: key) else {
            throw StartupError("The TLS key \(key) cannot be read; check the path given to --tls-key and its permissions.")
        }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(Array(certificateBytes))
        } catch {
            chain = []
        }
        guard !chain.isEmpty else {
            throw StartupError(
                "The TLS certificate \(certificate) holds no PEM certificate; give --tls-cert a file that starts with -----BEGIN CERTIFICATE-----.")
        }
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(bytes: Array(keyBytes), format: .pem)
        } catch {
            throw StartupError(
                "The TLS key \(key) holds no PEM private key (or one protected by a passphrase); give --tls-key the unencrypted key of the certificate.")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(privateKey)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw StartupError(
                "The TLS key \(key) does not belong to the certificate \(certificate) (\(error)); give --tls-key the key the certificate was made for.")
        }
    }

    /// What each accepted connection runs first: a TLS handler in front of the SockJS handler.
    static func connectionSetup(_ context: NIOSSLContext) -> @Sendable (any Channel) throws -> Void {
        { channel in
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
        }
    }
}

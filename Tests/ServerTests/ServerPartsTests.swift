import Foundation
import ServerTestSupport
import Synchronization
import Testing

@testable import Server

/// The pure parts of the executable: configuration values, the secret file, the static site,
/// the frame-kind sniffing that labels outbound metrics.
@Suite("rabbitChat parts")
struct ServerPartsTests {
    @Test("A broker URL's password is never shown")
    func redactsPasswords() {
        #expect(ServerConfiguration.redacted("amqp://guest:secret@127.0.0.1:5672/") == "amqp://guest@127.0.0.1:5672/")
        #expect(ServerConfiguration.redacted("amqp://127.0.0.1:5672/") == "amqp://guest@127.0.0.1:5672/")
        #expect(ServerConfiguration.redacted("amqp://user@host/") == "amqp://user@host:5672/")
        #expect(ServerConfiguration.redacted("amqp://u:se@cr,et@host:x/") == "amqp://***@host:x/")
    }

    @Test("--broker takes one URL or a comma-separated list, and refuses what is not amqp")
    func brokerChoice() throws {
        #expect(try ServerConfiguration.brokerChoice(nil) == .embedded)
        #expect(try ServerConfiguration.brokerChoice("  ") == .embedded)
        #expect(try ServerConfiguration.brokerChoice("amqp://a:b@h:1/") == .rabbitMQ(urls: ["amqp://a:b@h:1/"]))
        #expect(try ServerConfiguration.brokerChoice("amqp://h1/, amqp://h2/") == .rabbitMQ(urls: ["amqp://h1/", "amqp://h2/"]))
        #expect(throws: StartupError.self) { try ServerConfiguration.brokerChoice("http://h/") }
        #expect(throws: StartupError.self) { try ServerConfiguration.brokerChoice("amqp://") }
    }

    @Test("A list of broker URLs is cut only where a new URL starts, never inside a password")
    func brokerListSplit() {
        #expect(ServerConfiguration.splitBrokerList("amqp://a:p,w@h1/,amqp://h2/") == ["amqp://a:p,w@h1/", "amqp://h2/"])
        #expect(
            ServerConfiguration.splitBrokerList("amqp://a:p, amqp@h1/ ,  AMQPS://h2/?cacertfile=/c.pem") == [
                "amqp://a:p, amqp@h1/", "AMQPS://h2/?cacertfile=/c.pem",
            ])
        #expect(ServerConfiguration.splitBrokerList("amqp://h1/,") == ["amqp://h1/,"])
        // What is not a URL is refused without its user information.
        #expect {
            try ServerConfiguration.brokerChoice("guest:s3cret@h1, amqp://h2/")
        } throws: { error in
            let text = "\(error)"
            return !text.contains("s3cret") && text.contains("***@h1")
        }
    }

    @Test("A command-line error that quotes a URL quotes it redacted")
    func commandLineErrorsAreRedacted() {
        #expect(ServerConfiguration.redactingQuotedURLs(in: "Unexpected argument 'amqp://alice:pw@h/'") == "Unexpected argument 'amqp://alice@h:5672/'")
        #expect(ServerConfiguration.redactingQuotedURLs(in: "Unexpected argument 'alice:p@w@h'") == "Unexpected argument '***@h'")
        #expect(
            ServerConfiguration.redactingQuotedURLs(in: "Unknown option '--brokr'. Did you mean '--broker'?")
                == "Unknown option '--brokr'. Did you mean '--broker'?")
    }

    @Test("--broker-file: URLs one or more per line, comments skipped; refused when others may read it")
    func brokerFile() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.path + "/broker"
        try "# the cluster\namqp://u:p,w@h1:1/\n\n amqp://u:pw@h2:2/, amqp://u:pw@h3:3/\n".write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o600)
        #expect(try ServerConfiguration.brokerURLs(fromFile: path) == ["amqp://u:p,w@h1:1/", "amqp://u:pw@h2:2/", "amqp://u:pw@h3:3/"])
        chmod(path, 0o640)
        #expect {
            try ServerConfiguration.brokerURLs(fromFile: path)
        } throws: { error in
            let text = "\(error)"
            return text.contains("chmod 600 \(path)") && text.contains("mode 640") && !text.contains("pw")
        }
        #expect(throws: StartupError.self) { try ServerConfiguration.brokerURLs(fromFile: folder.path + "/absent") }
        try "# nothing\n".write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o600)
        #expect(throws: StartupError.self) { try ServerConfiguration.brokerURLs(fromFile: path) }
        try String(repeating: "# padding\n", count: 7_000).write(toFile: path, atomically: false, encoding: .utf8)
        #expect {
            try ServerConfiguration.brokerURLs(fromFile: path)
        } throws: { error in
            "\(error)".contains("larger than 65536 bytes")
        }
    }

    @Test(
        "A secret file that group or others may read, or with less than 32 bytes of key, is refused with what to do",
        arguments: [0o644, 0o640, 0o604, 0o660, 0o602])
    func secretFileModeRefused(mode: Int) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.path + "/secret"
        try (String(repeating: "ab", count: 32) + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, mode_t(mode))
        #expect {
            try SecretFile(path: path).loadOrCreate()
        } throws: { error in
            let text = "\(error)"
            return text.contains("chmod 600 \(path)") && text.contains("mode \(String(mode, radix: 8))") && !text.contains("abab")
        }
        chmod(path, 0o600)
        #expect(try SecretFile(path: path).loadOrCreate().key == Array(repeating: 0xAB, count: 32))
        chmod(path, 0o400)
        #expect(try SecretFile(path: path).loadOrCreate().key.count == 32)
    }

    @Test("A secret file with fewer than 32 bytes of key is refused, saying how to get a good one")
    func secretFileTooShort() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.path + "/secret"
        try (String(repeating: "ab", count: 31) + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o600)
        #expect {
            try SecretFile(path: path).loadOrCreate()
        } throws: { error in
            let text = "\(error)"
            return text.contains("31 bytes") && text.contains("32") && text.contains("delete it")
        }
    }

    @Test("Node ids are names: letters, digits, - _ .")
    func nodeIds() {
        #expect(ServerConfiguration.isValidNodeId("node-1.eu_west"))
        #expect(!ServerConfiguration.isValidNodeId(""))
        #expect(!ServerConfiguration.isValidNodeId("a b"))
        #expect(!ServerConfiguration.isValidNodeId(String(repeating: "x", count: 65)))
        #expect(ServerConfiguration.isValidNodeId(ServerConfiguration.defaultNodeId(port: 9191)))
    }

    @Test("The secret file is created with 32 random bytes as hex, mode 600, and read back the same")
    func secretFileCreatedAndReused() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let file = SecretFile(path: folder.path + "/a/b/secret")
        let (key, created) = try file.loadOrCreate()
        #expect(created)
        #expect(key.count == 32)
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let (again, createdAgain) = try file.loadOrCreate()
        #expect(!createdAgain)
        #expect(again == key)
        let other = try SecretFile(path: folder.path + "/other").loadOrCreate().key
        #expect(other != key)
    }

    @Test("Nodes creating the same secret file at the same moment all read one complete key")
    func secretFileCreatedConcurrently() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        for round in 0..<20 {
            let path = folder.path + "/secret-\(round)"
            let keys = Mutex<[Result<[UInt8], StartupError>]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                let result = Result { () throws(StartupError) in try SecretFile(path: path).loadOrCreate().key }
                keys.withLock { $0.append(result) }
            }
            let read = try keys.withLock { try $0.map { try $0.get() } }
            #expect(read.count == 8)
            #expect(Set(read).count == 1, "round \(round): the nodes read different keys")
            #expect(read.first?.count == 32)
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }

    @Test("A secret file written by hand: hex is decoded, other text is used as bytes, too short is refused")
    func secretFileContents() throws {
        #expect(
            try SecretFile.key(from: Array((String(repeating: "00ff", count: 16) + "\n").utf8), path: "x")
                == Array(repeating: [0, 255], count: 16).flatMap { $0 })
        #expect(try SecretFile.key(from: Array("  a passphrase of some length, 32+ \n".utf8), path: "x") == Array("a passphrase of some length, 32+".utf8))
        #expect(throws: StartupError.self) { try SecretFile.key(from: Array("00ff00ff00ff00ff00ff00ff00ff00ff\n".utf8), path: "x") }
        #expect(throws: StartupError.self) { try SecretFile.key(from: Array("short".utf8), path: "x") }
    }

    @Test("Static files: index at /, ETag revalidation, HEAD without body, unknown paths fall through")
    func staticSite() {
        let site = StaticSite(assets: [
            "/": StaticSite.asset(Array("<html>".utf8), name: "index.html", cacheControl: "no-cache"),
            "/app.js": StaticSite.asset(Array("1".utf8), name: "app.js", cacheControl: "no-cache"),
        ])
        let page = site.respond(method: "GET", path: "/", ifNoneMatch: nil)
        #expect(page?.status == 200)
        #expect(page?.body == Array("<html>".utf8))
        #expect(page?.headers.contains { $0.0 == "Content-Type" && $0.1 == "text/html; charset=utf-8" } == true)
        #expect(page?.headers.contains { $0.0 == "Content-Security-Policy" } == true)
        let etag = page?.headers.first { $0.0 == "ETag" }?.1
        #expect(site.respond(method: "GET", path: "/index.html", ifNoneMatch: etag)?.status == 304)
        #expect(site.respond(method: "HEAD", path: "/app.js", ifNoneMatch: nil)?.body == [])
        #expect(site.respond(method: "POST", path: "/app.js", ifNoneMatch: nil)?.status == 405)
        #expect(site.respond(method: "GET", path: "/missing", ifNoneMatch: nil) == nil)
        #expect(StaticSite.etag(Array("a".utf8)) != StaticSite.etag(Array("b".utf8)))
    }

    @Test("The kind of an outbound frame is read from its type member")
    func frameKinds() {
        #expect(ServerMetrics.frameKind(#"{"type":"message","text":"hi"}"#) == "message")
        #expect(ServerMetrics.frameKind(#"{"msgId":"x","type":"sent"}"#) == "sent")
        #expect(ServerMetrics.frameKind(#"{"text":"{\"type\":\"fake\"}","type":"message"}"#) == "message")
        #expect(ServerMetrics.frameKind("not json") == "other")
        let welcome =
            #"{"entered":["lobby"],"history":{"lobby":[{"from":"a","msgId":"1","room":"lobby","seq":1,"text":"x","ts":1}]},"nick":"a","rooms":[],"token":"t","type":"welcome","users":[{"nick":"a","online":true}]}"#
        #expect(ServerMetrics.frameKind(welcome) == "welcome")
        let long = #"{"from":"a","msgId":"1","room":"lobby","seq":1,"text":""# + String(repeating: "y", count: 4000) + #"","ts":1,"type":"message"}"#
        #expect(ServerMetrics.frameKind(long) == "message")
    }
}

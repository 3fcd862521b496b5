import Chat
import FoundationEssentials
import Testing

/// The golden frames of `Specs/examples/` are what the protocol spec shows: each must decode
/// and re-encode to exactly the same text, so Specs and code cannot drift apart.
@Suite("Golden frames of Specs/examples")
struct GoldenFrameTests {
    static let examples: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Specs/examples")

    static func names(prefix: String) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: examples.path)) ?? []
        return files.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".json") }.sorted()
    }

    static func read(_ name: String) throws -> String {
        let data = try Data(contentsOf: examples.appendingPathComponent(name))
        var text = String(decoding: data, as: UTF8.self)
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    @Test func everyFrameTypeHasAGoldenExample() throws {
        let clientTypes = try Set(Self.names(prefix: "client-").map { try ChatFrameCodec.decodeClientFrame(Self.read($0), limits: ChatLimits()).type })
        let serverTypes = try Set(Self.names(prefix: "server-").map { try ChatFrameCodec.decodeServerFrame(Self.read($0)).type })
        #expect(
            clientTypes == [
                "join", "enter", "leave", "say", "tell", "ack", "history", "typing", "users", "setPassword", "devices", "signOut", "read", "settings",
            ])
        #expect(
            serverTypes == [
                "welcome", "entered", "left", "message", "sent", "delivered", "presence", "typing", "history", "error", "users", "gap", "passwordSet",
                "devices", "signedOut", "read", "settings",
            ])
    }

    @Test(arguments: names(prefix: "client-"))
    func clientFrameDecodesAndReencodesIdentically(_ name: String) throws {
        let text = try Self.read(name)
        let frame = try ChatFrameCodec.decodeClientFrame(text, limits: ChatLimits())
        #expect(ChatFrameCodec.encode(frame) == text)
        #expect(name.hasPrefix("client-\(frame.type)"))
    }

    @Test(arguments: names(prefix: "server-"))
    func serverFrameDecodesAndReencodesIdentically(_ name: String) throws {
        let text = try Self.read(name)
        let frame = try ChatFrameCodec.decodeServerFrame(text)
        #expect(ChatFrameCodec.encode(frame) == text)
        #expect(name.hasPrefix("server-\(frame.type)"))
    }

    struct SequenceStep: Decodable, Sendable {
        var from: String
        var frame: String
    }

    /// `sequence-say.json`: every frame is golden, and the sender's `sent` comes before the
    /// `message` with its `msgId` (Specs/chat-protocol.md, "`sent` before the sender's own copy").
    @Test func theSayExchangeShowsSentBeforeTheSendersOwnCopy() throws {
        let steps = try JSONDecoder().decode([SequenceStep].self, from: Data(Self.read("sequence-say.json").utf8))
        var says: [String] = []
        var sentMsgIds: [String: String] = [:]
        var ownCopies = 0
        for step in steps {
            if step.from == "client" {
                let frame = try ChatFrameCodec.decodeClientFrame(step.frame, limits: ChatLimits())
                #expect(ChatFrameCodec.encode(frame) == step.frame)
                if case .say(let say) = frame { says.append(say.id) }
                continue
            }
            #expect(step.from == "server")
            let frame = try ChatFrameCodec.decodeServerFrame(step.frame)
            #expect(ChatFrameCodec.encode(frame) == step.frame)
            switch frame {
            case .sent(let sent):
                #expect(says.contains(sent.id))
                sentMsgIds[sent.msgId] = sent.id
            case .message(let message) where message.from == "alice":
                #expect(sentMsgIds[message.msgId] != nil, "alice's own copy came before its sent")
                ownCopies += 1
            default:
                break
            }
        }
        #expect(says == ["c1"])
        #expect(ownCopies == 1)
    }

    struct BadFrame: Decodable, Sendable, CustomTestStringConvertible {
        var frame: String
        var code: String
        var testDescription: String { "\(code): \(frame.prefix(60))" }
    }

    static func badFrames() -> [BadFrame] {
        guard let text = try? read("bad-frames.json"),
            let frames = try? JSONDecoder().decode([BadFrame].self, from: Data(text.utf8))
        else { return [] }
        return frames
    }

    @Test func badFrameExamplesExist() {
        #expect(Self.badFrames().count >= 20)
    }

    @Test(arguments: badFrames())
    func badFrameGetsItsDocumentedErrorCode(_ example: BadFrame) {
        #expect(throws: ChatProtocolError.self) {
            _ = try ChatFrameCodec.decodeClientFrame(example.frame, limits: ChatLimits())
        }
        do {
            _ = try ChatFrameCodec.decodeClientFrame(example.frame, limits: ChatLimits())
        } catch {
            #expect(error.code.rawValue == example.code)
            #expect(error.message.hasSuffix("."))
        }
    }
}

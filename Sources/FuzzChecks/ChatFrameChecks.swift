import Chat
import FoundationEssentials

/// Properties of the chat frame codec that must hold for any bytes a client or server sends.
///
/// - Decoding a client frame gives a frame or a `ChatProtocolError`, never a crash.
/// - A decoded frame re-encodes to text that decodes to the same frame (and still validates).
/// - Every error is a sentence that ends with a full stop, and names an `id` only when that id
///   is within the protocol's limit (an empty one is echoed as sent); the error frame round-trips.
/// - The same holds for server frames as a client decodes them, and what the hand-written
///   reader (`ServerFrameReader`) reads is what `JSONDecoder` reads.
enum ChatFrameChecks {
    static let limits = ChatLimits()

    static func check(_ bytes: [UInt8]) -> [String] {
        var v = Violations()
        // A SockJS message is a Swift String: invalid UTF-8 arrives as U+FFFD, as it does here.
        let text = String(decoding: bytes, as: UTF8.self)
        checkClientFrame(text, &v)
        checkServerFrame(text, &v)
        return v.list
    }

    static func checkClientFrame(_ text: String, _ v: inout Violations) {
        do {
            let frame = try ChatFrameCodec.decodeClientFrame(text, limits: limits)
            let encoded = ChatFrameCodec.encode(frame)
            do {
                let again = try ChatFrameCodec.decodeClientFrame(encoded, limits: limits)
                v.expect(again == frame, "client frame changed in a round trip: \(preview(text)) became \(preview(encoded))")
            } catch {
                v.fail("re-encoded client frame \(preview(encoded)) of \(preview(text)) was refused: \(error)")
            }
        } catch {
            checkError(error, input: text, &v)
        }
    }

    static func checkError(_ error: ChatProtocolError, input: String, _ v: inout Violations) {
        v.expect(!error.message.isEmpty && error.message.hasSuffix("."), "error for \(preview(input)) is not a sentence: \(error)")
        v.expect(error.message.utf8.count <= 300, "error message for \(preview(input)) is \(error.message.utf8.count) bytes long")
        if let id = error.id {
            // The id is echoed as the client sent it (even empty), but never beyond the id limit.
            v.expect(id.utf8.count <= ClientFrame.maxIdBytes, "error for \(preview(input)) names an id of \(id.utf8.count) bytes")
        }
        let frame = error.frame
        let encoded = ChatFrameCodec.encode(frame)
        let decoded = try? ChatFrameCodec.decodeServerFrame(encoded)
        v.expect(decoded == frame, "error frame \(preview(encoded)) does not round-trip")
    }

    static func checkServerFrame(_ text: String, _ v: inout Violations) {
        // The hand-written reader either leaves a frame to JSONDecoder or reads what it reads
        // (it refuses trailing commas, which JSONDecoder takes: those it leaves alone).
        if let read = ServerFrameReader.read(text) {
            let reference = try? JSONDecoder().decode(ServerFrame.self, from: Data(text.utf8))
            v.expect(read == reference, "the hand-written reader read \(preview(text)) differently from JSONDecoder")
        }
        guard let frame = try? ChatFrameCodec.decodeServerFrame(text) else { return }
        let encoded = ChatFrameCodec.encode(frame)
        let again = try? ChatFrameCodec.decodeServerFrame(encoded)
        v.expect(again == frame, "server frame changed in a round trip: \(preview(text)) became \(preview(encoded))")
        v.expect(ChatFrameCodec.encode(again ?? frame) == encoded, "server frame \(preview(encoded)) does not encode to the same bytes twice")
    }
}

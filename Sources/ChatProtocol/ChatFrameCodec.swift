import FoundationEssentials

/// Turns frames into JSON text and back. Server frames are written with sorted keys and no
/// whitespace, so the same frame always gives the same bytes (the golden examples rely on it).
public enum ChatFrameCodec {
    /// Decodes and validates one client frame, or throws the error frame the client gets:
    /// `too_large` over `limits.maxFrameBytes`, `bad_json` when it is not JSON, `bad_request`
    /// for the wrong shape, then the field rules of ``ClientFrame/validate(limits:)``.
    public static func decodeClientFrame(_ text: String, limits: ClientFrameLimits) throws(ChatProtocolError) -> ClientFrame {
        guard text.utf8.count <= limits.maxFrameBytes else {
            throw ChatProtocolError(.tooLarge, "A frame may be at most \(limits.maxFrameBytes / 1024) KiB: send less at once.")
        }
        let data = Data(text.utf8)
        let frame: ClientFrame
        do {
            frame = try JSONDecoder().decode(ClientFrame.self, from: data)
        } catch let unknown as UnknownFrameType {
            throw ChatProtocolError(
                .badRequest, "Unknown frame type '\(unknown.type.prefix(32))': see Specs/chat-protocol.md for the types.", id: probeId(data))
        } catch let error as DecodingError {
            throw mapDecodingError(error, data: data, id: probeId(data))
        } catch {
            throw ChatProtocolError(.badJSON, "The frame is not valid JSON: send one JSON object per message.")
        }
        do {
            try frame.validate(limits: limits)
        } catch var error {
            // Name the frame's id only when it is one (an over-long id is what was refused).
            if error.id == nil, let id = frame.id, id.utf8.count <= ClientFrame.maxIdBytes { error.id = id }
            throw error
        }
        return frame
    }

    /// Encodes a server frame as compact JSON with sorted keys.
    public static func encode(_ frame: ServerFrame) -> String {
        encodeValue(frame)
    }

    /// Encodes a client frame the same way (for clients and tests).
    public static func encode(_ frame: ClientFrame) -> String {
        encodeValue(frame)
    }

    /// Decodes a server frame (for clients and tests). The frames that make up nearly all of a
    /// client's traffic take the hand-written ``ServerFrameReader``; what it leaves alone,
    /// `JSONDecoder`, which also says what is wrong.
    public static func decodeServerFrame(_ text: String) throws -> ServerFrame {
        if let frame = ServerFrameReader.read(text) {
            return frame
        }
        return try JSONDecoder().decode(ServerFrame.self, from: Data(text.utf8))
    }

    package static func encodeValue(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every value encoded here is made of strings, integers, booleans, arrays and
        // string-keyed objects, which JSONEncoder always encodes.
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private static func mapDecodingError(_ error: DecodingError, data: Data, id: String?) -> ChatProtocolError {
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty && !isJSON(data):
            return ChatProtocolError(.badJSON, "The frame is not valid JSON: send one JSON object per message.")
        case .keyNotFound(let key, _):
            return ChatProtocolError(.badRequest, "The field '\(key.stringValue)' is missing: add it and send the frame again.", id: id)
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return ChatProtocolError(.badRequest, "A field has a value of the wrong type: see Specs/chat-protocol.md for each frame's fields.", id: id)
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return ChatProtocolError(.badRequest, "Send each frame as a JSON object with a 'type' field.", id: id)
            }
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return ChatProtocolError(.badRequest, "The field '\(path)' has the wrong type: see Specs/chat-protocol.md for each frame's fields.", id: id)
        @unknown default:
            return ChatProtocolError(.badRequest, "The frame does not have the shape its type needs: see Specs/chat-protocol.md.", id: id)
        }
    }

    /// True when `data` is syntactically JSON, whatever its shape.
    private static func isJSON(_ data: Data) -> Bool {
        (try? JSONDecoder().decode(AnyJSON.self, from: data)) != nil
    }

    /// Accepts any JSON value.
    private struct AnyJSON: Decodable {
        init(from decoder: any Decoder) throws {
            if var array = try? decoder.unkeyedContainer() {
                while !array.isAtEnd { _ = try array.decode(AnyJSON.self) }
            } else if let object = try? decoder.container(keyedBy: AnyKey.self) {
                for key in object.allKeys { _ = try object.decode(AnyJSON.self, forKey: key) }
            } else {
                let value = try decoder.singleValueContainer()
                if value.decodeNil() { return }
                if (try? value.decode(Bool.self)) != nil { return }
                do {
                    _ = try value.decode(Double.self)
                } catch DecodingError.typeMismatch {
                    _ = try value.decode(String.self)
                } catch {
                    // A number outside Double's range (1e400) is still JSON.
                }
            }
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// The frame's `id` when it has a string one, so an error can name the frame it answers.
    private static func probeId(_ data: Data) -> String? {
        struct Probe: Decodable { var id: String? }
        guard let id = (try? JSONDecoder().decode(Probe.self, from: data))?.id, id.utf8.count <= ClientFrame.maxIdBytes else { return nil }
        return id
    }
}

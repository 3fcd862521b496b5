import Chat

/// Decodes server frames for a client that receives many: the frames a chat sends most
/// (`message`, `sent`, `delivered`) are flat JSON objects, read here in one pass
/// without `JSONDecoder`; every other frame, and anything the fast path does not fully
/// understand, goes to `ChatFrameCodec`, so the result is always what `Chat` itself decodes.
public enum ServerFrameDecoder {
    /// Decodes one server frame; throws what `ChatFrameCodec.decodeServerFrame` throws.
    public static func decode(_ text: String) throws -> ServerFrame {
        if let frame = decodeFlat(text) ?? decodeNested(text) { return frame }
        return try ChatFrameCodec.decodeServerFrame(text)
    }

    /// The fast path: nil when the frame is not a flat `message`, `sent` or `delivered`
    /// with every required field of the right type.
    static func decodeFlat(_ text: String) -> ServerFrame? {
        var type: String?
        var msgId: String?
        var from: String?
        var room: String?
        var to: String?
        var body: String?
        var id: String?
        var ts: Int64?
        var seq: Int64?
        var wrongType = false
        var parser = SockJSJSON.Parser(bytes: Array(text.utf8))
        let parsed = parser.flatObject { key, value in
            switch (key, value) {
            case ("type", .string(let v)): type = v
            case ("msgId", .string(let v)): msgId = v
            case ("from", .string(let v)): from = v
            case ("room", .string(let v)): room = v
            case ("to", .string(let v)): to = v
            case ("text", .string(let v)): body = v
            case ("id", .string(let v)): id = v
            case ("ts", .integer(let v)): ts = Int64(v)
            case ("seq", .integer(let v)): seq = Int64(v)
            case ("room", .null), ("to", .null), ("seq", .null), ("id", .null):
                break
            case ("type", _), ("msgId", _), ("from", _), ("room", _), ("to", _), ("text", _), ("id", _),
                ("ts", _), ("seq", _):
                wrongType = true
            default:
                break  // unknown fields are ignored, as the protocol says
            }
        }
        guard parsed, !wrongType, let type else { return nil }
        switch type {
        case "message":
            guard let msgId, let from, let body, let ts else { return nil }
            return .message(ChatMessage(msgId: msgId, from: from, room: room, to: to, text: body, ts: ts, seq: seq))
        case "sent":
            guard let id, let msgId, let ts else { return nil }
            return .sent(Sent(id: id, msgId: msgId, ts: ts))
        case "delivered":
            guard let msgId, let to, let ts else { return nil }
            return .delivered(Delivered(msgId: msgId, to: to, ts: ts))
        default:
            return nil
        }
    }
}

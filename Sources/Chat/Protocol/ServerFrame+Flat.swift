extension ServerFrame {
    /// The frame, when `object` is one of the flat frames (`message`, `sent`, `delivered`,
    /// `typing`, `left`) with every field of the right type; nil otherwise (the
    /// caller then decodes with `JSONDecoder`, which says what is wrong).
    init?(flat object: FlatJSONObject) {
        /// An optional field: absent or null gives .some(nil); the wrong type gives nil.
        func optionalString(_ key: String) -> String?? {
            if object.isAbsent(key) { return .some(nil) }
            return object.string(key).map { .some($0) }
        }
        func optionalInteger(_ key: String) -> Int64?? {
            if object.isAbsent(key) { return .some(nil) }
            return object.integer(key).map { .some($0) }
        }
        switch object.string("type") {
        case "message":
            guard let msgId = object.string("msgId"), let from = object.string("from"), let text = object.string("text"),
                  let ts = object.integer("ts"), let room = optionalString("room"), let to = optionalString("to"),
                  let seq = optionalInteger("seq") else { return nil }
            self = .message(ChatMessage(msgId: msgId, from: from, room: room, to: to, text: text, ts: ts, seq: seq))
        case "sent":
            guard let id = object.string("id"), let msgId = object.string("msgId"), let ts = object.integer("ts") else { return nil }
            self = .sent(Sent(id: id, msgId: msgId, ts: ts))
        case "delivered":
            guard let msgId = object.string("msgId"), let to = object.string("to"), let ts = object.integer("ts") else { return nil }
            self = .delivered(Delivered(msgId: msgId, to: to, ts: ts))
        case "typing":
            guard let from = object.string("from"), let room = optionalString("room"), let to = optionalString("to") else { return nil }
            self = .typing(Typing(from: from, room: room, to: to))
        case "left":
            guard let room = object.string("room") else { return nil }
            self = .left(Left(room: room))
        default:
            return nil
        }
    }
}

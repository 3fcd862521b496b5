import Broker

/// The binary form of message properties and argument tables in the store
/// (`Specs/storage.md`, "Encoded values"): little-endian integers, length-prefixed strings,
/// tables with their keys sorted so that equal tables encode to equal bytes (bindings are
/// keyed by their encoded arguments). Decoding checks every length against what is left.
enum StoreCodec {
    // MARK: Encoding

    static func encode(_ table: AMQPTable) -> [UInt8] {
        var out: [UInt8] = []
        if !table.isEmpty { append(table, to: &out) }
        return out
    }

    /// Default properties (no field set, not persistent) encode to zero bytes.
    static func encode(_ properties: MessageProperties) -> [UInt8] {
        if properties == MessageProperties() { return [] }
        var out: [UInt8] = []
        var flags: UInt16 = properties.persistent ? 1 : 0
        let strings = [
            properties.contentType, properties.messageId, properties.correlationId, properties.replyTo,
            properties.type, properties.appId, properties.expiration,
        ]
        for (index, value) in strings.enumerated() where value != nil { flags |= 1 << (index + 1) }
        if properties.timestamp != nil { flags |= 1 << 8 }
        if !properties.headers.isEmpty { flags |= 1 << 9 }
        appendInteger(UInt64(flags), bytes: 2, to: &out)
        for value in strings { if let value { appendString(value, to: &out) } }
        if let timestamp = properties.timestamp { appendInteger(UInt64(bitPattern: timestamp), bytes: 8, to: &out) }
        if !properties.headers.isEmpty { append(properties.headers, to: &out) }
        return out
    }

    private static func appendInteger(_ value: UInt64, bytes: Int, to out: inout [UInt8]) {
        for shift in 0..<bytes { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(shift)))) }
    }

    private static func appendString(_ value: String, to out: inout [UInt8]) {
        let utf8 = Array(value.utf8)
        appendInteger(UInt64(utf8.count), bytes: 4, to: &out)
        out.append(contentsOf: utf8)
    }

    private static func append(_ table: AMQPTable, to out: inout [UInt8]) {
        appendInteger(UInt64(table.count), bytes: 4, to: &out)
        for key in table.keys.sorted() {
            appendString(key, to: &out)
            append(table[key]!, to: &out)
        }
    }

    private static func append(_ value: AMQPValue, to out: inout [UInt8]) {
        switch value {
        case .bool(let b):
            out.append(1)
            out.append(b ? 1 : 0)
        case .int(let n):
            out.append(2)
            appendInteger(UInt64(bitPattern: n), bytes: 8, to: &out)
        case .double(let d):
            out.append(3)
            appendInteger(d.bitPattern, bytes: 8, to: &out)
        case .string(let s):
            out.append(4)
            appendString(s, to: &out)
        case .timestamp(let t):
            out.append(5)
            appendInteger(UInt64(bitPattern: t), bytes: 8, to: &out)
        case .bytes(let b):
            out.append(6)
            appendInteger(UInt64(b.count), bytes: 4, to: &out)
            out.append(contentsOf: b)
        case .array(let items):
            out.append(7)
            appendInteger(UInt64(items.count), bytes: 4, to: &out)
            for item in items { append(item, to: &out) }
        case .table(let table):
            out.append(8)
            append(table, to: &out)
        case .void: out.append(9)
        }
    }

    // MARK: Decoding

    struct Reader {
        let bytes: [UInt8]
        var position = 0

        mutating func integer(_ count: Int) throws(StoreError) -> UInt64 {
            guard count <= bytes.count - position else { throw StoreCodec.corrupt }
            var value: UInt64 = 0
            for index in 0..<count { value |= UInt64(bytes[position + index]) << (8 * UInt64(index)) }
            position += count
            return value
        }

        mutating func take(_ count: Int) throws(StoreError) -> ArraySlice<UInt8> {
            guard count >= 0, count <= bytes.count - position else { throw StoreCodec.corrupt }
            defer { position += count }
            return bytes[position..<(position + count)]
        }

        mutating func string() throws(StoreError) -> String {
            let count = Int(try integer(4))
            return String(decoding: try take(count), as: UTF8.self)
        }
    }

    static let corrupt = StoreError("a record in the store is malformed; restore the data directory from a backup, or move it away to start over.")

    /// Nesting deeper than this is refused as corrupt (a stack bound for hostile bytes).
    static let maxDepth = 32

    static func decodeTable(_ bytes: [UInt8]) throws(StoreError) -> AMQPTable {
        guard !bytes.isEmpty else { return [:] }
        var reader = Reader(bytes: bytes)
        return try table(&reader, depth: 0)
    }

    static func decodeProperties(_ bytes: [UInt8]) throws(StoreError) -> MessageProperties {
        guard !bytes.isEmpty else { return MessageProperties() }
        var reader = Reader(bytes: bytes)
        let flags = try reader.integer(2)
        var strings: [String?] = []
        for index in 0..<7 { strings.append(flags & (1 << (index + 1)) != 0 ? try reader.string() : nil) }
        var properties = MessageProperties(persistent: flags & 1 != 0)
        properties.contentType = strings[0]
        properties.messageId = strings[1]
        properties.correlationId = strings[2]
        properties.replyTo = strings[3]
        properties.type = strings[4]
        properties.appId = strings[5]
        properties.expiration = strings[6]
        if flags & (1 << 8) != 0 { properties.timestamp = Int64(bitPattern: try reader.integer(8)) }
        if flags & (1 << 9) != 0 { properties.headers = try table(&reader, depth: 0) }
        return properties
    }

    private static func table(_ reader: inout Reader, depth: Int) throws(StoreError) -> AMQPTable {
        guard depth < maxDepth else { throw corrupt }
        let count = Int(try reader.integer(4))
        // Each entry takes at least 6 bytes: a 4-byte key length and a 1-byte tag (and more).
        guard count <= (reader.bytes.count - reader.position) / 5 else { throw corrupt }
        var table: AMQPTable = [:]
        for _ in 0..<count {
            let key = try reader.string()
            table[key] = try value(&reader, depth: depth + 1)
        }
        return table
    }

    private static func value(_ reader: inout Reader, depth: Int) throws(StoreError) -> AMQPValue {
        guard depth < maxDepth else { throw corrupt }
        switch try reader.integer(1) {
        case 1: return .bool(try reader.integer(1) != 0)
        case 2: return .int(Int64(bitPattern: try reader.integer(8)))
        case 3: return .double(Double(bitPattern: try reader.integer(8)))
        case 4: return .string(try reader.string())
        case 5: return .timestamp(Int64(bitPattern: try reader.integer(8)))
        case 6: return .bytes(Array(try reader.take(Int(try reader.integer(4)))))
        case 7:
            let count = Int(try reader.integer(4))
            guard count <= reader.bytes.count - reader.position else { throw corrupt }
            var items: [AMQPValue] = []
            for _ in 0..<count { items.append(try value(&reader, depth: depth + 1)) }
            return .array(items)
        case 8: return .table(try table(&reader, depth: depth + 1))
        case 9: return .void
        default: throw corrupt
        }
    }
}

import Broker
import CRabbitMQ

/// Field tables between Swift and rabbitmq-c. Every `AMQPValue` case has one wire kind:
/// `bool` → `t`, `int` → `l` (signed 64-bit), `double` → `d`, `string` → `S`, `timestamp` →
/// `T`, `bytes` → `x`, `array` → `A`, `table` → `F`, `void` → `V`. Decoding also accepts the
/// other integer and float kinds RabbitMQ sends (`b B s u I i L f D`).
extension CArena {
    mutating func table(_ table: AMQPTable) -> amqp_table_t {
        guard !table.isEmpty else { return amqp_table_t(num_entries: 0, entries: nil) }
        let entries = allocate(amqp_table_entry_t.self, count: table.count)
        // Sorted keys: the same table always encodes to the same bytes.
        for (index, key) in table.keys.sorted().enumerated() {
            entries[index] = amqp_table_entry_t(key: bytes(key), value: value(table[key]!))
        }
        return amqp_table_t(num_entries: Int32(table.count), entries: entries)
    }

    mutating func value(_ value: AMQPValue) -> amqp_field_value_t {
        var field = amqp_field_value_t()
        switch value {
        case .bool(let flag):
            field.kind = UInt8(ascii: "t")
            field.value.boolean = flag ? 1 : 0
        case .int(let number):
            field.kind = UInt8(ascii: "l")
            field.value.i64 = number
        case .double(let number):
            field.kind = UInt8(ascii: "d")
            field.value.f64 = number
        case .string(let text):
            field.kind = UInt8(ascii: "S")
            field.value.bytes = bytes(text)
        case .timestamp(let seconds):
            field.kind = UInt8(ascii: "T")
            field.value.u64 = UInt64(bitPattern: seconds)
        case .bytes(let data):
            field.kind = UInt8(ascii: "x")
            field.value.bytes = bytes(data)
        case .array(let items):
            field.kind = UInt8(ascii: "A")
            let entries = allocate(amqp_field_value_t.self, count: items.count)
            for (index, item) in items.enumerated() { entries[index] = self.value(item) }
            field.value.array = amqp_array_t(num_entries: Int32(items.count), entries: items.isEmpty ? nil : entries)
        case .table(let nested):
            field.kind = UInt8(ascii: "F")
            field.value.table = table(nested)
        case .void:
            field.kind = UInt8(ascii: "V")
        }
        return field
    }
}

extension AMQPValue {
    /// Decodes one rabbitmq-c field value.
    init(_ field: amqp_field_value_t) {
        switch field.kind {
        case UInt8(ascii: "t"): self = .bool(field.value.boolean != 0)
        case UInt8(ascii: "b"): self = .int(Int64(field.value.i8))
        case UInt8(ascii: "B"): self = .int(Int64(field.value.u8))
        case UInt8(ascii: "s"): self = .int(Int64(field.value.i16))
        case UInt8(ascii: "u"): self = .int(Int64(field.value.u16))
        case UInt8(ascii: "I"): self = .int(Int64(field.value.i32))
        case UInt8(ascii: "i"): self = .int(Int64(field.value.u32))
        case UInt8(ascii: "l"): self = .int(field.value.i64)
        case UInt8(ascii: "L"): self = .int(Int64(bitPattern: field.value.u64))
        case UInt8(ascii: "f"): self = .double(Double(field.value.f32))
        case UInt8(ascii: "d"): self = .double(field.value.f64)
        case UInt8(ascii: "D"):
            var scaled = Double(field.value.decimal.value)
            for _ in 0..<field.value.decimal.decimals { scaled /= 10 }
            self = .double(scaled)
        case UInt8(ascii: "S"): self = .string(swiftString(field.value.bytes))
        case UInt8(ascii: "x"): self = .bytes(byteArray(field.value.bytes))
        case UInt8(ascii: "T"): self = .timestamp(Int64(bitPattern: field.value.u64))
        case UInt8(ascii: "A"):
            let array = field.value.array
            var items: [AMQPValue] = []
            if let entries = array.entries {
                for index in 0..<Int(array.num_entries) { items.append(AMQPValue(entries[index])) }
            }
            self = .array(items)
        case UInt8(ascii: "F"): self = .table(AMQPTable(field.value.table))
        default: self = .void
        }
    }
}

extension Dictionary where Key == String, Value == AMQPValue {
    /// Decodes a rabbitmq-c field table.
    init(_ table: amqp_table_t) {
        self.init()
        guard let entries = table.entries else { return }
        for index in 0..<Int(table.num_entries) {
            self[swiftString(entries[index].key)] = AMQPValue(entries[index].value)
        }
    }
}

extension CArena {
    /// The C properties of `properties`; strings and headers live in this arena.
    mutating func properties(_ properties: MessageProperties) -> amqp_basic_properties_t {
        var c = amqp_basic_properties_t()
        var flags: UInt32 = 0
        if let value = properties.contentType {
            c.content_type = bytes(value)
            flags |= UInt32(AMQP_BASIC_CONTENT_TYPE_FLAG)
        }
        if !properties.headers.isEmpty {
            c.headers = table(properties.headers)
            flags |= UInt32(AMQP_BASIC_HEADERS_FLAG)
        }
        c.delivery_mode = properties.persistent ? 2 : 1
        flags |= UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG)
        if let value = properties.correlationId {
            c.correlation_id = bytes(value)
            flags |= UInt32(AMQP_BASIC_CORRELATION_ID_FLAG)
        }
        if let value = properties.replyTo {
            c.reply_to = bytes(value)
            flags |= UInt32(AMQP_BASIC_REPLY_TO_FLAG)
        }
        if let value = properties.expiration {
            c.expiration = bytes(value)
            flags |= UInt32(AMQP_BASIC_EXPIRATION_FLAG)
        }
        if let value = properties.messageId {
            c.message_id = bytes(value)
            flags |= UInt32(AMQP_BASIC_MESSAGE_ID_FLAG)
        }
        if let value = properties.timestamp {
            c.timestamp = UInt64(bitPattern: value)
            flags |= UInt32(AMQP_BASIC_TIMESTAMP_FLAG)
        }
        if let value = properties.type {
            c.type = bytes(value)
            flags |= UInt32(AMQP_BASIC_TYPE_FLAG)
        }
        if let value = properties.appId {
            c.app_id = bytes(value)
            flags |= UInt32(AMQP_BASIC_APP_ID_FLAG)
        }
        c._flags = flags
        return c
    }
}

extension MessageProperties {
    /// Decodes the properties of a received message: one initializer call, and only the
    /// fields the flags say are present are read (this runs once per delivery).
    init(_ c: amqp_basic_properties_t) {
        let flags = c._flags
        @inline(__always) func has(_ flag: Int32) -> Bool { flags & UInt32(flag) != 0 }
        @inline(__always) func text(_ flag: Int32, _ bytes: amqp_bytes_t) -> String? { has(flag) ? swiftString(bytes) : nil }
        self.init(
            contentType: text(AMQP_BASIC_CONTENT_TYPE_FLAG, c.content_type),
            persistent: has(AMQP_BASIC_DELIVERY_MODE_FLAG) && c.delivery_mode == 2,
            messageId: text(AMQP_BASIC_MESSAGE_ID_FLAG, c.message_id),
            correlationId: text(AMQP_BASIC_CORRELATION_ID_FLAG, c.correlation_id),
            replyTo: text(AMQP_BASIC_REPLY_TO_FLAG, c.reply_to),
            type: text(AMQP_BASIC_TYPE_FLAG, c.type),
            appId: text(AMQP_BASIC_APP_ID_FLAG, c.app_id),
            timestamp: has(AMQP_BASIC_TIMESTAMP_FLAG) ? Int64(bitPattern: c.timestamp) : nil,
            expiration: text(AMQP_BASIC_EXPIRATION_FLAG, c.expiration),
            headers: has(AMQP_BASIC_HEADERS_FLAG) ? AMQPTable(c.headers) : AMQPTable())
    }
}

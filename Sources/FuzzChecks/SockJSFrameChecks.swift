#if DEBUG
    import FoundationEssentials
    import NIOCore
    @testable import SockJS
    import SockJSWire

    /// Properties of the SockJS message codec (what `xhr_send`, `jsonp_send` and websocket clients
    /// send, and what the server writes back).
    ///
    /// - Any payload decodes to a list of strings or to an error, never a crash.
    /// - The array form means the same with and without single strings allowed.
    /// - Decoded messages, escaped with the server's rules and put back in an array, decode to the
    ///   same messages; a standard JSON parser reads the escaped form as the same strings too.
    /// - Whatever a standard JSON parser reads as an array of strings, SockJS reads the same way
    ///   (but for Foundation's leniency about trailing commas, which SockJS rightly refuses).
    /// - The escaped form never carries raw control characters or the code points browsers mangle.
    /// - A `jsonp_send` form body (`d=...`) carries the payload through percent-encoding unchanged.
    enum SockJSFrameChecks {
        static func check(_ bytes: [UInt8]) -> [String] {
            var v = Violations()
            checkDecoding(bytes, &v)
            checkEscaping(String(decoding: bytes, as: UTF8.self), &v)
            checkForm(bytes, &v)
            return v.list
        }

        static func checkDecoding(_ bytes: [UInt8], _ v: inout Violations) {
            let arrayOnly = Result { () throws(SockJSJSON.DecodingError) in try SockJSJSON.decodeMessages(bytes, allowSingleString: false) }
            let anyForm = Result { () throws(SockJSJSON.DecodingError) in try SockJSJSON.decodeMessages(bytes, allowSingleString: true) }
            if case .success(let messages) = arrayOnly {
                v.expect((try? anyForm.get()) == messages, "\(preview(bytes)) decodes differently when single strings are allowed")
                let encoded = encodeArray(messages)
                let again = try? SockJSJSON.decodeMessages(Array(encoded.utf8), allowSingleString: false)
                v.expect(again == messages, "messages of \(preview(bytes)) changed in a round trip through \(preview(encoded))")
                let standard = try? JSONDecoder().decode([String].self, from: Data(encoded.utf8))
                v.expect(standard == messages, "a JSON parser reads the escaped \(preview(encoded)) differently")
            }
            if let standard = try? JSONDecoder().decode([String].self, from: Data(bytes)), isPlainUTF8JSON(bytes), !hasTrailingComma(bytes) {
                v.expect((try? arrayOnly.get()) == standard, "JSON array of strings \(preview(bytes)) is refused or read differently by SockJS")
            }
        }

        static func checkEscaping(_ text: String, _ v: inout Violations) {
            let quoted = SockJSJSON.quoted(text)
            let bytes = Array(quoted.readableBytesView)
            for byte in bytes where byte < 0x20 {
                v.fail("escaped \(preview(text)) carries the raw control byte \(byte)")
                break
            }
            let raw = String(decoding: bytes, as: UTF8.self)
            if let mangled = raw.unicodeScalars.first(where: isEscapedByRule) {
                v.fail("escaped \(preview(text)) carries U+\(String(mangled.value, radix: 16, uppercase: true)) unescaped")
            }
            v.expect((try? SockJSJSON.decodeMessages(bytes, allowSingleString: true)) == [text], "\(preview(text)) does not survive its own escaping")
            v.expect((try? JSONDecoder().decode(String.self, from: Data(bytes))) == text, "a JSON parser reads the escaped \(preview(text)) differently")
        }

        static func checkForm(_ bytes: [UInt8], _ v: inout Violations) {
            let body = Substring(String(decoding: bytes, as: UTF8.self))
            _ = HTTPForm.value(of: "d", in: body)
            let payload = String(decoding: bytes, as: UTF8.self)
            let form = "x=1&d=" + percentEncode(payload) + "&d=2"
            v.expect(HTTPForm.value(of: "d", in: Substring(form)) == payload, "form field d=\(preview(payload)) does not survive percent-encoding")
        }

        /// The code points SockJS must escape although JSON allows them raw.
        static func isEscapedByRule(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar.value {
            case 0x200C...0x200F, 0x2028...0x202F, 0x2060...0x206F, 0xFFF0...0xFFFF: true
            default: false
            }
        }

        /// The array form the client library sends, built with the server's own escaping.
        static func encodeArray(_ messages: [String]) -> String {
            var buffer = ByteBuffer(string: "[")
            for (i, m) in messages.enumerated() {
                if i > 0 { buffer.writeString(",") }
                SockJSJSON.appendQuoted(m, to: &buffer)
            }
            buffer.writeString("]")
            return String(buffer: buffer)
        }

        /// True for input a standard parser reads as UTF-8 with no byte-order or UTF-16 guessing,
        /// so the two parsers see the same characters.
        static func isPlainUTF8JSON(_ bytes: [UInt8]) -> Bool {
            String(validating: bytes, as: UTF8.self) != nil && !bytes.contains(0) && !bytes.starts(with: [0xEF, 0xBB, 0xBF])
        }

        /// Foundation's JSONDecoder accepts `["x",]`; JSON (and the browser's JSON.parse, which
        /// sockjs-node uses) does not, and neither does SockJS here. Such input is left out of the
        /// comparison with the standard parser.
        static func hasTrailingComma(_ bytes: [UInt8]) -> Bool {
            var lastSignificant: UInt8?
            for byte in bytes {
                switch byte {
                case 0x20, 0x09, 0x0A, 0x0D:
                    continue
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    if lastSignificant == UInt8(ascii: ",") { return true }
                default:
                    break
                }
                lastSignificant = byte
            }
            return false
        }

        static func percentEncode(_ text: String) -> String {
            var out = ""
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                    out.append(Character(Unicode.Scalar(byte)))
                default:
                    out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
                }
            }
            return out
        }
    }
#endif

import Chat
import ServerTestSupport
import Testing

/// DESIGN.md, "What bad input gets": each bad frame gets its error code (with the frame's `id`
/// when it had one), the session goes on, and a second and third client's messages are
/// unaffected: the bystanders' public message reaches everyone, and nothing from the bad frame
/// reaches anyone.
@Suite("Bad input to the chat", .serialized, .timeLimit(.minutes(2)))
struct ChatBadInputTests {
    struct BadInput: Sendable, CustomTestStringConvertible {
        var name: String
        var frame: String
        var code: ChatErrorCode
        var id: String?
        var testDescription: String { name }
    }

    static let nested = String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)

    static let inputs: [BadInput] = [
        BadInput(name: "malformed JSON", frame: #"{"type":"say","id":"m1","text":"#, code: .badJSON),
        BadInput(name: "not JSON at all", frame: "hello there", code: .badJSON),
        BadInput(name: "an array instead of an object", frame: #"["say","hi"]"#, code: .badRequest),
        BadInput(name: "a bare string", frame: #""say""#, code: .badRequest),
        BadInput(name: "null", frame: "null", code: .badRequest),
        BadInput(name: "no type", frame: #"{"id":"m2","text":"hi"}"#, code: .badRequest, id: "m2"),
        BadInput(name: "unknown type", frame: #"{"type":"kick","id":"m3","nick":"bob"}"#, code: .badRequest, id: "m3"),
        BadInput(name: "missing text", frame: #"{"type":"say","id":"m4"}"#, code: .badRequest, id: "m4"),
        BadInput(name: "text of the wrong type", frame: #"{"type":"say","id":"m5","text":5}"#, code: .badRequest, id: "m5"),
        BadInput(name: "id of the wrong type", frame: #"{"type":"say","id":5,"text":"hi"}"#, code: .badRequest),
        BadInput(name: "a number too large", frame: #"{"type":"history","room":"lobby","limit":1e400}"#, code: .badRequest),
        BadInput(
            name: "text over 4000 characters", frame: #"{"type":"say","id":"m6","text":"\#(String(repeating: "é", count: 4001))"}"#, code: .tooLarge, id: "m6"),
        BadInput(name: "frame over 64 KiB", frame: #"{"type":"say","id":"m7","text":"hi","pad":"\#(String(repeating: "x", count: 70_000))"}"#, code: .tooLarge),
        BadInput(name: "NUL in the text", frame: #"{"type":"say","id":"m8","text":"a\u0000b"}"#, code: .badRequest, id: "m8"),
        BadInput(name: "escape character in the text", frame: #"{"type":"say","id":"m9","text":"\u001b[31mred"}"#, code: .badRequest, id: "m9"),
        BadInput(name: "empty text", frame: #"{"type":"say","id":"m10","text":""}"#, code: .badRequest, id: "m10"),
        BadInput(name: "deeply nested JSON", frame: #"{"type":"say","id":"m11","text":"hi","x":\#(nested)}"#, code: .badJSON),
        BadInput(name: "deeply nested JSON alone", frame: nested, code: .badJSON),
        BadInput(name: "a room outside the alphabet", frame: #"{"type":"say","id":"m12","room":"<script>","text":"hi"}"#, code: .invalidRoom, id: "m12"),
        BadInput(name: "a tell to an invalid nick", frame: #"{"type":"tell","id":"m13","to":"bob smith","text":"hi"}"#, code: .invalidNick, id: "m13"),
        BadInput(name: "a second join", frame: #"{"type":"join","nick":"mallory"}"#, code: .badRequest),
    ]

    @Test(arguments: inputs)
    func aBadFrameGetsItsErrorAndNobodyElseIsAffected(_ input: BadInput) async throws {
        try await withCluster(.inMemory) { room in
            try await room.start("a", secretCheckWindow: .milliseconds(100), logLevel: .critical)
            let alice = try await room.joined("alice", on: "a")
            let bob = try await room.joined("bob", on: "a")
            let carol = try await room.joined("carol", on: "a")

            alice.sendRaw(input.frame)
            let error = try await alice.anyError()
            #expect(error.code == input.code, "\(input.name): \(error.message)")
            #expect(error.id == input.id)
            #expect(error.message.hasSuffix("."))

            bob.send(.say(SayRequest(id: "b1", text: "bob after \(input.name)")))
            _ = try await bob.sent("b1")
            for client in [alice, bob, carol] {
                // The sender's copy may come before or after its `sent`: look at everything received.
                try await client.waitForMessage("bob after \(input.name)")
            }
            alice.send(.say(SayRequest(id: "a1", text: "alice goes on")))
            _ = try await alice.sent("a1")
            _ = try await carol.message("alice goes on")

            #expect(alice.outlet.closeCode == nil)
            for client in [bob, carol] {
                #expect(client.errors.isEmpty)
                #expect(client.messages.map(\.text) == ["bob after \(input.name)", "alice goes on"])
            }
        }
    }

    @Test func anythingBeforeJoinIsNotJoinedAndReachesNobody() async throws {
        try await withCluster(.inMemory) { room in
            try await room.start("a", secretCheckWindow: .milliseconds(100), logLevel: .critical)
            let bob = try await room.joined("bob", on: "a")
            let stranger = room.client(on: "a")
            stranger.send(.say(SayRequest(id: "s1", text: "who am I")))
            let error = try await stranger.anyError()
            #expect(error.code == .notJoined)
            stranger.send(.tell(TellRequest(id: "s2", to: "bob", text: "psst")))
            #expect(try await stranger.anyError().code == .notJoined)
            bob.send(.say(SayRequest(id: "b1", text: "still here")))
            _ = try await bob.message("still here")
            #expect(bob.messages.map(\.text) == ["still here"])
            #expect(stranger.messages.isEmpty)
        }
    }

    /// What SockJS hands the chat when a client sent invalid UTF-8 inside a JSON string: the
    /// replacement character. The frame is a valid message; nothing breaks.
    @Test func invalidUTF8ArrivesAsReplacementCharacters() async throws {
        try await withCluster(.inMemory) { room in
            try await room.start("a", secretCheckWindow: .milliseconds(100), logLevel: .critical)
            let alice = try await room.joined("alice", on: "a")
            let bob = try await room.joined("bob", on: "a")
            let bytes = Array(#"{"type":"say","id":"u1","text":"bad "#.utf8) + [0xC3, 0x28, 0xFF] + Array(#" bytes"}"#.utf8)
            alice.sendRaw(String(decoding: bytes, as: UTF8.self))
            let message = try await bob.message("bad \u{FFFD}(\u{FFFD} bytes")
            #expect(message.from == "alice")
        }
    }
}

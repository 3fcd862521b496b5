import Chat
import Testing

@Suite("Nick tokens and message ids")
struct NickTokenTests {
    let secret: [UInt8] = Array("a shared secret of the cluster".utf8)

    @Test func aTokenVerifiesForItsNickOnly() {
        let tokens = NickToken(secret: secret)
        let token = tokens.token(for: "alice")
        #expect(tokens.verify(token, for: "alice"))
        #expect(!tokens.verify(token, for: "alicf"))
        #expect(!tokens.verify(token, for: "Alice"))
    }

    @Test func aTokenUnderAnotherSecretDoesNotVerify() {
        let other = NickToken(secret: Array("another secret".utf8)).token(for: "alice")
        #expect(!NickToken(secret: secret).verify(other, for: "alice"))
    }

    @Test func malformedTokensAreRejected() {
        let tokens = NickToken(secret: secret)
        let token = tokens.token(for: "alice")
        for bad in ["", "x", String(token.dropLast()), token + "A", "!!!!", String(repeating: "A", count: 43)] {
            #expect(!tokens.verify(bad, for: "alice"))
        }
    }

    @Test func tokensAreUrlSafeBase64OfA32ByteMac() {
        let token = NickToken(secret: secret).token(for: "alice")
        #expect(token.count == 43)
        #expect(token.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
    }

    @Test func msgIdIsStableForSenderAndIdAndDiffersOtherwise() {
        let ids = MessageIDs(secret: secret)
        let first = ids.messageId(sender: "alice", clientId: "c1")
        #expect(first == MessageIDs(secret: secret).messageId(sender: "alice", clientId: "c1"))
        #expect(first != ids.messageId(sender: "alice", clientId: "c2"))
        #expect(first != ids.messageId(sender: "bob", clientId: "c1"))
        #expect(ids.messageId(sender: "a", clientId: "b\u{0}c") != ids.messageId(sender: "a\u{0}b", clientId: "c"))
        #expect(first.count == 32)
    }
}

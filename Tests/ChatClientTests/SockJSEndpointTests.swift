import Testing

@testable import ChatClient

@Suite struct SockJSEndpointTests {
    @Test func splitsAnHTTPURLIntoHostPortAndPrefix() throws {
        let endpoint = try SockJSEndpoint(url: "http://127.0.0.1:9191/chat")
        #expect(endpoint.host == "127.0.0.1")
        #expect(endpoint.port == 9191)
        #expect(endpoint.prefix == "/chat")
        #expect(endpoint.sessionPath(server: "000", session: "abc", .xhr) == "/chat/000/abc/xhr")
        #expect(endpoint.hostForHeader == "127.0.0.1:9191")
    }

    @Test func defaultsThePortAndNormalisesTheSlashes() throws {
        let endpoint = try SockJSEndpoint(url: "http://example.org/echo/")
        #expect(endpoint.port == 80)
        #expect(endpoint.prefix == "/echo")
        #expect(endpoint.hostForHeader == "example.org")
        #expect(try SockJSEndpoint(url: "http://[::1]:8080/x").host == "::1")
    }

    @Test func refusesWhatItCannotConnectTo() {
        for url in ["https://127.0.0.1/chat", "127.0.0.1:9191", "http://:80/x", "http://host:0/x", "http://h:99999/x", "http://h:1/x?y"] {
            #expect(throws: SockJSEndpoint.URLError.unsupported(url)) { try SockJSEndpoint(url: url) }
        }
    }
}

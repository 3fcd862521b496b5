import SockJSWire
import Testing

@Suite("SockJS URL space")
struct SockJSRouteTests {
    @Test("greeting, info, iframe variants and raw websocket are recognised")
    func staticRoutes() {
        #expect(SockJSRoute.route("") == .greeting)
        #expect(SockJSRoute.route("/") == .greeting)
        #expect(SockJSRoute.route("/info") == .info)
        #expect(SockJSRoute.route("/websocket") == .rawWebSocket)
        for p in ["/iframe.html", "/iframe-a.html", "/iframe-.html", "/iframe-0.1.2.html", "/iframe-0.1.2abc-dirty.2144.html"] {
            #expect(SockJSRoute.route(Substring(p)) == .iframe, "\(p)")
        }
    }

    @Test(
        "malformed iframe names are not found",
        arguments: ["/iframe.htm", "/iframe", "/IFRAME.HTML", "/IFRAME", "/iframe.HTML", "/iframe.xml", "/iframe-/.html"])
    func badIframe(path: String) {
        #expect(SockJSRoute.route(Substring(path)) == .notFound)
    }

    @Test("session URLs take any server and session id without dots")
    func sessionRoutes() {
        #expect(SockJSRoute.route("/000/abc/xhr") == .session(server: "000", session: "abc", transport: .xhr))
        #expect(SockJSRoute.route("/a/b_c-d%20/jsonp_send") == .session(server: "a", session: "b_c-d%20", transport: .jsonpSend))
    }

    @Test(
        "invalid session paths are not found",
        arguments: ["//xhr", "/a./a/xhr", "/a/a./xhr", "/././/xhr", "/a/a/", "/a/a/unknown", "/a", "/a/a", "//", "///", "/a/b/c/xhr"])
    func badSessions(path: String) {
        #expect(SockJSRoute.route(Substring(path)) == .notFound)
    }

    @Test("the path a client builds is routed back to its session and endpoint", arguments: SockJSRoute.SessionEndpoint.allCases)
    func clientPathsRouteBack(_ endpoint: SockJSRoute.SessionEndpoint) {
        let path = SockJSRoute.sessionPath(prefix: "/chat", server: "123", session: "s-1", endpoint)
        #expect(path == "/chat/123/s-1/" + endpoint.rawValue)
        #expect(SockJSRoute.route(path.dropFirst("/chat".count)) == .session(server: "123", session: "s-1", transport: endpoint))
    }
}

import Testing

@testable import SockJS

/// The Origin and Host policies as values: what each decides for every kind of header.
@Suite("Origin and Host policy values")
struct OriginPolicyTests {
    @Test("an origin parses as scheme, host and port, strictly")
    func webOriginParsing() {
        #expect(WebOrigin("http://chat.example:8080") == WebOrigin(scheme: "http", host: "chat.example", port: 8080))
        #expect(WebOrigin("HTTPS://Chat.Example") == WebOrigin(scheme: "https", host: "chat.example", port: 443))
        #expect(WebOrigin("http://chat.example/") == WebOrigin(scheme: "http", host: "chat.example", port: 80), "one trailing slash, as people write it")
        #expect(WebOrigin("http://[::1]:9191") == WebOrigin(scheme: "http", host: "[::1]", port: 9191))
        #expect(WebOrigin("http://10.0.0.5") == WebOrigin(scheme: "http", host: "10.0.0.5", port: 80))
        for bad in [
            "null", "", "chat.example", "ftp://chat.example", "http://", "http://a/b", "http://a?x", "http://a#x",
            "http://user@a", "http://a:99999", "http://a:", "http://a:8o", "http://a b", "http://[::1", "http://[zz::1]",
            "javascript://a", "http://a//",
        ] {
            #expect(WebOrigin(bad) == nil, "\(bad)")
        }
        #expect(WebOrigin("http://a:80")?.description == "http://a")
        #expect(WebOrigin("https://a:443")?.description == "https://a")
        #expect(WebOrigin("https://a:8443")?.description == "https://a:8443")
    }

    @Test("no Origin is served; the server's own origin and allowed ones are; anything else is refused with a reason")
    func originDecisions() {
        let policy = OriginPolicy(allowedOrigins: [WebOrigin("https://intranet.example")!], allowOption: "--allow-origin")
        let host = "127.0.0.1:9191"
        #expect(policy.decide(origins: [], host: host, secure: false) == .noOrigin)
        #expect(policy.decide(origins: ["http://127.0.0.1:9191"], host: host, secure: false) == .allowed(WebOrigin("http://127.0.0.1:9191")!))
        #expect(policy.decide(origins: ["https://127.0.0.1:9191"], host: host, secure: true) == .allowed(WebOrigin("https://127.0.0.1:9191")!))
        #expect(policy.decide(origins: ["https://intranet.example"], host: host, secure: false) == .allowed(WebOrigin("https://intranet.example")!))
        // The default port may be written or not, on either side.
        #expect(policy.decide(origins: ["http://chat.example"], host: "chat.example:80", secure: false) == .allowed(WebOrigin("http://chat.example")!))
        #expect(policy.decide(origins: ["https://chat.example"], host: "Chat.Example", secure: true) == .allowed(WebOrigin("https://chat.example")!))

        func refused(_ origins: [String], host: String? = host, secure: Bool = false) -> String? {
            if case .refused(let reason) = policy.decide(origins: origins, host: host, secure: secure) { return reason }
            return nil
        }
        let foreign = refused(["http://evil.example"])
        #expect(
            foreign
                == "Origin http://evil.example may not use this service: it is not this server's own origin (http://127.0.0.1:9191) nor an allowed one; start the server with --allow-origin http://evil.example to allow it."
        )
        #expect(refused(["null"])?.hasPrefix("Origin null") == true)
        #expect(refused(["http://127.0.0.1:9191"], secure: true) != nil, "an http page may not use the https server")
        #expect(refused(["https://127.0.0.1:9191"]) != nil, "nor an https page the http server")
        #expect(refused(["http://127.0.0.1:9192"]) != nil, "another port is another origin")
        #expect(refused(["http://localhost:9191"]) != nil, "another host name is another origin")
        #expect(refused(["http://127.0.0.1:9191"], host: nil) != nil, "no Host: no own origin to compare with")
        #expect(refused(["http://127.0.0.1:9191", "http://127.0.0.1:9191"]) == "A request with more than one Origin header is refused.")
        #expect(refused(["http://127.0.0.1:9191/"]) != nil, "browsers never send a path")
        #expect(refused(["https://intranet.example.evil.example"]) != nil)
        #expect(refused(["file://"]) != nil)
        let odd = refused(["http://x\u{7}\u{1F600}" + String(repeating: "a", count: 300)])
        #expect(odd?.contains("\u{7}") == false, "what is quoted back is printable ASCII only")
        #expect((odd?.utf8.count ?? 0) < 400, "and cut short")
    }

    @Test("frame-ancestors names this server and the allowed origins")
    func frameAncestors() {
        #expect(OriginPolicy().frameAncestors == "'self'")
        let policy = OriginPolicy(allowedOrigins: [WebOrigin("https://a.example")!, WebOrigin("http://b.example:8080")!, WebOrigin("https://a.example:443")!])
        #expect(policy.frameAncestors == "'self' https://a.example http://b.example:8080")
    }

    @Test("Host: IP literals, localhost, the machine's names and allowed names pass; other names are refused")
    func hostDecisions() {
        let policy = HostPolicy(names: ["Build-Box", "chat.example"], allowOption: "--allow-host")
        for good in [
            "127.0.0.1", "127.0.0.1:9191", "10.1.2.3:80", "0.0.0.0:9191", "[::1]:9191", "[fe80::1]", "[::ffff:127.0.0.1]:1",
            "localhost", "LOCALHOST:9191", "build-box:9191", "chat.example", "Chat.Example:443",
        ] {
            #expect(policy.decide(hosts: [good]) == .allowed, "\(good)")
        }
        #expect(policy.decide(hosts: []) == .allowed, "no Host (an HTTP/1.0 tool) is served")
        for bad in [
            "evil.example", "evil.example:9191", "localhost.", "localhost.evil.example", "1.2.3.4.evil.example", "127.0.0.1.nip.io",
            "999.1.1.1", "1.2.3", "chat.example.evil.example", "build-box.evil.example", "evil.example@127.0.0.1",
            "127.0.0.1:99999", "127.0.0.1:", "a b", "", ":9191", "[::1", "[::1]x", "[evil.example]",
        ] {
            guard case .refused(let reason) = policy.decide(hosts: [bad]) else {
                Issue.record("\(bad) was allowed")
                continue
            }
            #expect(bad.contains("build-box") || !reason.contains("build-box"), "the answer does not tell a rebinding page the machine's names")
        }
        #expect(
            policy.decide(hosts: ["evil.example:9191"])
                == .refused(
                    "Host evil.example is not a name of this server; open it by its IP address, as localhost or by its machine name, or start the server with --allow-host evil.example."
                ))
        #expect(policy.decide(hosts: ["127.0.0.1", "evil.example"]) == .refused("A request with more than one Host header is refused."))
    }

    @Test("IP literals are exactly dotted quads and bracketed IPv6")
    func ipLiterals() {
        #expect(HostPolicy.isIPLiteral("192.168.0.1"))
        #expect(HostPolicy.isIPLiteral("[2001:db8::1]"))
        #expect(!HostPolicy.isIPLiteral("256.1.1.1"))
        #expect(!HostPolicy.isIPLiteral("1.2.3.4.5"))
        #expect(!HostPolicy.isIPLiteral("1..3.4"))
        #expect(!HostPolicy.isIPLiteral("0x7f.0.0.1"))
        #expect(!HostPolicy.isIPLiteral("2130706433"))
    }
}

import Foundation

/// One file the server answers with, read once at start-up.
struct StaticAsset: Sendable {
    let contentType: String
    let body: [UInt8]
    /// A strong validator derived from the content, so a reload costs a 304.
    let etag: String
    let cacheControl: String
}

/// What `StaticSite.respond` decided; the HTTP layer turns it into a response as it is.
struct StaticResponse: Sendable, Equatable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    static func == (lhs: StaticResponse, rhs: StaticResponse) -> Bool {
        lhs.status == rhs.status && lhs.body == rhs.body
            && lhs.headers.map { "\($0.0)=\($0.1)" } == rhs.headers.map { "\($0.0)=\($0.1)" }
    }
}

/// The page and its files (`/`, `/app.css`, `/favicon.svg`, and the ES modules `/app.js`,
/// `/protocol.js`, `/connection.js`, `/view.js`, `/format.js`, `/attention.js`: every file of `Public`, served as
/// `application/javascript` so a module script loads) and the browser's SockJS library
/// (`/sockjs.min.js`, from the Debian package, never a CDN). Everything is loaded into memory at
/// start so a missing file is a start-up error, not a broken page later.
struct StaticSite: Sendable {
    /// The URL path of the SockJS client library; the SockJS iframe names it as its `sockjs_url`.
    static let sockJSClientPath = "/sockjs.min.js"

    private let assets: [String: StaticAsset]

    init(assets: [String: StaticAsset]) {
        self.assets = assets
    }

    /// Reads every file of `publicDirectory` (not recursive) and the SockJS client.
    static func load(publicDirectory: URL, sockJSClient: String) throws(StartupError) -> StaticSite {
        var assets: [String: StaticAsset] = [:]
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: publicDirectory.path)
        } catch {
            throw StartupError(
                "The page's files are missing from \(publicDirectory.path); rebuild rabbitChat with `swift build` and run it from its build folder.")
        }
        for name in names where !name.hasPrefix(".") {
            let url = publicDirectory.appendingPathComponent(name)
            guard let data = try? Data(contentsOf: url) else { continue }
            let path = name == "index.html" ? "/" : "/" + name
            assets[path] = asset(Array(data), name: name, cacheControl: "no-cache")
        }
        guard assets["/"] != nil else {
            throw StartupError("The page's index.html is missing from \(publicDirectory.path); rebuild rabbitChat with `swift build`.")
        }
        guard let client = FileManager.default.contents(atPath: sockJSClient), !client.isEmpty else {
            throw StartupError.sockJSClientMissing(path: sockJSClient)
        }
        assets[sockJSClientPath] = asset(Array(client), name: "sockjs.min.js", cacheControl: "public, max-age=86400")
        return StaticSite(assets: assets)
    }

    /// Every URL path the site answers, `/index.html` included.
    var paths: [String] {
        assets.keys.sorted() + (assets["/"] == nil ? [] : ["/index.html"])
    }

    /// The answer for a request, or nil when the path is not one of the site's files.
    func respond(method: String, path: String, ifNoneMatch: String?) -> StaticResponse? {
        let key = path == "/index.html" ? "/" : path
        guard let asset = assets[key] else { return nil }
        guard method == "GET" || method == "HEAD" else {
            return StaticResponse(
                status: 405, headers: [("Allow", "GET, HEAD"), ("Content-Type", "text/plain; charset=utf-8")],
                body: Array("Only GET and HEAD are allowed here.\n".utf8))
        }
        var headers: [(String, String)] = [
            ("Content-Type", asset.contentType),
            ("ETag", asset.etag),
            ("Cache-Control", asset.cacheControl),
        ]
        // `X-Content-Type-Options: nosniff` is on every response the server writes.
        if key == "/" {
            headers.append(("Content-Security-Policy", Self.pageCSP))
            headers.append(("Referrer-Policy", "same-origin"))
        }
        if let ifNoneMatch, ifNoneMatch.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == asset.etag }) {
            return StaticResponse(status: 304, headers: headers.filter { $0.0 != "Content-Type" }, body: [])
        }
        return StaticResponse(status: 200, headers: headers, body: method == "HEAD" ? [] : asset.body)
    }

    /// The page's `Content-Security-Policy`. It loads nothing from elsewhere, so an injected
    /// script could not either; it talks only to this server (`'self'` covers `ws:`/`wss:` to the
    /// same host and port in CSP 3 browsers); only this server may frame it (clickjacking);
    /// forms post only here (the `jsonp-polling` transport sends with a form into a hidden iframe).
    static let pageCSP =
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-src 'self'; "
        + "frame-ancestors 'self'; base-uri 'none'; form-action 'self'; object-src 'none'"

    static func asset(_ body: [UInt8], name: String, cacheControl: String) -> StaticAsset {
        StaticAsset(contentType: contentType(for: name), body: body, etag: etag(body), cacheControl: cacheControl)
    }

    static func contentType(for name: String) -> String {
        switch name.split(separator: ".").last.map(String.init) ?? "" {
        case "html": "text/html; charset=utf-8"
        case "js": "application/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "json": "application/json"
        default: "application/octet-stream"
        }
    }

    /// FNV-1a over the bytes: enough to tell two versions of a file apart.
    static func etag(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            hash ^= UInt64(b)
            hash &*= 0x0000_0100_0000_01B3
        }
        return "\"" + String(hash, radix: 16) + "-" + String(bytes.count, radix: 16) + "\""
    }
}

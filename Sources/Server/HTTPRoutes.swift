import Chat
import NIOCore
import SockJS

/// The plain HTTP routes next to `/chat`: the page and its files, `/sockjs.min.js`, `/healthz`
/// and `/metrics`.
struct HTTPRoutes {
    let site: StaticSite
    let metrics: ServerMetrics
    let node: ChatNode
    /// The `/chat` sessions' outbound queue cap, reported next to their depths.
    let outboundQueueCap: Int

    func install(on server: SockJSServer) {
        let site = self.site
        for path in site.paths {
            server.route(path) { request in
                let answer =
                    site.respond(
                        method: request.head.method, path: request.head.path,
                        ifNoneMatch: request.head.header("If-None-Match"))
                    ?? StaticResponse(status: 404, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array("Not found.\n".utf8))
                return SockJSHTTPResponse(status: answer.status, headers: answer.headers, body: ByteBuffer(bytes: answer.body))
            }
        }
        let node = self.node
        server.route("/healthz") { _ in
            node.isBrokerConnected
                ? SockJSHTTPResponse(status: 200, text: "ok\n", headers: [("Cache-Control", "no-store")])
                : SockJSHTTPResponse(status: 503, text: "broker not connected\n", headers: [("Cache-Control", "no-store")])
        }
        let metrics = self.metrics
        let outboundQueueCap = self.outboundQueueCap
        server.route("/metrics") { [weak server] _ in
            if let server {
                await metrics.queueDepths.update(node: node, http: server, outboundCap: outboundQueueCap)
            }
            return SockJSHTTPResponse(
                status: 200,
                headers: [
                    ("Content-Type", "text/plain; version=0.0.4; charset=utf-8"), ("Cache-Control", "no-store"),
                ], body: ByteBuffer(bytes: metrics.render()))
        }
    }
}

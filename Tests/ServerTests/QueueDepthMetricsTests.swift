import Foundation
import ServerTestSupport
import Testing

/// `/metrics` reports the depths of the queues the server knows (Specs/server.md, "Queue
/// depths"), with the values of the moment of the scrape.
@Suite("rabbitChat queue depths on /metrics", .serialized)
struct QueueDepthMetricsTests {
    @Test("Unacked private messages, the inbox prefetch, pending confirms and a polling session's waiting frames show on /metrics and go back down")
    func queueDepthsFollowTheChat() async throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (server, port) = try await ServerLifecycleTests.startServer(folder: folder)

        let alice = try TestChatClient(port: port)
        try alice.join("depth-alice")
        let bob = try TestChatClient(port: port)
        try bob.join("depth-bob")
        var msgIds: [String] = []
        for i in 1...3 {
            try bob.send(["type": "tell", "id": "t\(i)", "to": "depth-alice", "text": "unacked \(i)"])
            let sent = try #require(try bob.waitFor { $0["type"] as? String == "sent" && $0["id"] as? String == "t\(i)" })
            msgIds.append(try #require(sent["msgId"] as? String))
        }
        for msgId in msgIds {
            #expect(try alice.waitFor { $0["type"] as? String == "message" && $0["msgId"] as? String == msgId } != nil)
        }

        // A polling session that does not poll: the answer to its frame waits in its queue. The
        // frame is one the node answers without the broker (a `users` before any join is
        // `not_joined`), so the answer is queued well within SockJS's 5 s disconnect delay
        // however busy the machine is (a join, answered after broker round trips, once took
        // longer under load, and the unpolled session was gone).
        let carol = "/chat/000/" + UUID().uuidString.prefix(8).lowercased()
        #expect(try TestHTTP.request(port: port, method: "POST", path: carol + "/xhr").text == "o\n")
        let early = #"["{\"type\":\"users\"}"]"#
        #expect(try TestHTTP.request(port: port, method: "POST", path: carol + "/xhr_send", body: early).status == 204)

        // (A frame counts as inbound until the node is done with it.)
        let busy = try await Self.scrape(
            port: port,
            until: {
                $0[#"rabbitchat_sockjs_outbound_queue_messages{stat="sum"}"#, default: 0] >= 1 && $0["rabbitchat_session_inbound_queue_frames"] == 0
            })
        #expect(busy[#"rabbitchat_inbox_unacked_messages{stat="sum"}"#] == 3, "alice's three private messages, not acked")
        #expect(busy[#"rabbitchat_inbox_unacked_messages{stat="max"}"#] == 3)
        #expect(busy["rabbitchat_inbox_prefetch_messages"] == 100, "the default prefetch of a user queue")
        #expect(busy["rabbitchat_inbox_consumers"] == 2, "alice and bob each consume their user queue")
        #expect(busy[#"rabbitchat_pending_confirms{kind="message"}"#] == 0, "every tell was confirmed")
        #expect(busy[#"rabbitchat_pending_confirms{kind="receipt_batch"}"#] == 0)
        #expect(busy["rabbitchat_session_inbound_queue_frames"] == 0)
        #expect(busy["rabbitchat_sockjs_outbound_queue_waiting_sessions"] == 1, "only carol has frames waiting")
        let waitingBytes = try #require(busy[#"rabbitchat_sockjs_outbound_queue_bytes{stat="sum"}"#])
        #expect(waitingBytes > 0 && waitingBytes < 1_048_576)
        #expect(busy[#"rabbitchat_sockjs_outbound_queue_bytes{stat="max"}"#] == waitingBytes)
        #expect(busy["rabbitchat_sockjs_outbound_queue_cap_bytes"] == 1_048_576)
        let lag = try #require(busy["rabbitchat_event_loop_lag_seconds"], "the event loops' backlog, as time")
        #expect(lag >= 0)

        // Carol polls: her queue empties. Alice acks: her inbox has nothing unacked.
        let poll = try TestHTTP.request(port: port, method: "POST", path: carol + "/xhr")
        #expect(poll.text.contains("not_joined"))
        try alice.send(["type": "ack", "msgIds": msgIds])
        for msgId in msgIds {
            #expect(try bob.waitFor { $0["type"] as? String == "delivered" && $0["msgId"] as? String == msgId } != nil)
        }
        try bob.send(["type": "ack", "msgIds": msgIds])  // the receipts, which clients ack too
        let idle = try await Self.scrape(
            port: port,
            until: {
                $0[#"rabbitchat_inbox_unacked_messages{stat="sum"}"#] == 0 && $0[#"rabbitchat_sockjs_outbound_queue_messages{stat="sum"}"#] == 0
            })
        #expect(idle[#"rabbitchat_inbox_unacked_messages{stat="max"}"#] == 0)
        #expect(idle["rabbitchat_sockjs_outbound_queue_waiting_sessions"] == 0)
        #expect(idle[#"rabbitchat_sockjs_outbound_queue_bytes{stat="sum"}"#] == 0)
        await server.stop()
    }

    /// Scrapes `/metrics` until `condition` holds (or `TestPatience.wait` passed) and returns the last
    /// samples, by name with labels, e.g. `rabbitchat_inbox_unacked_messages{stat="sum"}`.
    static func scrape(port: Int, until condition: ([String: Double]) -> Bool) async throws -> [String: Double] {
        var samples: [String: Double] = [:]
        try? await eventually("the metrics to hold", timeout: TestPatience.wait, interval: .milliseconds(50)) {
            samples = parse(try TestHTTP.request(port: port, path: "/metrics").text)
            return condition(samples)
        }
        return samples
    }

    /// Prometheus text format: every sample line as `name{labels}` → value.
    static func parse(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }
}

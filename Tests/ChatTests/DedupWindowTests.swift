import Chat
import Testing

@Suite("Dedup window")
struct DedupWindowTests {
    typealias Entry = DedupWindow.Entry

    @Test func aRememberedIdIsFoundWithItsTimeAndConfirmation() {
        var window = DedupWindow(capacity: 10, windowMilliseconds: 1000)
        window.insert("c1", Entry(ts: 0, confirmed: false), now: 0)
        window.confirm("c1")
        #expect(window.lookup("c1", now: 500) == Entry(ts: 0, confirmed: true))
        #expect(window.lookup("c2", now: 500) == nil)
    }

    @Test func idsOlderThanTheWindowAreForgotten() {
        var window = DedupWindow(capacity: 10, windowMilliseconds: 1000)
        window.insert("old", Entry(ts: 0, confirmed: true), now: 0)
        window.insert("new", Entry(ts: 900, confirmed: true), now: 900)
        #expect(window.lookup("old", now: 1001) == nil)
        #expect(window.lookup("new", now: 1001) != nil)
    }

    @Test func theOldestIdsGoWhenFull() {
        var window = DedupWindow(capacity: 3, windowMilliseconds: 1_000_000)
        for n in 0..<5 { window.insert("c\(n)", Entry(ts: Int64(n), confirmed: true), now: Int64(n)) }
        #expect(window.count == 3)
        #expect(window.lookup("c1", now: 5) == nil)
        #expect(window.lookup("c2", now: 5) != nil)
        #expect(window.lookup("c4", now: 5) != nil)
    }

    @Test func aFailedPublishIsRemovedSoARetryPublishesAgain() {
        var window = DedupWindow(capacity: 3, windowMilliseconds: 1000)
        window.insert("c1", Entry(ts: 0, confirmed: false), now: 0)
        window.remove("c1")
        #expect(window.lookup("c1", now: 1) == nil)
    }
}

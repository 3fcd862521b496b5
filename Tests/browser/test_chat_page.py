"""Two and more users drive the rabbitChat page in headless Chromium, once per SockJS transport.

The server under test is at RABBITCHAT_URL (scripts/browser-tests.sh starts one). Nicks carry a
random suffix, so the tests can run against a server that already has users. Screenshots of the
main states go to test-output/screenshots/ (RABBITCHAT_SCREENSHOTS overrides the folder).
"""

import os
import re
import secrets
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

BASE_URL = os.environ.get("RABBITCHAT_URL", "http://127.0.0.1:9191").rstrip("/")
SHOTS = Path(os.environ.get("RABBITCHAT_SCREENSHOTS", "test-output/screenshots"))
TRANSPORTS = ["websocket", "xhr-streaming", "xhr-polling"]
TIMEOUT_MS = 15_000
XSS = "<img src=x onerror=alert(1)>"

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


class User:
    """One person: a browser context (its own localStorage) and the page open in it."""

    def __init__(self, browser: Browser, nick: str, transport: str, phone: bool = False, base_url: str = BASE_URL,
                 color_scheme: str = "light"):
        self.nick = nick
        self.transport = transport
        self.base_url = base_url
        viewport = {"width": 390, "height": 760} if phone else {"width": 1180, "height": 760}
        # A self-signed certificate (the https test's) is accepted; plain http is unaffected.
        self.context: BrowserContext = browser.new_context(viewport=viewport, ignore_https_errors=base_url.startswith("https:"),
                                                           color_scheme=color_scheme)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page: Page = self._new_page()

    def _new_page(self) -> Page:
        page = self.context.new_page()
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page

    @property
    def url(self) -> str:
        return f"{self.base_url}/?transport={self.transport}"

    def open(self) -> None:
        self.page.goto(self.url)

    def reopen(self) -> None:
        """Opens the page again in the same browser context (after close_page), as a user coming back."""
        self.page = self._new_page()
        self.open()
        self.wait_joined()

    def close_page(self) -> None:
        self.page.close()

    def join(self) -> None:
        self.open()
        self.page.fill("#nick-input", self.nick)
        self.page.click("#join-button")
        self.wait_joined()

    def wait_joined(self) -> None:
        expect(self.page.locator("#app")).to_be_visible()
        expect(self.page.locator("#me-nick")).to_have_text(self.nick)
        expect(self.page.locator("#conn")).to_have_attribute("data-state", "connected")
        # The transport really is the forced one: no silent fallback.
        expect(self.page.locator("#transport")).to_have_text(self.transport)

    def say(self, text: str) -> None:
        self.page.fill("#composer-input", text)
        self.page.press("#composer-input", "Enter")

    def open_room(self, room: str) -> None:
        self.page.click(f'#room-list [data-conv="#{room}"]')
        expect(self.page.locator("#conv-title")).to_have_text(f"#{room}")

    def open_dm(self, nick: str) -> None:
        self.page.click(f'#user-list [data-nick="{nick}"]')
        expect(self.page.locator("#conv-title")).to_have_text(re.compile(re.escape(nick)))

    def message(self, text: str):
        return self.page.locator("#messages .msg", has=self.page.locator(".msg-text", has_text=text))

    def roster_entry(self, nick: str):
        return self.page.locator(f'#user-list [data-nick="{nick}"]')

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{self.transport}-{name}.png"))

    def close(self) -> None:
        self.context.close()


def nick(base: str, transport: str) -> str:
    return f"{base}-{transport.split('-')[-1][:4]}{secrets.token_hex(2)}"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_two_users_chat_publicly_and_privately_with_receipts(browser, transport):
    alice = User(browser, nick("alice", transport), transport)
    bob = User(browser, nick("bob", transport), transport)
    try:
        alice.open()
        alice.page.fill("#nick-input", alice.nick)
        alice.shot("00-login")
        alice.page.click("#join-button")
        alice.wait_joined()
        alice.shot("01-joined")
        bob.join()
        expect(alice.roster_entry(bob.nick)).to_have_class(re.compile(r"\bonline\b"))
        expect(bob.roster_entry(alice.nick)).to_have_class(re.compile(r"\bonline\b"))

        # Public: bob sees alice's message; alice's own copy is confirmed with one tick.
        hello = f"hello from {alice.nick}"
        alice.say(hello)
        expect(bob.message(hello)).to_have_count(1)
        expect(bob.message(hello).locator(".msg-from")).to_have_text(alice.nick)
        expect(alice.message(hello)).to_have_attribute("data-status", "sent")
        expect(alice.message(hello)).to_have_count(1)
        alice.shot("02-public-message")

        # Private: bob writes to alice; alice's client acks it and bob sees the second tick.
        bob.open_dm(alice.nick)
        secret = f"psst {secrets.token_hex(3)}"
        bob.say(secret)
        expect(alice.roster_entry(bob.nick).locator(".badge")).to_have_text("1")
        alice.shot("03-unread-private")
        alice.open_dm(bob.nick)
        expect(alice.message(secret)).to_have_count(1)
        expect(bob.message(secret)).to_have_attribute("data-status", "delivered")
        expect(bob.message(secret).locator(".tick")).to_have_text("\u2713\u2713")
        bob.shot("04-private-delivered")

        # Typing: bob types in the private conversation, alice sees it.
        bob.page.fill("#composer-input", "")
        bob.page.type("#composer-input", "typing")
        expect(alice.page.locator("#typing")).to_have_text(f"{bob.nick} is typing…")
        bob.page.fill("#composer-input", "")

        # Markup in a message is text: shown verbatim, no element made from it, no dialog.
        alice.open_room("lobby")
        bob.open_room("lobby")
        markup = f"{XSS} {secrets.token_hex(3)}"
        alice.say(markup)
        expect(bob.message(markup).locator(".msg-text")).to_have_text(markup)
        expect(bob.page.locator("#messages img")).to_have_count(0)
        expect(alice.page.locator("#messages img")).to_have_count(0)
        bob.shot("05-markup-as-text")
        assert alice.dialogs == [] and bob.dialogs == []
        assert alice.errors == [] and bob.errors == []
    finally:
        alice.close()
        bob.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_private_message_waits_for_an_offline_addressee_and_reload_keeps_the_nick(browser, transport):
    alice = User(browser, nick("alice", transport), transport)
    bob = User(browser, nick("bob", transport), transport)
    try:
        alice.join()
        bob.join()
        expect(alice.roster_entry(bob.nick)).to_have_class(re.compile(r"\bonline\b"))

        # Bob leaves; alice sees him go offline and writes to him anyway.
        bob.close_page()
        expect(alice.roster_entry(bob.nick)).to_have_class(re.compile(r"\boffline\b"))
        alice.open_dm(bob.nick)
        expect(alice.page.locator("#conv-subtitle")).to_contain_text("offline")
        waiting = f"while you were away {secrets.token_hex(3)}"
        alice.say(waiting)
        expect(alice.message(waiting)).to_have_attribute("data-status", "sent")
        alice.shot("06-offline-addressee")

        # Bob comes back in the same browser: no nick to type, the message was waiting.
        bob.reopen()
        expect(bob.roster_entry(alice.nick).locator(".badge")).to_have_text("1")
        bob.open_dm(alice.nick)
        expect(bob.message(waiting)).to_have_count(1)
        expect(alice.message(waiting)).to_have_attribute("data-status", "delivered")
        bob.shot("07-message-waited")

        # A reload re-joins as the same user and shows the room's history.
        note = f"before reload {secrets.token_hex(3)}"
        bob.open_room("lobby")
        bob.say(note)
        expect(bob.message(note)).to_have_attribute("data-status", "sent")
        bob.page.reload()
        bob.wait_joined()
        bob.open_room("lobby")
        expect(bob.message(note)).to_have_count(1)
        expect(bob.message(note)).to_have_attribute("data-status", "sent")
        expect(bob.page.locator("#messages .msg[data-pending], #messages .msg[data-status=pending]")).to_have_count(0)
        # ... and the private conversation is still there, with its receipt.
        bob.open_dm(alice.nick)
        expect(bob.message(waiting)).to_have_count(1)
        assert alice.dialogs == [] and bob.dialogs == []
        assert alice.errors == [] and bob.errors == []
    finally:
        alice.close()
        bob.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_rooms_can_be_created_joined_and_left_on_a_phone_sized_window(browser, transport):
    carol = User(browser, nick("carol", transport), transport, phone=True)
    dave = User(browser, nick("dave", transport), transport)
    room = f"room{secrets.token_hex(3)}"
    try:
        carol.join()
        dave.join()
        # On a phone the sidebar is a drawer behind the menu button.
        expect(carol.page.locator("#sidebar")).not_to_be_in_viewport()
        carol.page.click("#menu-button")
        expect(carol.page.locator("#sidebar")).to_be_in_viewport()
        carol.page.wait_for_timeout(400)  # let the drawer finish sliding in before the screenshot
        carol.shot("08-phone-menu")
        carol.page.fill("#enter-input", room)
        carol.page.press("#enter-input", "Enter")
        expect(carol.page.locator("#conv-title")).to_have_text(f"#{room}")
        expect(carol.page.locator("#sidebar")).not_to_be_in_viewport()

        dave.page.fill("#enter-input", room)
        dave.page.press("#enter-input", "Enter")
        expect(dave.page.locator("#conv-title")).to_have_text(f"#{room}")
        text = f"welcome to {room}"
        carol.say(text)
        expect(dave.message(text)).to_have_count(1)
        carol.shot("09-phone-room")

        # A message in a room that is not shown counts as unread there.
        dave.open_room("lobby")
        carol.say("second")
        expect(dave.page.locator(f'#room-list [data-conv="#{room}"] .badge')).to_have_text("1")

        # Leaving: the room disappears from the list and its messages stop coming.
        carol.page.click("#leave-button")
        expect(carol.page.locator(f'#room-list [data-conv="#{room}"]')).to_have_count(0)
        expect(carol.page.locator("#conv-title")).to_have_text("#lobby")
        # Leaving the last room leaves a clear empty state, not a composer that cannot send.
        carol.page.click("#leave-button")
        expect(carol.page.locator("#messages .empty-conv")).to_contain_text("no room")
        expect(carol.page.locator("#composer-input")).to_be_disabled()
        carol.page.click("#menu-button")
        carol.page.fill("#enter-input", "lobby")
        carol.page.press("#enter-input", "Enter")
        expect(carol.page.locator("#conv-title")).to_have_text("#lobby")
        expect(carol.page.locator("#composer-input")).to_be_enabled()
        assert carol.errors == [] and dave.errors == []
    finally:
        carol.close()
        dave.close()


class OwnServer:
    """A rabbitChat of this test's own (RABBITCHAT_BINARY), to stop and start again; stopped by PID."""

    def __init__(self, folder: Path, port: int = 0, extra: tuple = ()):
        import subprocess
        import time

        binary = os.environ.get("RABBITCHAT_BINARY")
        if not binary:
            raise RuntimeError("RABBITCHAT_BINARY must name the rabbitChat binary (scripts/browser-tests.sh sets it)")
        self.log = open(folder / "server.log", "ab")
        self.process = subprocess.Popen(
            [binary, "--port", str(port), "--secret-file", str(folder / "secret"), "--data-dir", str(folder / "data"), *extra],
            stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        self.url = None
        while time.monotonic() < deadline and self.url is None:
            line = self.process.stdout.readline().decode()
            if not line:
                break
            m = re.search(r"https?://127\.0\.0\.1:(\d+)/", line)
            if m:
                self.url, self.port = m.group(0).rstrip("/"), int(m.group(1))
        if self.url is None:
            self.stop()
            raise RuntimeError("rabbitChat did not start; see " + str(folder / "server.log"))

    def stop(self) -> int:
        import signal
        import subprocess

        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self.log.close()
        return self.process.returncode


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_page_reconnects_by_itself_and_resends_what_was_not_confirmed(browser, transport, tmp_path):
    server = OwnServer(tmp_path)
    erin = User(browser, nick("erin", transport), transport)
    erin_url = f"{server.url}/?transport={transport}"
    try:
        erin.page.goto(erin_url)
        erin.page.fill("#nick-input", erin.nick)
        erin.page.click("#join-button")
        erin.wait_joined()

        # The server goes away: the page says so and keeps what is typed meanwhile.
        assert server.stop() == 0
        expect(erin.page.locator("#conn")).to_have_attribute("data-state", re.compile("reconnecting|connecting"))
        expect(erin.page.locator("#conn-text")).to_contain_text(re.compile("restarting|Disconnected|Reconnecting"))
        typed = f"typed while offline {secrets.token_hex(3)}"
        erin.say(typed)
        expect(erin.message(typed)).to_have_attribute("data-status", "pending")
        erin.shot("10-reconnecting")

        # It comes back on the same port: the page reconnects, re-joins and the message goes out
        # with its original id, confirmed once.
        server = OwnServer(tmp_path, port=server.port)
        erin.wait_joined()
        expect(erin.page.locator("#messages .msg", has_text=typed)).to_have_count(1)
        expect(erin.message(typed)).to_have_attribute("data-status", "sent")
        # No placeholder is left behind once the message is confirmed.
        expect(erin.page.locator("#messages .msg[data-pending], #messages .msg[data-status=pending]")).to_have_count(0)
        expect(erin.message(typed)).to_have_count(1)
        assert erin.page.evaluate("window.rabbitChat.outbox.length") == 0
        assert erin.errors == []
    finally:
        erin.close()
        server.stop()


def xhr_chat_session(frames, pace_s=0.06):
    """Sends chat frames through a SockJS xhr-polling session of its own (no browser), paced under
    the server's rate limit, and returns once every one has been posted."""
    import json
    import time
    import urllib.request

    base = f"{BASE_URL}/chat/000/{secrets.token_hex(4)}"

    def post(path, body=b""):
        req = urllib.request.Request(base + path, data=body, method="POST", headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.read()

    assert post("/xhr").startswith(b"o")
    for i, frame in enumerate(frames):
        post("/xhr_send", json.dumps([json.dumps(frame)]).encode())
        time.sleep(pace_s)
        if i % 10 == 9:
            post("/xhr")  # a receiving request now and then keeps the session alive; answers are dropped
    post("/xhr")
    return post


def test_history_on_join_and_scrolling_back_for_older_messages(browser):
    room = f"hist{secrets.token_hex(3)}"
    writer = nick("writer", "websocket")
    count = 130
    xhr_chat_session([{"type": "join", "nick": writer, "rooms": [room]}]
                     + [{"type": "say", "id": f"h{i}", "room": room, "text": f"history line {i:03d}"} for i in range(count)])
    reader = User(browser, nick("reader", "websocket"), "websocket")
    try:
        reader.join()
        reader.page.fill("#enter-input", room)
        reader.page.press("#enter-input", "Enter")
        expect(reader.page.locator("#conv-title")).to_have_text(f"#{room}")
        # The join brings the newest messages; the oldest are not there yet.
        expect(reader.message(f"history line {count - 1:03d}")).to_have_count(1)
        expect(reader.message("history line 000")).to_have_count(0)
        shown = reader.page.locator(f'#messages .conv-pane[data-conv="#{room}"] .msg').count()
        assert 0 < shown < count
        # Scrolling to the top asks for the older ones (history with `before`).
        reader.page.locator("#messages").evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
        expect(reader.message("history line 000")).to_have_count(1)
        expect(reader.page.locator(f'#messages .conv-pane[data-conv="#{room}"] .msg')).to_have_count(count)
        expect(reader.page.locator(".history-edge")).to_contain_text("beginning")
        order = reader.page.locator(f'#messages .conv-pane[data-conv="#{room}"] .msg-text').all_inner_texts()
        assert order == [f"history line {i:03d}" for i in range(count)]
        reader.shot("11-history")
        assert reader.errors == []
    finally:
        reader.close()


def test_the_same_nick_in_a_second_tab_takes_over_and_the_first_tab_can_take_it_back(browser):
    frank = User(browser, nick("frank", "websocket"), "websocket")
    try:
        frank.join()
        first = frank.page
        # A second tab of the same browser: same stored nick and token, so it joins by itself.
        second = frank.context.new_page()
        second.on("pageerror", lambda e: frank.errors.append(str(e)))
        second.goto(frank.url)
        expect(second.locator("#me-nick")).to_have_text(frank.nick)
        expect(second.locator("#conn")).to_have_attribute("data-state", "connected")
        # The first tab is told why it was disconnected, and does not fight back by itself.
        expect(first.locator("#conn")).to_have_attribute("data-state", "replaced")
        expect(first.locator("#notice")).to_contain_text("another window")
        frank.shot("12-replaced")
        first.wait_for_timeout(1500)
        expect(second.locator("#conn")).to_have_attribute("data-state", "connected")
        # Asked to, it takes the nick back.
        first.click("#notice-action")
        expect(first.locator("#conn")).to_have_attribute("data-state", "connected")
        expect(second.locator("#conn")).to_have_attribute("data-state", "replaced")
        assert frank.errors == []
    finally:
        frank.close()


# A stand-in for sockjs-client, served instead of /sockjs.min.js, that lets a test deliver the
# server's frames itself, in any order: window.fakeSockets holds every socket the page opened.
FAKE_SOCKJS = """
window.fakeSockets = [];
window.SockJS = class {
  constructor(url, _protocols, options) {
    this.readyState = 0; this.sent = []; this.transport = "websocket";
    window.fakeSockets.push(this);
    setTimeout(() => { this.readyState = 1; if (this.onopen) this.onopen(); }, 0);
  }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() { this.drop(1000); }
  drop(code) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    if (this.onclose) this.onclose({ code, reason: "" });
  }
  deliver(frame) { if (this.readyState === 1 && this.onmessage) this.onmessage({ data: JSON.stringify(frame) }); }
};
"""

# Every order in which a sender can learn of its own public message: the `sent` of its id, the
# room's echo of it (live, always after the `sent`: the server holds it back), the history of a
# re-join after the connection broke (the join lists the unanswered id as `pending`, the welcome
# names its msgId), the answer to a resend.
ORDERS = {
    "sent-then-echo": ["sent", "echo"],
    "sent-echo-then-sent-again": ["sent", "echo", "sent"],
    "drop-history-then-sent": ["drop", "welcome-with-history", "sent"],
    "drop-history-then-sent-twice": ["drop", "welcome-with-history", "sent", "sent"],
    "sent-drop-history": ["sent", "drop", "welcome-with-history"],
    "drop-empty-welcome-then-sent-then-echo": ["drop", "welcome-without-history", "sent", "echo"],
    "reload-history-then-sent": ["reload", "welcome-with-history", "sent"],
}


def poll_page(page, expression, arg=None):
    """Waits (15 s at most) until `expression` is true in the page. Polled from here: the page's
    Content-Security-Policy forbids wait_for_function's eval."""
    for _ in range(300):
        if page.evaluate(expression, arg):
            return
        page.wait_for_timeout(50)
    raise AssertionError("the page never got to: " + expression)


@pytest.mark.parametrize("order", list(ORDERS), ids=list(ORDERS))
def test_a_message_is_shown_once_whatever_order_its_sent_echo_and_history_come_in(browser, order):
    me = nick("olga", "order")
    context = browser.new_context(viewport={"width": 1180, "height": 760})
    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/sockjs.min.js", lambda route: route.fulfill(
        status=200, content_type="application/javascript", body=FAKE_SOCKJS))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    text = f"one of a kind {secrets.token_hex(3)}"
    ts = int(page.evaluate("Date.now()")) + 5
    msg_id = "m-" + secrets.token_hex(4)
    copies = lambda: page.evaluate(
        "t => [...document.querySelectorAll('#messages .msg')].filter(n => n.querySelector('.msg-text').textContent === t).length",
        text)

    def wait_until(expression, arg=None):
        poll_page(page, expression, arg)

    def socket():
        wait_until("() => (window.fakeSockets || []).some(s => s.readyState === 1 && s.sent.some(f => f.type === 'join'))")
        return "window.fakeSockets.filter(s => s.readyState === 1).pop()"

    def deliver(frame):
        page.evaluate(f"f => {socket()}.deliver(f)", frame)

    def welcome(history):
        frame = {"type": "welcome", "nick": me, "token": "t0", "users": [{"nick": me, "online": True}],
                 "rooms": ["lobby"], "entered": ["lobby"], "history": {"lobby": history}}
        # As a server does: the msgId of each id the join listed as pending.
        join = page.evaluate(f"{socket()}.sent.filter(f => f.type === 'join').pop()")
        if join.get("pending"):
            frame["pending"] = {i: (msg_id if i == say_id[0] else "m-other") for i in join["pending"]}
        deliver(frame)

    say_id = [None]
    echo = {"type": "message", "msgId": msg_id, "from": me, "room": "lobby", "text": text, "ts": ts, "seq": 7}
    try:
        page.goto(f"{BASE_URL}/?transport=websocket")
        page.fill("#nick-input", me)
        page.click("#join-button")
        welcome([])
        expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
        page.fill("#composer-input", text)
        page.press("#composer-input", "Enter")
        expect(page.locator("#messages .msg[data-pending]")).to_have_count(1)
        say = page.evaluate(f"{socket()}.sent.find(f => f.type === 'say')")
        assert say["text"] == text
        say_id[0] = say["id"]
        for step in ORDERS[order]:
            if step == "sent":
                deliver({"type": "sent", "id": say["id"], "msgId": msg_id, "ts": ts})
            elif step == "echo":
                deliver(echo)
            elif step == "drop":
                page.evaluate(f"{socket()}.drop(1006)")
                expect(page.locator("#conn")).not_to_have_attribute("data-state", "connected")
            elif step == "reload":
                page.reload()
            elif step in ("welcome-with-history", "welcome-without-history"):
                if page.evaluate("window.rabbitChat.outbox.length") > 0:
                    join = page.evaluate(f"{socket()}.sent.filter(f => f.type === 'join').pop()")
                    assert join.get("pending") == [say["id"]], f"the re-join lists the unanswered say: {join}"
                welcome([echo] if step == "welcome-with-history" else [])
                expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
                # The page resends what was not confirmed, with the same id.
                if page.evaluate("window.rabbitChat.outbox.length") > 0:
                    wait_until(f"id => {socket()}.sent.some(f => f.type === 'say' && f.id === id)", say["id"])
            # Checked at once after every step, not eventually: not even a passing duplicate.
            assert copies() <= 1, f"after {step}: {copies()} elements show the message"
        expect(page.locator("#messages .msg[data-pending]")).to_have_count(0)
        expect(page.locator(f'#messages .msg[data-msgid="{msg_id}"]')).to_have_attribute("data-status", "sent")
        assert copies() == 1
        assert page.evaluate("window.rabbitChat.outbox.length") == 0
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_nicks_named_like_object_properties_work_and_sign_out_forgets_the_nick(browser, transport, tmp_path):
    # A server of its own: these exact nicks can be claimed once per chat.
    server = OwnServer(tmp_path)
    url = f"{server.url}/?transport={transport}"
    proto = User(browser, "__proto__", transport)
    senders = [User(browser, "constructor", transport), User(browser, "toString", transport)]
    everyone = [proto, *senders]

    def join(user: User) -> None:
        user.page.goto(url)
        user.page.fill("#nick-input", user.nick)
        user.page.click("#join-button")
        user.wait_joined()

    def stored(user: User, key: str):
        return user.page.evaluate("(k) => JSON.parse(localStorage.getItem('rabbitChat.' + k))", key)

    def stored_keys(user: User, key: str):
        # Own properties only: a plain object's prototype must not answer for a nick.
        return user.page.evaluate(
            "(k) => { const v = JSON.parse(localStorage.getItem('rabbitChat.' + k)); return v ? Object.keys(v) : null; }", key)

    def credential_keys(user: User):
        # The nicks this browser can join as: by the old token, or by a device session (issue 16).
        return sorted(set((stored_keys(user, "tokens") or []) + (stored_keys(user, "sessions") or [])))

    try:
        for user in everyone:
            join(user)
        assert credential_keys(proto) == ["__proto__"]
        for user in senders:
            expect(user.roster_entry("__proto__")).to_have_class(re.compile(r"\bonline\b"))
        expect(proto.roster_entry("constructor")).to_have_class(re.compile(r"\bonline\b"))
        expect(proto.roster_entry("toString")).to_have_class(re.compile(r"\bonline\b"))

        # Private messages from `constructor` (two) and `toString` (one): unread counts per peer.
        texts = {}
        for user, count in zip(senders, [2, 1]):
            user.open_dm("__proto__")
            texts[user.nick] = [f"from {user.nick} {i} {secrets.token_hex(3)}" for i in range(count)]
            for text in texts[user.nick]:
                user.say(text)
                expect(user.message(text)).to_have_attribute("data-status", re.compile("sent|delivered"))
        expect(proto.roster_entry("constructor").locator(".badge")).to_have_text("2")
        expect(proto.roster_entry("toString").locator(".badge")).to_have_text("1")
        proto.open_dm("constructor")
        for text in texts["constructor"]:
            expect(proto.message(text)).to_have_count(1)
        expect(proto.roster_entry("constructor").locator(".badge")).to_have_count(0)
        expect(proto.roster_entry("toString").locator(".badge")).to_have_text("1")
        # The archive is keyed by the peer's nick, as an own key.
        assert sorted(stored_keys(proto, "dms.__proto__")) == ["constructor", "toString"]

        # A reload joins again with the stored token (no nick to type) and keeps the archive.
        proto.page.reload()
        proto.wait_joined()
        proto.open_dm("constructor")
        expect(proto.message(texts["constructor"][0])).to_have_count(1)

        # Sign-out forgets that nick's token and private messages in this browser, nothing else.
        proto.page.evaluate("localStorage.setItem('rabbitChat.dms.someone-else', '{\"x\":[]}')")
        proto.page.click("#logout-button")
        expect(proto.page.locator("#login")).to_be_visible()
        assert "__proto__" not in credential_keys(proto)
        assert stored(proto, "dms.__proto__") is None
        assert stored(proto, "outbox.__proto__") is None
        assert stored(proto, "dms.someone-else") == {"x": []}
        # The senders still have their own tokens (or sessions, from a server that gives them).
        assert credential_keys(senders[0]) == ["constructor"]
        for user in everyone:
            assert user.errors == [], user.errors
            assert user.dialogs == []
    finally:
        for user in everyone:
            user.close()
        server.stop()


# Every transport sockjs-client 1.6 offers Chromium, the iframe-based ones included.
ALL_TRANSPORTS = ["websocket", "xhr-streaming", "eventsource", "iframe-eventsource", "htmlfile", "iframe-htmlfile",
                  "xhr-polling", "iframe-xhr-polling", "jsonp-polling"]
MARKUP = '</script><img src=x onerror="alert(document.domain)"><script>alert(2)</script><!--'


@pytest.mark.parametrize("transport", ALL_TRANSPORTS)
def test_every_transport_works_under_the_origin_policy_and_markup_stays_text(browser, transport):
    """The page's own origin passes the Origin policy on every transport (iframe.html, htmlfile
    and jsonp_send included, under their CSPs), and a message full of markup, sent by someone
    else over websocket, arrives through this transport as text: no script runs, no dialog."""
    ivy = User(browser, nick("ivy", transport), transport)
    mal = User(browser, nick("mal", "websocket"), "websocket")
    markup = f"{MARKUP} {secrets.token_hex(3)}"
    try:
        ivy.join()
        mal.join()
        mal.say(markup)
        expect(ivy.message(markup)).to_have_count(1)
        expect(ivy.message(markup).locator(".msg-text")).to_have_text(markup)
        own = f"from {transport} {secrets.token_hex(3)} </script>&amp;"
        ivy.say(own)
        expect(ivy.message(own)).to_have_attribute("data-status", "sent")
        expect(mal.message(own)).to_have_count(1)
        assert ivy.page.locator("img[src=x]").count() == 0
        assert ivy.dialogs == [] and mal.dialogs == [], (ivy.dialogs, mal.dialogs)
        # sockjs-client's jsonp receiver may delete its callback before a late poll's script runs
        # (a known client race, sockjs/sockjs-client#587): that one error is the client's own.
        errors = [e for e in ivy.errors if not (transport == "jsonp-polling" and re.fullmatch(r"_jp\.a\w+ is not a function", e))]
        assert errors == [], ivy.errors
    finally:
        ivy.close()
        mal.close()


FOREIGN_PAGE = """<!doctype html><meta charset=utf-8><pre id=out></pre>
<iframe id=framed src="BASE/?transport=websocket"></iframe>
<script src="BASE/sockjs.min.js"></script>
<script>
const out = document.getElementById("out");
const note = (line) => { out.textContent += line + "\\n"; };
const ws = new WebSocket("BASE".replace("http", "ws") + "/chat/000/evil/websocket");
ws.onopen = () => note("websocket open");
ws.onclose = (e) => note("websocket closed " + e.code);
fetch("BASE/chat/000/evil2/xhr", {method: "POST", credentials: "include"})
  .then((r) => note("xhr readable " + r.status), () => note("xhr refused"));
for (const t of TRANSPORTS) {
  const s = new SockJS("BASE/chat", null, {transports: [t], timeout: 4000});
  s.onopen = () => note(t + " open");
  s.onclose = (e) => note(t + " closed " + e.code);
}
</script>"""


def test_a_foreign_page_cannot_use_the_chat_on_any_transport(browser):
    """A page from another origin (another port of 127.0.0.1, so the browser's private-network
    rules play no part), open in the same browser, tries the chat's websocket, an xhr with
    credentials, and SockJS on every transport: nothing opens."""
    import http.server
    import json
    import threading

    html = FOREIGN_PAGE.replace("BASE", BASE_URL).replace("TRANSPORTS", json.dumps(ALL_TRANSPORTS)).encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    foreign = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{foreign.server_address[1]}/")
        expect(page.locator("#out")).to_have_text(re.compile(r"(.*\n){11}"), timeout=30_000)
        lines = page.locator("#out").inner_text().splitlines()
        assert not [l for l in lines if l.endswith(" open")], lines
        assert "xhr refused" in lines and "websocket closed 1006" in lines, lines
        # frame-ancestors 'self': the chat page does not render inside the foreign page (clickjacking).
        framed = [f.url for f in page.frames if f != page.main_frame]
        assert framed and not [u for u in framed if u.startswith(BASE_URL)], framed
        # The same requests from the chat's own page are served: the refusals above are the policy's.
        own = User(browser, nick("own", "websocket"), "websocket")
        try:
            own.join()
        finally:
            own.close()
    finally:
        context.close()
        foreign.shutdown()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A rabbitChat of its own serving https:// with a certificate openssl makes now."""
    import subprocess

    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True)
    server = OwnServer(folder, extra=("--tls-cert", str(folder / "cert.pem"), "--tls-key", str(folder / "key.pem")))
    assert server.url.startswith("https://"), server.url
    yield server
    server.stop()


@pytest.mark.parametrize("transport", ["websocket", "xhr-streaming", "iframe-htmlfile"])
def test_the_page_works_over_https(browser, tls_server, transport):
    """Over TLS (wss:// for the websocket, https:// for the HTTP transports), two users chat."""
    users = [User(browser, nick(base, transport), transport, base_url=tls_server.url) for base in ("una", "vic")]
    try:
        una, vic = users
        for u in users:
            u.join()
        assert una.page.url.startswith("https://")
        hello = f"over tls {secrets.token_hex(3)}"
        una.say(hello)
        expect(vic.message(hello)).to_have_count(1)
        expect(una.message(hello)).to_have_attribute("data-status", "sent")
        una.shot("20-https")
        assert una.errors == [] and vic.errors == []
    finally:
        for u in users:
            u.close()


def say_in_order(room, texts, per_session=40):
    """Says `texts` in `room` in this order, with no browser: each SockJS xhr-polling session of
    its own joins as a nick of its own and says at most `per_session` at once (with its join,
    under the server's burst of 50 frames); the next session starts once every `sent` of the
    previous one came back, so the room holds the texts in the order given. Returns the nicks."""
    import json
    import time
    import urllib.request

    senders = []
    for start in range(0, len(texts), per_session):
        base = f"{BASE_URL}/chat/000/{secrets.token_hex(4)}"

        def post(path, body=b""):
            req = urllib.request.Request(base + path, data=body, method="POST", headers={"Content-Type": "text/plain"})
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.read().decode()

        def frames_until(done):
            """Polls the session until `done(frame)` says so for the last frame read; an error frame fails."""
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                body = post("/xhr")
                if body.startswith("c"):
                    raise AssertionError(f"the sender's session closed: {body}")
                if not body.startswith("a"):
                    continue
                for raw in json.loads(body[1:]):
                    frame = json.loads(raw)
                    assert frame["type"] != "error", frame
                    if done(frame):
                        return
            raise AssertionError("the sender's session never got its answers")

        sender = f"bulk{start // per_session}-{secrets.token_hex(3)}"
        senders.append(sender)
        assert post("/xhr").startswith("o")
        post("/xhr_send", json.dumps([json.dumps({"type": "join", "nick": sender, "rooms": [room]})]).encode())
        frames_until(lambda f: f["type"] == "welcome")
        chunk = texts[start:start + per_session]
        says = [{"type": "say", "id": f"s{start + i}", "room": room, "text": t} for i, t in enumerate(chunk)]
        post("/xhr_send", json.dumps([json.dumps(f) for f in says]).encode())
        sent = set()
        frames_until(lambda f: f["type"] == "sent" and (sent.add(f["id"]) or len(sent) == len(chunk)))
    return senders


# Keeps every SockJS object the page makes in window.sockets (an init script: the page's own
# code is unchanged), so that a test can cut the page's connection from the page side.
KEEP_SOCKETS = """
window.sockets = [];
let kept;
Object.defineProperty(window, "SockJS", {
  configurable: true,
  get() { return kept; },
  set(Original) {
    kept = function (...args) { const s = new Original(...args); window.sockets.push(s); return s; };
    kept.prototype = Original.prototype;
  },
});
"""


def go_away(user: User) -> None:
    """The page loses its connection and cannot get a new one: the SockJS info request every new
    connection starts with fails (any transport), and the open socket is closed under the page."""
    user.context.route("**/chat/info*", lambda route: route.abort("internetdisconnected"))
    user.page.evaluate("window.sockets.filter((s) => s.readyState === 1).forEach((s) => s.close())")
    expect(user.page.locator("#conn")).to_have_attribute("data-state", re.compile("reconnecting|connecting"))


def come_back(user: User) -> None:
    """The network is back: the browser says so (`online`), and the page reconnects by itself."""
    user.context.unroute("**/chat/info*")
    # Said again while it is not back: an attempt under way when the network came back fails
    # and waits out its backoff (up to 30 s) unless told again.
    for _ in range(20):
        user.page.evaluate("window.dispatchEvent(new Event('online'))")
        try:
            expect(user.page.locator("#conn")).to_have_attribute("data-state", "connected", timeout=1000)
            break
        except AssertionError:
            continue
    user.wait_joined()


def room_pane_items(user: User, room: str) -> list[str]:
    """The room's pane from top to bottom: each message's text, and "GAP" for a gap line."""
    return user.page.evaluate(
        """(key) => [...document.querySelectorAll(`#messages .conv-pane[data-conv="${key}"] > .msg, #messages .conv-pane[data-conv="${key}"] > .gap-line`)]
             .map((n) => n.classList.contains("gap-line") ? "GAP" : n.querySelector(".msg-text").textContent)""",
        f"#{room}")


def joined_in_room(browser, base: str, transport: str):
    user = User(browser, nick(base, transport), transport)
    user.context.add_init_script(KEEP_SOCKETS)
    room = f"away{secrets.token_hex(3)}"
    user.join()
    user.page.fill("#enter-input", room)
    user.page.press("#enter-input", "Enter")
    expect(user.page.locator("#conv-title")).to_have_text(f"#{room}")
    last = f"last before leaving {secrets.token_hex(3)}"
    user.say(last)
    # Its own copy came back with the room seq the page resumes from.
    expect(user.message(last)).to_have_attribute("data-seq", re.compile(r"^\d+$"))
    return user, room, last


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_page_away_while_1000_messages_reach_its_room_shows_every_one_once_in_order(browser, transport):
    user, room, last = joined_in_room(browser, "pat", transport)
    try:
        go_away(user)
        texts = [f"missed {i:04d}" for i in range(1000)]
        say_in_order(room, texts)
        come_back(user)
        pane = user.page.locator(f'#messages .conv-pane[data-conv="#{room}"] .msg')
        expect(pane).to_have_count(1 + len(texts), timeout=60_000)
        assert room_pane_items(user, room) == [last] + texts
        expect(user.page.locator("#messages .gap-line")).to_have_count(0)
        user.shot("21-resumed-1000")
        assert user.errors == [] and user.dialogs == []
    finally:
        user.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_page_away_for_more_than_the_server_keeps_shows_the_gap_and_all_that_is_kept(browser, transport):
    # Past 1 MiB of messages per room the server keeps only the newest (Specs/bounds.md): 300
    # messages of about 3.9 KB are more than that.
    user, room, last = joined_in_room(browser, "quin", transport)
    try:
        go_away(user)
        filler = "x" * 3900
        texts = [f"big {i:03d} {filler}" for i in range(300)]
        say_in_order(room, texts)
        come_back(user)
        gap = user.page.locator(f'#messages .conv-pane[data-conv="#{room}"] .gap-line')
        expect(gap).to_have_count(1, timeout=60_000)
        expect(gap).to_contain_text("no longer kept")
        expect(user.page.locator(f'#messages .conv-pane[data-conv="#{room}"] .msg').last).to_contain_text("big 299 ")
        items = room_pane_items(user, room)
        # What is shown: the last message before leaving, the gap, then the newest ones the server
        # kept, every one once, in order, up to the newest.
        assert items[:2] == [last, "GAP"], items[:3]
        kept = items[2:]
        first = int(kept[0].split()[1])
        assert 0 < first < 100, first
        assert kept == texts[first:]
        # The server keeps nothing older than the gap's `next`, and the page shows older
        # messages: no "Load older" in the gap line, nor at the top of the room.
        expect(gap.locator("button")).to_have_count(0)
        expect(user.page.locator(f'#messages .conv-pane[data-conv="#{room}"] .history-edge button')).to_have_count(0)
        gap.scroll_into_view_if_needed()
        user.shot("22-resumed-gap")
        assert user.errors == [] and user.dialogs == []
    finally:
        user.close()


# ---------------------------------------------------------------- accounts and devices (issue 16)

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a longer and newer passphrase"


def stored_map(page: Page, key: str) -> dict:
    return page.evaluate("(k) => JSON.parse(localStorage.getItem('rabbitChat.' + k)) || {}", key)


def protect_nick(user: User, password: str) -> None:
    """Opens the account panel and protects the nick with `password`, typed twice."""
    user.page.click("#account-button")
    expect(user.page.locator("#account")).to_be_visible()
    expect(user.page.locator("#password-title")).to_have_text("Protect your nick with a password")
    user.page.fill("#password-new", password)
    user.page.fill("#password-repeat", password)
    user.page.click("#password-submit")
    expect(user.page.locator("#password-status")).to_have_text(
        "Your nick is protected: sign in with it and this password from any browser.")
    expect(user.page.locator("#password-title")).to_have_text("Change your password")


def sign_in(user: User, password: str) -> None:
    """Types the nick and `password` on the sign-in screen and signs in."""
    user.page.fill("#nick-input", user.nick)
    user.page.fill("#password-input", password)
    expect(user.page.locator("#join-button")).to_have_text("Sign in")
    user.page.click("#join-button")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_nick_protected_with_a_password_signs_in_from_a_second_browser_and_a_wrong_password_is_refused(browser, transport):
    """Profile A takes a free nick and protects it with a password (the form checks both copies
    and the length first); profile B, a browser of its own (its own localStorage), is refused with
    a wrong password and signs in with the right one; B then changes the password, which needs the
    current one."""
    a = User(browser, nick("pat", transport), transport)
    b = User(browser, a.nick, transport)
    try:
        a.join()
        a.page.click("#account-button")
        expect(a.page.locator("#account")).to_be_visible()
        # The form's own checks, one sentence each, with the field to fix marked.
        a.page.fill("#password-new", PASSWORD)
        a.page.fill("#password-repeat", PASSWORD + "x")
        a.page.click("#password-submit")
        expect(a.page.locator("#password-error")).to_have_text("The two new passwords differ: type the same one twice.")
        expect(a.page.locator("#password-repeat")).to_have_attribute("aria-invalid", "true")
        a.page.fill("#password-new", "short")
        a.page.fill("#password-repeat", "short")
        a.page.click("#password-submit")
        expect(a.page.locator("#password-error")).to_have_text("Use at least 8 characters for the password, then try again.")
        expect(a.page.locator("#password-new")).to_have_attribute("aria-invalid", "true")
        a.page.click("#account-close")
        protect_nick(a, PASSWORD)
        expect(a.page.locator("#password-error")).to_be_hidden()
        a.shot("30-password-set")

        # B: the same nick with a wrong password is refused, and says what to do.
        b.open()
        sign_in(b, PASSWORD + "!")
        expect(b.page.locator("#login-error")).to_have_text("The nick and password do not match: check both and try again.")
        expect(b.page.locator("#login")).to_be_visible()
        expect(b.page.locator("#nick-input")).to_have_value(b.nick)
        expect(b.page.locator("#password-input")).to_be_focused()
        b.shot("31-wrong-password")
        # The nick alone (a free join) is refused too: it is protected.
        b.page.fill("#nick-input", b.nick)
        b.page.fill("#password-input", "")
        expect(b.page.locator("#join-button")).to_have_text("Join the chat")
        b.page.click("#join-button")
        expect(b.page.locator("#login-error")).to_have_text(
            "That nick is taken or protected by a password: enter its password if it is yours, or pick another nick.")

        # The right password signs B in. The server keeps one live session per nick today, so A's
        # is replaced (close 4001) when B signs in; A says so (issue 16 point 3 will keep both).
        sign_in(b, PASSWORD)
        b.wait_joined()
        expect(a.page.locator("#conn")).to_have_attribute("data-state", "replaced")
        expect(a.page.locator("#notice")).to_contain_text("in another window or browser")
        # No password is kept in the browser's storage.
        assert PASSWORD not in b.page.evaluate("JSON.stringify(Object.assign({}, localStorage))")
        b.shot("32-signed-in-with-password")

        # B changes the password: the current one is needed, and a wrong one is refused.
        b.page.click("#account-button")
        expect(b.page.locator("#password-title")).to_have_text("Change your password")
        b.page.fill("#password-new", NEW_PASSWORD)
        b.page.fill("#password-repeat", NEW_PASSWORD)
        b.page.click("#password-submit")
        expect(b.page.locator("#password-error")).to_have_text("Enter your current password to change it.")
        b.page.fill("#password-current", "not the password")
        b.page.click("#password-submit")
        expect(b.page.locator("#password-error")).to_have_text(
            "The current password is missing or wrong: enter the one you set before, then try again.")
        expect(b.page.locator("#password-current")).to_have_attribute("aria-invalid", "true")
        b.page.fill("#password-new", NEW_PASSWORD)
        b.page.fill("#password-repeat", NEW_PASSWORD)
        b.page.fill("#password-current", PASSWORD)
        b.page.click("#password-submit")
        expect(b.page.locator("#password-status")).to_have_text(
            "Your nick is protected: sign in with it and this password from any browser.")
        expect(b.page.locator("#password-error")).to_be_hidden()
        b.shot("33-password-changed")
        assert a.errors == [] and b.errors == [], (a.errors, b.errors)
        assert a.dialogs == [] and b.dialogs == []
    finally:
        a.close()
        b.close()


def first_answer(base_url: str, frame: dict) -> dict:
    """Sends one chat frame through a SockJS xhr-polling session of its own (no browser) and
    returns the server's first chat frame in answer."""
    import json
    import time
    import urllib.request

    base = f"{base_url.rstrip('/')}/chat/000/{secrets.token_hex(4)}"

    def post(path, body=b""):
        req = urllib.request.Request(base + path, data=body, method="POST", headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.read().decode()

    assert post("/xhr").startswith("o")
    post("/xhr_send", json.dumps([json.dumps(frame)]).encode())
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        got = post("/xhr")
        if got.startswith("a"):
            return json.loads(json.loads(got[1:])[0])
        if got.startswith("c"):
            raise AssertionError("closed without an answer: " + got)
    raise AssertionError("no answer to " + json.dumps(frame))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_devices_are_listed_and_signing_out_everywhere_ends_every_device(browser, transport, tmp_path):
    """A protects a nick; B signs in to it from a second profile: each keeps a session token of
    its own (not the password), B's account panel lists both devices, and "Sign out everywhere"
    from B revokes both: B gets close 4005 and shows the sign-in screen; A's session no longer
    signs it in. A server of its own: the password attempts of these tests do not count against
    the shared server's per-address limit."""
    server = OwnServer(tmp_path)
    a = User(browser, nick("sam", transport), transport, base_url=server.url)
    b = User(browser, a.nick, transport, base_url=server.url)
    try:
        a.join()
        session_a = stored_map(a.page, "sessions").get(a.nick)
        assert session_a and len(session_a) == 43, stored_map(a.page, "sessions")
        assert a.nick not in stored_map(a.page, "tokens")
        protect_nick(a, PASSWORD)

        b.open()
        sign_in(b, PASSWORD)
        b.wait_joined()
        session_b = stored_map(b.page, "sessions").get(b.nick)
        assert session_b and len(session_b) == 43 and session_b != session_a
        # One live session per nick today: B's sign-in replaced A's connection (close 4001). A's
        # session token is still valid: only its socket went.
        expect(a.page.locator("#conn")).to_have_attribute("data-state", "replaced")

        # A reload of B joins by its session: no password asked.
        b.page.reload()
        b.wait_joined()

        b.page.click("#account-button")
        devices = b.page.locator("#device-list li")
        expect(devices).to_have_count(2)
        expect(b.page.locator('#device-list li[data-current="true"]')).to_have_count(1)
        expect(b.page.locator('#device-list li[data-current="true"] .device-this')).to_have_text("this device")
        expect(b.page.locator('#device-list li[data-current="true"] .device-label')).to_have_text(re.compile(r"^Chrome on Linux$"))
        expect(devices.first.locator(".device-times")).to_contain_text("last seen")
        b.shot("34-devices")

        # Sign out everywhere: B's own socket closes with 4005 and the page shows the sign-in screen.
        b.page.click("#signout-everywhere")
        expect(b.page.locator("#login")).to_be_visible()
        expect(b.page.locator("#login-error")).to_have_text(
            "You were signed out on this device: sign in again with your nick and password.")
        expect(b.page.locator("#nick-input")).to_have_value(b.nick)
        assert b.nick not in stored_map(b.page, "sessions")
        b.shot("35-signed-out-everywhere")

        # A (replaced, so not connected when the sessions were revoked) takes the nick back with
        # its session, which no longer signs in: it shows the sign-in screen and forgets it. With
        # several live sessions per nick (issue 16 point 3), A would be closed with 4005 instead.
        expect(a.page.locator("#notice")).to_be_visible()  # above the account panel A still has open
        a.page.click("#notice-action")
        expect(a.page.locator("#login")).to_be_visible()
        expect(a.page.locator("#login-error")).to_have_text(
            "This device is no longer signed in: enter your password to sign in again, or pick another nick.")
        assert a.nick not in stored_map(a.page, "sessions")
        a.shot("36-other-device-signed-out")
        # And the password still signs in (the sessions went, not the account).
        sign_in(a, PASSWORD)
        a.wait_joined()
        # "Switch" signs this device out on the server too: its session no longer joins.
        session_a2 = stored_map(a.page, "sessions").get(a.nick)
        assert session_a2 and session_a2 != session_a
        a.page.click("#logout-button")
        expect(a.page.locator("#login")).to_be_visible()
        assert a.nick not in stored_map(a.page, "sessions")
        expect(a.page.locator("#conn")).to_have_attribute("data-state", "connected")  # the fresh socket, after the 4005
        answer = first_answer(server.url, {"type": "join", "nick": a.nick, "session": session_a2})
        assert answer.get("code") == "auth_failed", answer
        assert a.errors == [] and b.errors == [], (a.errors, b.errors)
    finally:
        a.close()
        b.close()
        server.stop()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_server_with_closed_registration_tells_a_stranger_to_ask_its_operator(browser, transport, tmp_path):
    """`--registration closed`: a nick without an operator-made account is refused, free or with a
    password, and the sign-in screen says what to do."""
    server = OwnServer(tmp_path, extra=("--registration", "closed"))
    stranger = User(browser, nick("zed", transport), transport, base_url=server.url)
    closed = "This chat only admits accounts made by its operator: ask them for one, then sign in with its password."
    try:
        stranger.open()
        stranger.page.fill("#nick-input", stranger.nick)
        stranger.page.click("#join-button")
        expect(stranger.page.locator("#login-error")).to_have_text(closed)
        expect(stranger.page.locator("#nick-input")).to_have_value(stranger.nick)
        sign_in(stranger, PASSWORD)
        expect(stranger.page.locator("#login-error")).to_have_text(closed)
        expect(stranger.page.locator("#login")).to_be_visible()
        stranger.shot("39-registration-closed")
        assert stranger.errors == [], stranger.errors
    finally:
        stranger.close()
        server.stop()


def test_the_page_keeps_the_session_sends_the_old_token_once_and_handles_devices_and_sign_out(browser):
    """The page against a stand-in server (FAKE_SOCKJS): a browser holding only the old HMAC token
    joins with it once and keeps the welcome's `session` instead; re-joins send the session; the
    devices panel lists `devices` as text; "Sign out" and "Sign out everywhere" send `signOut`;
    close 4005 forgets the session and shows the sign-in screen; each refused sign-in says what to do."""
    me = nick("tess", "fake")
    session = "BwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSY"
    context = browser.new_context(viewport={"width": 1180, "height": 760})
    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/sockjs.min.js", lambda route: route.fulfill(
        status=200, content_type="application/javascript", body=FAKE_SOCKJS))
    page = context.new_page()
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    def wait_until(expression, arg=None):
        poll_page(page, expression, arg)

    def joins():
        return page.evaluate("() => window.fakeSockets.flatMap(s => s.sent.filter(f => f.type === 'join'))")

    def sent(kind):
        return page.evaluate("(k) => window.fakeSockets.flatMap(s => s.sent.filter(f => f.type === k))", kind)

    def open_socket():
        return "window.fakeSockets.filter(s => s.readyState === 1).pop()"

    def deliver(frame):
        page.evaluate(f"f => {open_socket()}.deliver(f)", frame)

    def welcome(**extra):
        deliver({"type": "welcome", "nick": me, "users": [{"nick": me, "online": True}], "rooms": ["lobby"],
                 "entered": ["lobby"], "history": {"lobby": []}, **extra})
        expect(page.locator("#conn")).to_have_attribute("data-state", "connected")

    try:
        # A browser from before sessions: the nick and its old token only.
        page.goto(f"{BASE_URL}/?transport=websocket")
        page.evaluate("([n]) => { localStorage.setItem('rabbitChat.nick', JSON.stringify(n));"
                      " localStorage.setItem('rabbitChat.tokens', JSON.stringify({[n]: 'old-hmac-token'})); }", [me])
        page.reload()
        wait_until("() => (window.fakeSockets || []).some(s => s.sent.some(f => f.type === 'join'))")
        first = joins()[-1]
        assert first.get("token") == "old-hmac-token" and "session" not in first and "nonce" not in first, first
        welcome(session=session, device="d7f3a1c09b2e")
        expect(page.locator("#me-nick")).to_have_text(me)
        assert stored_map(page, "sessions") == {me: session}
        assert me not in stored_map(page, "tokens")

        # The connection breaks: the re-join sends the session, never the old token again.
        page.evaluate(f"{open_socket()}.drop(1006)")
        wait_until("() => window.fakeSockets.filter(s => s.readyState === 1 && s.sent.some(f => f.type === 'join')).length === 1"
                   " && window.fakeSockets.length >= 2")
        again = joins()[-1]
        assert again.get("session") == session and "token" not in again and "password" not in again, again
        welcome(session=session, device="d7f3a1c09b2e")

        # The devices panel asks for the list and shows it; a label is text, never markup.
        page.click("#account-button")
        wait_until("() => window.fakeSockets.some(s => s.sent.some(f => f.type === 'devices'))")
        now = int(page.evaluate("Date.now()"))
        deliver({"type": "devices", "devices": [
            {"id": "d7f3a1c09b2e", "label": "Chrome on Linux", "created": now - 3_600_000, "lastSeen": now, "current": True},
            {"id": "e9b2c4f01a7d", "label": XSS, "created": now - 86_400_000, "lastSeen": now - 300_000, "current": False},
        ]})
        expect(page.locator("#device-list li")).to_have_count(2)
        other = page.locator('#device-list li[data-device="e9b2c4f01a7d"]')
        expect(other.locator(".device-label")).to_have_text(XSS)
        expect(other.locator(".device-times")).to_contain_text("last seen 5 minutes ago")
        expect(page.locator('#device-list li[data-device="d7f3a1c09b2e"] .device-this')).to_have_text("this device")
        expect(page.locator("#account img")).to_have_count(0)
        expect(other.locator("button")).to_have_accessible_name(f"Sign out {XSS}")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "fake-37-devices.png"))

        # "Sign out" on the other device sends its id; the answer takes it off the list.
        other.locator("button").click()
        assert sent("signOut")[-1] == {"type": "signOut", "device": "e9b2c4f01a7d"}
        deliver({"type": "signedOut", "devices": ["e9b2c4f01a7d"]})
        expect(page.locator("#device-list li")).to_have_count(1)
        expect(page.locator("#devices-status")).to_have_text("Signed out 1 device.")

        # "Sign out everywhere": the server revokes every session and closes this one with 4005.
        page.click("#signout-everywhere")
        assert sent("signOut")[-1] == {"type": "signOut", "everywhere": True}
        deliver({"type": "signedOut", "devices": ["d7f3a1c09b2e"]})
        page.evaluate(f"{open_socket()}.drop(4005)")
        expect(page.locator("#login")).to_be_visible()
        expect(page.locator("#login-error")).to_have_text("You were signed out on this device: sign in again with your nick and password.")
        expect(page.locator("#nick-input")).to_have_value(me)
        expect(page.locator("#password-input")).to_be_focused()
        assert me not in stored_map(page, "sessions") and me not in stored_map(page, "tokens")

        # Signing in with a password sends it with this device's label; each refusal is one sentence.
        refusals = {
            "auth_failed": "The nick and password do not match: check both and try again.",
            "rate_limited": "Too many password attempts for this nick: try again in 600 s.",
            "registration_closed": "This chat only admits accounts made by its operator: ask them for one, then sign in with its password.",
        }
        for code, shown in refusals.items():
            page.fill("#nick-input", me)
            page.fill("#password-input", PASSWORD)
            page.click("#join-button")
            wait_until("(p) => window.fakeSockets.some(s => s.readyState === 1 && s.sent.some(f => f.type === 'join' && f.password === p))",
                       PASSWORD)
            join = joins()[-1]
            assert join["password"] == PASSWORD and join["device"] == "Chrome on Linux" and "session" not in join, join
            server_message = "Too many password attempts for this nick: try again in 600 s." if code == "rate_limited" else "no"
            deliver({"type": "error", "code": code, "message": server_message})
            expect(page.locator("#login-error")).to_have_text(shown)
            expect(page.locator("#login")).to_be_visible()
            page.evaluate("() => window.fakeSockets.forEach(s => { s.sent = s.sent.filter(f => f.type !== 'join'); })")
        page.screenshot(path=str(SHOTS / "fake-38-sign-in-refused.png"))
        assert PASSWORD not in page.evaluate("JSON.stringify(Object.assign({}, localStorage))")

        # The right password: the welcome's session is kept; "Switch" signs this device out on the
        # server (signOut without a device: this one) and forgets the session here.
        page.fill("#nick-input", me)
        page.fill("#password-input", PASSWORD)
        page.click("#join-button")
        wait_until("(p) => window.fakeSockets.some(s => s.readyState === 1 && s.sent.some(f => f.type === 'join' && f.password === p))",
                   PASSWORD)
        welcome(session=session, device="d7f3a1c09b2e")
        expect(page.locator("#me-nick")).to_have_text(me)
        assert stored_map(page, "sessions") == {me: session}
        page.click("#logout-button")
        assert sent("signOut")[-1] == {"type": "signOut"}
        expect(page.locator("#login")).to_be_visible()
        assert me not in stored_map(page, "sessions")
        assert errors == [] and dialogs == [], (errors, dialogs)
    finally:
        context.close()


# ---------------------------------------------------------------- the text people write, mentions, accessibility (issue 18)

# Records what the page does with the Notification API: each notification (recorded before the
# browser shows it) and each permission request.
NOTE_RECORDER = """
(() => {
  window.__notes = [];
  window.__asked = 0;
  const Real = window.Notification;
  if (typeof Real !== "function") return;
  class Recorded extends Real {
    constructor(title, options) {
      window.__notes.push({ title, body: options && options.body });
      super(title, options);
    }
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = (...args) => { window.__asked++; return Real.requestPermission(...args); };
  window.Notification = Recorded;
})();
"""


def set_hidden(page: Page, hidden: bool) -> None:
    """The page behaves as a tab in the background (hidden) or in front again."""
    page.evaluate(
        """(hidden) => {
          if (hidden) {
            Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
            Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
          } else {
            delete document.visibilityState;
            delete document.hidden;
          }
          document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


def wait_notes(page: Page, count: int) -> list:
    """The notifications recorded once there are `count` (polled: wait_for_function would eval a string, which the CSP forbids)."""
    for _ in range(TIMEOUT_MS // 100):
        notes = page.evaluate("window.__notes")
        if len(notes) >= count:
            return notes
        page.wait_for_timeout(100)
    raise AssertionError(f"{count} notifications expected, got {page.evaluate('window.__notes')}")


def text_content(locator) -> str:
    return locator.evaluate("e => e.textContent")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_formatted_text_a_folded_message_and_a_mention_that_notifies(browser, transport):
    alice = User(browser, nick("ann", transport), transport)
    bob = User(browser, nick("ben", transport), transport)
    alice.context.grant_permissions(["notifications"], origin=BASE_URL)
    alice.context.add_init_script(NOTE_RECORDER)
    bob.context.add_init_script(NOTE_RECORDER)
    tag = secrets.token_hex(3)
    try:
        # Notifications are asked for on the first click, never at load.
        bob.open()
        expect(bob.page.locator("#nick-input")).to_be_visible()
        assert bob.page.evaluate("window.__asked") == 0
        bob.page.fill("#nick-input", bob.nick)
        bob.page.click("#join-button")
        bob.wait_joined()
        assert bob.page.evaluate("window.__asked") == 1
        alice.join()
        expect(bob.roster_entry(alice.nick)).to_have_class(re.compile(r"\bonline\b"))
        # The history shown on load is not announced.
        expect(alice.page.locator("#announcer")).to_have_text("")

        # Code, bold, italics, links (http and https only), emoji; markup stays text.
        bob.say(f"fmt {tag} **bold** _italic_ `a<b>` https://example.com/{tag}?q=1. javascript:alert(1) :tada:\n"
                "```\n<img src=x onerror=alert(1)>\n**not bold**\n```")
        msg = alice.message(f"fmt {tag}")
        expect(msg).to_have_count(1)
        text = msg.locator(".msg-text")
        expect(text.locator("strong")).to_have_text("bold")
        expect(text.locator("em")).to_have_text("italic")
        expect(text.locator("code.msg-code")).to_have_text("a<b>")
        expect(text.locator("a")).to_have_count(1)
        expect(text.locator("a")).to_have_attribute("href", f"https://example.com/{tag}?q=1")
        expect(text.locator("a")).to_have_attribute("rel", "noopener noreferrer")
        expect(text.locator("a")).to_have_attribute("target", "_blank")
        assert text_content(text.locator("pre")) == "<img src=x onerror=alert(1)>\n**not bold**"
        expect(text).to_contain_text("javascript:alert(1) \U0001F389")
        expect(alice.page.locator("#messages img, #messages b, #messages script")).to_have_count(0)
        # The screen reader hears the new message.
        expect(alice.page.locator("#announcer")).to_contain_text(f"{bob.nick} in #lobby: fmt {tag}")

        # Shift+Enter starts a new line; the line breaks arrive.
        bob.page.fill("#composer-input", f"two lines {tag}")
        bob.page.press("#composer-input", "Shift+Enter")
        bob.page.locator("#composer-input").press_sequentially("second line")
        bob.page.press("#composer-input", "Enter")
        two = alice.message(f"two lines {tag}").locator(".msg-text")
        expect(two).to_have_count(1)
        assert text_content(two) == f"two lines {tag}\nsecond line"

        # Pasted text (inserted in one go, as a paste does) keeps its line breaks.
        composer = bob.page.locator("#composer-input")
        composer.fill("")
        composer.focus()
        bob.page.keyboard.insert_text(f"pasted {tag}\n  indented\n\nafter a blank line")
        composer.press("Enter")
        pasted = alice.message(f"pasted {tag}").locator(".msg-text")
        expect(pasted).to_have_count(1)
        assert text_content(pasted) == f"pasted {tag}\n  indented\n\nafter a blank line"

        # A long message folds; "Show more" opens it from the keyboard.
        bob.say(f"long {tag}\n" + "\n".join(f"line {i}" for i in range(1, 31)))
        long_msg = alice.message(f"long {tag}")
        expect(long_msg.locator(".msg-text.folded")).to_have_count(1)
        fold = long_msg.locator(".fold-button")
        expect(fold).to_have_text("Show more")
        expect(fold).to_have_attribute("aria-expanded", "false")
        folded_height = long_msg.locator(".msg-text").evaluate("e => e.clientHeight")
        alice.shot("text-01-formatted-and-folded")
        fold.focus()
        alice.page.keyboard.press("Enter")
        expect(fold).to_have_text("Show less")
        expect(fold).to_have_attribute("aria-expanded", "true")
        assert long_msg.locator(".msg-text").evaluate("e => e.clientHeight") > folded_height
        alice.shot("text-02-unfolded")

        # alice's page goes to the background; a plain room message counts but does not notify.
        set_hidden(alice.page, True)
        bob.say(f"plain {tag}")
        expect(alice.message(f"plain {tag}")).to_have_count(1)

        # bob completes alice's nick from the keyboard and mentions her.
        composer.fill("")
        composer.press_sequentially(f"ping {tag} @{alice.nick[:-1]}")
        expect(bob.page.locator("#mention-list")).to_be_visible()
        expect(bob.page.locator('#mention-list [aria-selected="true"]')).to_have_attribute("data-nick", alice.nick)
        expect(composer).to_have_attribute("aria-activedescendant", "mention-option-0")
        bob.shot("text-03-mention-completion")
        composer.press("Enter")
        expect(bob.page.locator("#mention-list")).to_be_hidden()
        expect(composer).to_have_value(f"ping {tag} @{alice.nick} ")
        composer.press_sequentially("are you there?")
        composer.press("Enter")

        # alice: the mention is highlighted, notifies, and counts in the title and on the favicon.
        mention = alice.message(f"ping {tag}")
        expect(mention).to_have_class(re.compile(r"\bmentions-me\b"))
        expect(mention.locator(".mention.mention-me")).to_have_text("@" + alice.nick)
        expect(bob.message(f"ping {tag}").locator(".mention")).to_have_text("@" + alice.nick)
        expect(bob.message(f"ping {tag}")).not_to_have_class(re.compile(r"\bmentions-me\b"))
        notes = wait_notes(alice.page, 1)
        assert len(notes) == 1, notes
        assert notes[0]["title"] == f"{bob.nick} mentioned you in #lobby"
        assert notes[0]["body"] == f"ping {tag} @{alice.nick} are you there?"
        expect(alice.page).to_have_title("(@1 \u00b7 2) rabbitChat")
        expect(alice.page.locator('link[rel="icon"]')).to_have_attribute("data-badge", "1@")

        # A private message notifies too.
        bob.open_dm(alice.nick)
        bob.say(f"private {tag}")
        assert wait_notes(alice.page, 2)[1] == {"title": f"{bob.nick} (private)", "body": f"private {tag}"}
        expect(alice.page).to_have_title("(@1 \u00b7 3) rabbitChat")
        alice.shot("text-04-mention-notified")

        # Back in front: the room shown is read; the private message still counts.
        set_hidden(alice.page, False)
        expect(alice.page).to_have_title("(1) rabbitChat")
        expect(alice.page.locator('link[rel="icon"]')).to_have_attribute("data-badge", "1")
        assert bob.page.evaluate("window.__notes.length") == 0
        assert not alice.errors and not bob.errors, alice.errors + bob.errors
        assert not alice.dialogs and not bob.dialogs
    finally:
        alice.close()
        bob.close()


def axe_serious(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at " + ", ".join(str(n["target"]) for n in v["nodes"][:5])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_axe_finds_nothing_serious_on_the_sign_in_and_chat_screens_in_light_and_dark(browser, transport):
    for scheme in ("light", "dark"):
        carol = User(browser, nick("cy", transport), transport, color_scheme=scheme)
        dave = User(browser, nick("dee", transport), transport, color_scheme=scheme)
        try:
            carol.open()
            expect(carol.page.locator("#nick-input")).to_be_visible()
            carol.shot(f"a11y-{scheme}-01-sign-in")
            assert axe_serious(carol.page) == []
            carol.page.fill("#nick-input", carol.nick)
            carol.page.press("#nick-input", "Enter")
            carol.wait_joined()
            dave.join()
            tag = secrets.token_hex(3)
            dave.say(f"a11y {tag} **bold** _it_ `code` https://example.com/{tag} @{carol.nick} :wave:\n```\nblock\n```")
            dave.say(f"long {tag}\n" + "\n".join(f"line {i}" for i in range(1, 31)))
            expect(carol.message(f"a11y {tag}")).to_have_class(re.compile(r"\bmentions-me\b"))
            expect(carol.message(f"long {tag}").locator(".fold-button")).to_be_visible()

            # The keyboard: the skip link leads to the message box; focus is visible.
            carol.page.focus(".skip-link")
            expect(carol.page.locator(".skip-link")).to_be_in_viewport()
            carol.page.keyboard.press("Enter")
            expect(carol.page.locator("#composer-input")).to_be_focused()
            carol.page.keyboard.press("Tab")
            expect(carol.page.locator("#send-button")).to_be_focused()
            assert carol.page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
            # Escape closes the account panel and gives the focus back to its button.
            carol.page.click("#account-button")
            expect(carol.page.locator("#account")).to_be_visible()
            carol.page.keyboard.press("Escape")
            expect(carol.page.locator("#account")).to_be_hidden()
            expect(carol.page.locator("#account-button")).to_be_focused()

            carol.shot(f"a11y-{scheme}-02-chat")
            assert axe_serious(carol.page) == []

            # The theme button overrides the system's: system, light, dark.
            theme = carol.page.locator("#theme-button")
            expect(theme).to_have_attribute("aria-label", "Theme: system")
            other = "dark" if scheme == "light" else "light"
            clicks = 2 if other == "dark" else 1
            for _ in range(clicks):
                theme.click()
            expect(carol.page.locator("html")).to_have_attribute("data-theme", other)
            expect(theme).to_have_attribute("aria-label", f"Theme: {other}")
            expect(theme.locator(".theme-label")).to_have_text(f"Theme: {other}")
            carol.shot(f"a11y-{scheme}-03-chat-themed-{other}")
            assert axe_serious(carol.page) == []
            assert not carol.errors and not dave.errors, carol.errors + dave.errors
        finally:
            carol.close()
            dave.close()


def room_badge(user: User, room: str):
    return user.page.locator(f'#room-list [data-conv="#{room}"] .badge')


def rooms_known(user: User) -> dict:
    return user.page.evaluate("window.rabbitChat.rooms")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unread_counts_and_the_new_messages_line_survive_a_reload_and_reading_is_stored(browser, transport):
    # One nick per browser context today (a second tab of a nick takes it over), so the same
    # user's other device is this context reloading; a second user writes.
    erin = User(browser, nick("erin", transport), transport)
    finn = User(browser, nick("finn", transport), transport)
    room = f"reads{secrets.token_hex(3)}"
    try:
        erin.join()
        erin.page.fill("#enter-input", room)
        erin.page.press("#enter-input", "Enter")
        expect(erin.page.locator("#conv-title")).to_have_text(f"#{room}")
        # Seen empty: the page stores a read position, so what comes next counts as unread.
        erin.page.wait_for_function(f"window.rabbitChat.rooms['{room}'] && window.rabbitChat.rooms['{room}'].readUpTo === 0")
        erin.open_room("lobby")

        finn.join()
        finn.page.fill("#enter-input", room)
        finn.page.press("#enter-input", "Enter")
        expect(finn.page.locator("#conv-title")).to_have_text(f"#{room}")
        texts = [f"unread {i} {secrets.token_hex(2)}" for i in range(3)]
        for text in texts:
            finn.say(text)
            expect(finn.message(text)).to_have_attribute("data-status", "sent")
        expect(room_badge(erin, room)).to_have_text("3")
        erin.shot("40-unread-before-reload")

        # A reload: the count comes back from the server's welcome.
        erin.page.reload()
        erin.wait_joined()
        expect(erin.page.locator("#conv-title")).to_have_text("#lobby")
        expect(room_badge(erin, room)).to_have_text("3")
        erin.shot("41-unread-after-reload")

        # Opening the room: the line sits above the first unread message, and the room is read.
        erin.open_room(room)
        line = erin.page.locator(f'#messages .conv-pane[data-conv="#{room}"] .new-line')
        expect(line).to_have_count(1)
        expect(line).to_have_text("New messages")
        first = erin.message(texts[0])
        expect(first).to_have_count(1)
        assert erin.page.evaluate(
            "([room, text]) => { const pane = document.querySelector(`#messages .conv-pane[data-conv=\"#${room}\"]`);"
            " const kids = [...pane.children]; const line = kids.findIndex((k) => k.classList.contains('new-line'));"
            " return kids[line + 1].textContent.includes(text); }",
            [room, texts[0]])
        expect(room_badge(erin, room)).to_have_count(0)
        newest = erin.page.evaluate(
            f"Number(document.querySelector('#messages .conv-pane[data-conv=\"#{room}\"] .msg:last-child').dataset.seq)")
        erin.page.wait_for_function(f"window.rabbitChat.rooms['{room}'].readUpTo === {newest}")
        erin.shot("42-new-messages-line")

        # A session's frames run in order: once erin's answer comes, her read before it is stored.
        reply = f"read them {secrets.token_hex(2)}"
        erin.say(reply)
        expect(erin.message(reply)).to_have_attribute("data-status", "sent")
        # Back in the lobby, reload: the read position was stored, so no count comes back (her own
        # message does not count), and a new message of finn's counts one.
        erin.open_room("lobby")
        erin.page.reload()
        erin.wait_joined()
        erin.page.wait_for_function(f"window.rabbitChat.rooms['{room}'] && window.rabbitChat.rooms['{room}'].readUpTo >= {newest}")
        expect(room_badge(erin, room)).to_have_count(0)
        later = f"later {secrets.token_hex(2)}"
        finn.say(later)
        expect(room_badge(erin, room)).to_have_text("1")
        erin.shot("43-read-stored")
        assert erin.errors == [] and finn.errors == []
    finally:
        erin.close()
        finn.close()

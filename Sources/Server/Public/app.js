// rabbitChat page: the chat protocol of Specs/chat-protocol.md over SockJS at /chat.
// Plain JavaScript, no build step. Message data only ever reaches the DOM through textContent.
(function () {
  "use strict";

  const NAME_RE = /^[A-Za-z0-9_.-]{1,32}$/;
  const MAX_TEXT = 4000;
  const ACK_DELAY_MS = 150;
  const ACK_BATCH = 100;
  const TYPING_SEND_EVERY_MS = 2500;
  const TYPING_SHOW_MS = 4000;
  const HISTORY_PAGE = 50;
  const DM_KEEP = 200;
  const BACKOFF_BASE_MS = 500;
  const BACKOFF_MAX_MS = 30000;
  const RETRY_UNAVAILABLE_MS = 2000;
  const RETRY_RATE_LIMITED_MS = 1200;
  // How much earlier than a placeholder's creation (by this browser's clock) the server's stamp of
  // a message may be and still be that placeholder's message: clocks differ; the dedup window is 10 min.
  const ADOPT_SKEW_MS = 10 * 60 * 1000;

  // ---------------------------------------------------------------- storage
  const store = {
    get(key, fallback) {
      try {
        const raw = localStorage.getItem("rabbitChat." + key);
        return raw === null ? fallback : JSON.parse(raw);
      } catch (_) { return fallback; }
    },
    set(key, value) {
      try { localStorage.setItem("rabbitChat." + key, JSON.stringify(value)); } catch (_) { /* full or disabled: keep going in memory */ }
    },
    remove(key) { try { localStorage.removeItem("rabbitChat." + key); } catch (_) { /* ignore */ } },
  };

  // ---------------------------------------------------------------- tiny DOM helpers
  const $ = (id) => document.getElementById(id);
  function el(tag, props, children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "text") node.textContent = v;
        else if (k === "className") node.className = v;
        else if (k === "dataset") Object.assign(node.dataset, v);
        else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? "" : String(v));
      }
    }
    if (children) for (const c of children) if (c) node.append(c);
    return node;
  }

  function colorFor(nick) {
    let h = 0;
    for (let i = 0; i < nick.length; i++) h = (h * 31 + nick.charCodeAt(i)) >>> 0;
    return "hsl(" + (h % 360) + " 55% 48%)";
  }
  function avatar(nick, small) {
    const a = el("span", { className: small ? "avatar small" : "avatar", text: nick.slice(0, 1), "aria-hidden": "true" });
    a.style.background = colorFor(nick);
    return a;
  }
  function timeOf(ts) {
    const d = new Date(ts);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  function fullTime(ts) { return new Date(ts).toLocaleString(); }

  // Text with http(s) links made clickable; every piece goes in as a text node.
  const URL_RE = /\bhttps?:\/\/[^\s<>"']+/g;
  function richText(text) {
    const frag = document.createDocumentFragment();
    let last = 0;
    for (const m of text.matchAll(URL_RE)) {
      if (m.index > last) frag.append(document.createTextNode(text.slice(last, m.index)));
      const a = el("a", { href: m[0], target: "_blank", rel: "noopener noreferrer nofollow", text: m[0] });
      frag.append(a);
      last = m.index + m[0].length;
    }
    if (last < text.length) frag.append(document.createTextNode(text.slice(last)));
    return frag;
  }
  function scalarLength(s) { let n = 0; for (const _ of s) n++; return n; }
  function newId() {
    const r = new Uint8Array(8);
    crypto.getRandomValues(r);
    return "c" + Date.now().toString(36) + Array.from(r, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ---------------------------------------------------------------- state
  const params = new URLSearchParams(location.search);
  const forcedTransports = (params.get("transport") || "").split(",").map((s) => s.trim()).filter(Boolean);

  const state = {
    me: null,              // our nick once chosen
    token: null,
    joined: false,         // welcome received on the current connection
    sock: null,
    transport: "",
    attempt: 0,            // reconnect attempt, for the backoff
    reconnectTimer: null,
    reconnectAt: 0,
    stopped: false,        // replaced or signed out: no automatic reconnect
    users: new Map(),      // nick -> online
    knownRooms: new Set(), // rooms with history anywhere
    entered: [],           // rooms this session is in, in display order
    convs: new Map(),      // key -> conversation
    active: null,          // key of the shown conversation
    outbox: [],            // unconfirmed say/tell frames, resent with the same id after a reconnect
    adopted: new Map(),    // client id -> msgId its placeholder became before its `sent` came
    ackQueue: [],
    ackTimer: null,
    typingSentAt: 0,
    typingTarget: null,
    retryTimer: null,
  };

  // A conversation is a room ("#name") or a private one ("@nick").
  function convKey(kind, name) { return (kind === "room" ? "#" : "@") + name; }
  function getConv(key) {
    let c = state.convs.get(key);
    if (!c) {
      const kind = key[0] === "#" ? "room" : "dm";
      c = {
        key, kind, name: key.slice(1),
        items: new Map(),      // msgId or "pending:"+id -> element
        seen: new Set(),       // msgIds shown
        oldestSeq: null,
        hasMore: kind === "room",
        loadingHistory: false,
        unread: 0,
        typing: new Map(),     // nick -> expiry
        pane: null,
        lastFrom: null, lastTs: 0,
      };
      state.convs.set(key, c);
    }
    return c;
  }

  // ---------------------------------------------------------------- persistence per nick
  // Every table keyed by a nick or a room is a Map: a nick such as `__proto__` or `constructor`
  // is then a key like any other (on a plain object it would reach Object.prototype). Stored as
  // JSON objects (own properties only, made by Object.fromEntries and read by Object.entries).
  function loadMap(key) {
    const v = store.get(key, null);
    return new Map(v && typeof v === "object" && !Array.isArray(v) ? Object.entries(v) : []);
  }
  function saveMap(key, map) { store.set(key, Object.fromEntries(map)); }
  function tokens() { return loadMap("tokens"); }
  function saveToken(nick, token) { const t = tokens(); t.set(nick, token); saveMap("tokens", t); }
  function forgetToken(nick) { const t = tokens(); t.delete(nick); saveMap("tokens", t); }
  // Sign-out: this browser forgets everything it kept for `nick` (its token, join nonce, private
  // messages, unsent messages, rooms); another nick's data stays.
  function forgetNick(nick) {
    forgetToken(nick);
    const nonces = loadMap("nonces");
    nonces.delete(nick);
    saveMap("nonces", nonces);
    for (const key of ["dms.", "outbox.", "rooms.", "active."]) store.remove(key + nick);
  }
  // The nonce of our tokenless joins of a nick, the same on every retry (and after a reload), so a
  // join answered `unavailable` whose claim still won is answered with the token next time.
  function joinNonce(nick) {
    const all = loadMap("nonces");
    if (!all.has(nick)) {
      const r = new Uint8Array(16);
      crypto.getRandomValues(r);
      all.set(nick, Array.from(r, (b) => b.toString(16).padStart(2, "0")).join(""));
      saveMap("nonces", all);
    }
    return all.get(nick);
  }
  function saveOutbox() { store.set("outbox." + state.me, state.outbox); }
  function saveRooms() { store.set("rooms." + state.me, state.entered); }
  function dmArchive() { return loadMap("dms." + state.me); }
  function archiveDM(peer, msg) {
    const all = dmArchive();
    const list = all.get(peer) || [];
    const i = list.findIndex((m) => m.msgId === msg.msgId);
    if (i >= 0) list[i] = Object.assign(list[i], msg); else list.push(msg);
    if (list.length > DM_KEEP) list.splice(0, list.length - DM_KEEP);
    all.set(peer, list);
    saveMap("dms." + state.me, all);
  }
  function updateArchivedStatus(msgId, status) {
    const all = dmArchive();
    for (const list of all.values()) {
      for (const m of list) if (m.msgId === msgId) { m.status = status; saveMap("dms." + state.me, all); return; }
    }
  }

  // ---------------------------------------------------------------- connection
  function setConn(stateName, text) {
    const conn = $("conn");
    conn.dataset.state = stateName;
    $("conn-text").textContent = text;
    $("transport").textContent = stateName === "connected" ? state.transport : "";
    $("retry-button").hidden = !(stateName === "reconnecting" || stateName === "offline");
    $("login-conn").textContent = stateName === "connected" ? "" : text;
    document.body.dataset.conn = stateName;
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    if (state.sock) return;
    state.joined = false;
    setConn("connecting", state.attempt === 0 ? "Connecting…" : "Reconnecting…");
    const options = forcedTransports.length ? { transports: forcedTransports } : {};
    let sock;
    try {
      sock = new SockJS(location.origin + "/chat", null, options);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.sock = sock;
    sock.onopen = () => {
      if (state.sock !== sock) return;
      state.transport = sock.transport || "";
      setConn("connected", "Connected");
      document.body.dataset.transport = state.transport;
      if (state.me) sendJoin();
    };
    sock.onmessage = (e) => {
      if (state.sock !== sock) return;
      let frame;
      try { frame = JSON.parse(e.data); } catch (_) { return; }
      if (frame && typeof frame.type === "string") handleFrame(frame);
    };
    sock.onclose = (e) => {
      if (state.sock !== sock) return;
      state.sock = null;
      state.joined = false;
      clearTimeout(state.ackTimer); state.ackTimer = null;
      if (state.me && !$("app").hidden) renderSidebar(); // our own dot goes grey while away
      if (e.code === 4001) { onReplaced(); return; }
      // Closed for not joining in time (4004): connect again when someone signs in.
      if (e.code === 4004 && !state.me) { setConn("offline", "Idle: sign in to connect"); return; }
      if (state.stopped) { setConn("offline", "Signed out"); return; }
      scheduleReconnect(e.code === 3000 ? "The server is restarting" : null);
    };
  }

  // Exponential backoff with full jitter between half and all of the step, capped.
  function scheduleReconnect(reason) {
    const step = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * Math.pow(2, state.attempt));
    const delay = Math.round(step / 2 + Math.random() * step / 2);
    state.attempt++;
    state.reconnectAt = Date.now() + delay;
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = setTimeout(connect, delay);
    updateCountdown(reason);
  }
  function updateCountdown(reason) {
    if (!state.reconnectTimer) return;
    const secs = Math.max(0, Math.ceil((state.reconnectAt - Date.now()) / 1000));
    setConn("reconnecting", (reason ? reason + ": " : "Disconnected: ") + "retrying in " + secs + " s");
    setTimeout(() => { if (state.reconnectTimer && !state.sock) updateCountdown(reason); }, 500);
  }
  function reconnectNow() {
    if (state.sock) return;
    state.stopped = false;
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    connect();
  }

  function send(frame) {
    if (!state.sock || state.sock.readyState !== 1) return false;
    state.sock.send(JSON.stringify(frame));
    return true;
  }

  function sendJoin() {
    const frame = { type: "join", nick: state.me };
    const token = tokens().get(state.me);
    if (token) frame.token = token;
    else frame.nonce = joinNonce(state.me);
    const rooms = store.get("rooms." + state.me, ["lobby"]);
    frame.rooms = rooms.length ? rooms : ["lobby"];
    send(frame);
  }

  // ---------------------------------------------------------------- acks
  function queueAck(msgId) {
    state.ackQueue.push(msgId);
    if (state.ackQueue.length >= ACK_BATCH) flushAcks();
    else if (!state.ackTimer) state.ackTimer = setTimeout(flushAcks, ACK_DELAY_MS);
  }
  function flushAcks() {
    clearTimeout(state.ackTimer);
    state.ackTimer = null;
    while (state.ackQueue.length) {
      const batch = state.ackQueue.slice(0, ACK_BATCH);
      if (!send({ type: "ack", msgIds: batch })) return; // sent again on the next connection's deliveries
      state.ackQueue.splice(0, batch.length);
    }
  }

  // ---------------------------------------------------------------- inbound frames
  function handleFrame(f) {
    switch (f.type) {
      case "welcome": onWelcome(f); break;
      case "entered": onEntered(f.room, f.history || []); break;
      case "left": onLeft(f.room); break;
      case "message": onMessage(f, true); break;
      case "sent": onSent(f); break;
      case "delivered": onDelivered(f); break;
      case "presence": onPresence(f); break;
      case "typing": onTyping(f); break;
      case "history": onHistory(f); break;
      case "error": onError(f); break;
      case "users": onUsers(f); break;
      default: break; // unknown frames are ignored, as the protocol allows
    }
  }

  function onWelcome(f) {
    const firstTime = !state.joined && $("app").hidden;
    state.joined = true;
    state.attempt = 0;
    state.me = f.nick;
    state.token = f.token;
    saveToken(f.nick, f.token);
    store.set("nick", f.nick);
    state.users.clear();
    for (const u of f.users || []) state.users.set(u.nick, !!u.online);
    state.users.set(state.me, true);
    for (const r of f.rooms || []) state.knownRooms.add(r);
    state.entered = [];
    for (const r of f.entered || []) { state.entered.push(r); state.knownRooms.add(r); }
    saveRooms();
    showApp();
    if (firstTime) restoreArchive();
    const history = new Map(Object.entries(f.history || {}));
    for (const room of state.entered) {
      const c = getConv(convKey("room", room));
      addHistory(c, history.get(room) || [], false);
    }
    if (!state.active || !state.convs.has(state.active) ||
        (state.active[0] === "#" && !state.entered.includes(state.active.slice(1)))) {
      const preferred = store.get("active." + state.me, null);
      const ok = preferred && (preferred[0] === "@" || state.entered.includes(preferred.slice(1)));
      if (ok) activate(preferred);
      else if (state.entered.length) activate(convKey("room", state.entered[0]));
      else showNoConversation();
    } else {
      renderHeader();
    }
    renderSidebar();
    setConn("connected", "Connected");
    // Resend every message the server has not confirmed, with its original id: the server
    // answers a retry inside its dedup window with `sent` and the same msgId.
    for (const m of state.outbox) send(m.frame);
    flushAcks();
  }

  function onEntered(room, history) {
    if (!state.entered.includes(room)) state.entered.push(room);
    state.knownRooms.add(room);
    saveRooms();
    const c = getConv(convKey("room", room));
    addHistory(c, history, false);
    renderSidebar();
    activate(c.key);
  }

  function onLeft(room) {
    state.entered = state.entered.filter((r) => r !== room);
    saveRooms();
    const key = convKey("room", room);
    const c = state.convs.get(key);
    if (c && c.pane) c.pane.remove();
    state.convs.delete(key);
    if (state.active === key) {
      if (state.entered.length) activate(convKey("room", state.entered[0])); else showNoConversation();
    }
    renderSidebar();
  }

  // Left every room and no private conversation open: say what to do instead of an empty pane.
  function showNoConversation() {
    state.active = null;
    store.remove("active." + state.me);
    $("messages").replaceChildren(el("p", { className: "empty-conv",
      text: "You are in no room now. Join one on the left, or pick someone to talk to privately." }));
    $("conv-title").textContent = "rabbitChat";
    $("conv-subtitle").textContent = "";
    $("leave-button").hidden = true;
    $("typing").textContent = "";
    $("composer-input").disabled = true;
    $("composer-input").placeholder = "Pick a room or a person first";
  }

  function convOfMessage(m) {
    if (m.room !== undefined && m.room !== null) return getConv(convKey("room", m.room));
    const peer = m.from === state.me ? m.to : m.from;
    return getConv(convKey("dm", peer));
  }

  function onMessage(m, live) {
    if (typeof m.msgId !== "string" && typeof m.msgId !== "number") return;
    const msgId = String(m.msgId);
    // Private messages are acked (duplicates too: the server keeps them queued until acked);
    // acking a public one would do nothing but spend the session's frame budget.
    if (live && m.to !== undefined && m.to !== null) queueAck(m.msgId);
    const c = convOfMessage(m);
    if (c.seen.has(msgId)) {
      const node = c.items.get(msgId);
      if (node && m.seq !== undefined && m.seq !== null && !node.dataset.seq) node.dataset.seq = String(m.seq);
      return;
    }
    const mine = m.from === state.me;
    let status = null;
    if (mine) status = "sent";
    // (A private one is archived when its `sent` comes, so a reload before that shows the placeholder.)
    if (mine && adoptPending(c, m, msgId)) return;
    appendMessage(c, { msgId, from: m.from, text: m.text, ts: m.ts, seq: m.seq, status }, false);
    if (c.kind === "dm") archiveDM(c.name, { msgId, from: m.from, to: m.to, text: m.text, ts: m.ts, status });
    if (c.kind === "dm" && m.from !== state.me) clearTyping(c, m.from);
    if (c.kind === "room") clearTyping(c, m.from);
    if (live && !mine) bumpUnread(c);
  }

  // Our own message came back (live from the room, a copy to our other tabs, or in the history
  // of a re-join) before the `sent` of its id: it takes the place of the oldest of our
  // placeholders in that conversation with the same text (a sender's messages arrive in the order
  // sent), so it never shows twice. The guess is checked when `sent` names the real msgId.
  function adoptPending(c, m, msgId) {
    if (!c.pane) return false;
    for (const node of c.pane.querySelectorAll(".msg[data-pending]")) {
      const id = node.dataset.pending;
      const entry = state.outbox.find((e) => e.frame.id === id);
      if (!entry || entry.frame.text !== m.text) continue;
      if (typeof m.ts === "number" && typeof entry.createdAt === "number" && m.ts < entry.createdAt - ADOPT_SKEW_MS) continue;
      state.adopted.set(id, msgId);
      settlePlaceholder(c, node, id, msgId, m.ts, m.seq);
      return true;
    }
    return false;
  }

  // The placeholder of client id `id` becomes the element of `msgId` (one element per msgId).
  function settlePlaceholder(c, node, id, msgId, ts, seq) {
    c.items.delete("pending:" + id);
    delete node.dataset.pending;
    c.items.set(msgId, node);
    c.seen.add(msgId);
    node.dataset.msgid = msgId;
    if (ts !== undefined && ts !== null) {
      node.dataset.ts = String(ts);
      node.querySelector(".msg-time").textContent = timeOf(ts);
    }
    if (seq !== undefined && seq !== null) {
      node.dataset.seq = String(seq);
      if (c.oldestSeq === null || seq < c.oldestSeq) c.oldestSeq = seq;
    }
    if (node.dataset.status !== "delivered") setStatus(node, "sent");
    renderHistoryEdge(c);
  }

  // The placeholder element of client id `id`, wherever it is.
  function findPlaceholder(id) {
    for (const c of state.convs.values()) {
      const node = c.items.get("pending:" + id);
      if (node) return { c, node };
    }
    return null;
  }

  // `sent` may come before or after the message itself (echo, copy or history), once or several
  // times (an answer to each retry), before or after a reload: whatever the order, the id ends
  // with exactly one element, the one of its msgId.
  function onSent(f) {
    const msgId = String(f.msgId);
    const i = state.outbox.findIndex((m) => m.frame.id === f.id);
    const entry = i >= 0 ? state.outbox.splice(i, 1)[0] : null;
    if (entry) saveOutbox();
    const frame = entry ? entry.frame : null;
    const home = frame ? getConv(frame.type === "say" ? convKey("room", frame.room) : convKey("dm", frame.to)) : null;
    const found = findPlaceholder(f.id);
    const guessed = state.adopted.get(f.id);
    state.adopted.delete(f.id);
    let c = found ? found.c : home;
    if (found) {
      if (c.seen.has(msgId)) {
        // The message itself is shown already: the placeholder goes.
        found.node.remove();
        c.items.delete("pending:" + f.id);
      } else {
        settlePlaceholder(c, found.node, f.id, msgId, f.ts, undefined);
      }
    } else if (guessed !== undefined && guessed !== msgId && home && !home.seen.has(msgId)) {
      // The placeholder was taken by another message with the same text: this one gets its own element.
      appendMessage(home, { msgId, from: state.me, text: frame.text, ts: f.ts, status: "sent" }, false);
    }
    const node = findMessageElement(msgId);
    if (node && node.dataset.status !== "delivered") setStatus(node, "sent");
    if (c) renderHistoryEdge(c);
    if (frame && frame.type === "tell") {
      archiveDM(frame.to, { msgId, from: state.me, to: frame.to, text: frame.text, ts: f.ts, status: "sent" });
    }
  }

  function onDelivered(f) {
    // Receipts are acked like private messages; one not acked comes again on the next join.
    queueAck(f.msgId);
    const msgId = String(f.msgId);
    updateArchivedStatus(msgId, "delivered");
    const node = findMessageElement(msgId);
    if (node) setStatus(node, "delivered");
  }

  // One frame carries every change since the previous one: nicks now online, nicks now offline.
  function onPresence(f) {
    for (const nick of f.online || []) state.users.set(nick, true);
    for (const nick of f.offline || []) {
      if (nick === state.me && state.joined) continue; // our own older session going away
      state.users.set(nick, false);
    }
    renderSidebar();
    renderHeader();
  }

  function onTyping(f) {
    if (f.from === state.me) return;
    const c = f.room ? state.convs.get(convKey("room", f.room)) : getConv(convKey("dm", f.from));
    if (!c) return;
    c.typing.set(f.from, Date.now() + TYPING_SHOW_MS);
    renderTyping();
    setTimeout(renderTyping, TYPING_SHOW_MS + 50);
  }
  function clearTyping(c, nick) { if (c.typing.delete(nick)) renderTyping(); }

  function onHistory(f) {
    const c = state.convs.get(convKey("room", f.room));
    if (!c) return;
    c.loadingHistory = false;
    const msgs = f.messages || [];
    if (msgs.length < HISTORY_PAGE) c.hasMore = false;
    addHistory(c, msgs, true);
  }

  function onError(f) {
    const code = f.code;
    if (f.id !== undefined) {
      const i = state.outbox.findIndex((m) => m.frame.id === f.id);
      if (i >= 0) {
        const entry = state.outbox[i];
        if (code === "unavailable" || code === "rate_limited") {
          // Not accepted; kept in the outbox and sent again with the same id.
          if (code === "unavailable") toast("The chat cannot store messages right now; retrying…");
          scheduleOutboxRetry(code === "unavailable" ? RETRY_UNAVAILABLE_MS : RETRY_RATE_LIMITED_MS);
          return;
        }
        state.outbox.splice(i, 1);
        saveOutbox();
        state.adopted.delete(entry.frame.id);
        const c = entry.frame.type === "say" ? getConv(convKey("room", entry.frame.room)) : getConv(convKey("dm", entry.frame.to));
        const node = c.items.get("pending:" + entry.frame.id);
        if (node) {
          setStatus(node, "failed");
          node.querySelector(".msg-meta").prepend(el("span", { className: "msg-error", text: f.message || code }));
        }
        toast(f.message || "The message was not sent.");
        return;
      }
    }
    switch (code) {
      case "auth_failed":
        forgetToken(state.me);
        signOut("That nick is taken. Pick another one, or come back from the browser that claimed it.");
        break;
      case "invalid_nick":
        signOut(f.message || "That nick is not valid.");
        break;
      case "replaced":
        onReplaced();
        break;
      case "not_joined":
        if (state.me) sendJoin();
        break;
      case "invalid_room":
        showEnterError(f.message || "That room name is not valid.");
        break;
      case "unavailable":
        // A join refused for now (the broker is down or the nick's inbox is still held elsewhere):
        // try again shortly on this same connection.
        if (!state.joined && state.me) {
          setConn("connecting", "The chat is busy; joining again…");
          setTimeout(() => { if (!state.joined && state.me && state.sock) sendJoin(); }, 1000 + Math.random() * 1000);
        } else {
          toast(f.message || "The chat cannot take that right now; try again.");
        }
        break;
      case "rate_limited":
        break; // an ack or typing frame over the rate: the next one goes through
      default:
        toast(f.message || ("Error: " + code));
    }
  }

  function onReplaced() {
    state.stopped = true;
    state.joined = false;
    if (state.me && !$("app").hidden) renderSidebar();
    if (state.sock) { const s = state.sock; state.sock = null; s.close(); }
    clearTimeout(state.reconnectTimer); state.reconnectTimer = null;
    setConn("replaced", "Opened elsewhere");
    showNotice("You opened this chat as " + state.me + " in another window, so this one was disconnected.",
      "Use it here", () => { hideNotice(); reconnectNow(); });
  }

  function scheduleOutboxRetry(ms) {
    if (state.retryTimer) return;
    state.retryTimer = setTimeout(() => {
      state.retryTimer = null;
      if (!state.joined) return; // the next welcome resends them all
      for (const m of state.outbox) send(m.frame);
    }, ms);
  }

  // ---------------------------------------------------------------- outbound actions
  function sendText(text) {
    const c = state.convs.get(state.active);
    if (!c) return;
    const id = newId();
    const frame = c.kind === "room" ? { type: "say", id, room: c.name, text } : { type: "tell", id, to: c.name, text };
    state.outbox.push({ frame, createdAt: Date.now() });
    saveOutbox();
    appendMessage(c, { pendingId: id, from: state.me, text, ts: Date.now(), status: "pending" }, false);
    scrollToBottom(true);
    if (state.joined) send(frame);
    state.typingSentAt = 0;
  }

  function sendTyping() {
    const c = state.convs.get(state.active);
    if (!c || !state.joined) return;
    const now = Date.now();
    if (now - state.typingSentAt < TYPING_SEND_EVERY_MS && state.typingTarget === c.key) return;
    state.typingSentAt = now;
    state.typingTarget = c.key;
    send(c.kind === "room" ? { type: "typing", room: c.name } : { type: "typing", to: c.name });
  }

  function enterRoom(name) {
    if (!NAME_RE.test(name)) { showEnterError("Room names use letters, digits, _ . - (up to 32)."); return; }
    $("enter-error").hidden = true;
    const key = convKey("room", name);
    if (state.entered.includes(name)) { activate(key); return; }
    if (!send({ type: "enter", room: name })) toast("Not connected; try again once the chat is back.");
  }

  function loadOlder(c) {
    if (!c || c.kind !== "room" || !c.hasMore || c.loadingHistory || !state.joined) return;
    const frame = { type: "history", room: c.name, limit: HISTORY_PAGE };
    if (c.oldestSeq !== null) frame.before = c.oldestSeq;
    c.loadingHistory = true;
    renderHistoryEdge(c);
    if (!send(frame)) c.loadingHistory = false;
  }

  // ---------------------------------------------------------------- rendering messages
  function ensurePane(c) {
    if (c.pane) return c.pane;
    const pane = el("div", { className: "conv-pane", dataset: { conv: c.key } });
    pane.append(el("div", { className: "history-edge" }));
    c.pane = pane;
    renderHistoryEdge(c);
    return pane;
  }

  function renderHistoryEdge(c) {
    const edge = ensurePane(c).querySelector(".history-edge");
    edge.replaceChildren();
    if (c.kind === "dm") {
      edge.append(document.createTextNode(
        c.name === state.me ? "Notes to yourself. Only you can see them." :
          "Private conversation with " + c.name + ". Only the two of you can see it."));
    } else if (c.loadingHistory) {
      edge.append(document.createTextNode("Loading earlier messages…"));
    } else if (c.hasMore && c.seen.size > 0) {
      edge.append(el("button", { type: "button", className: "link-button load-older", text: "Load earlier messages", onclick: () => loadOlder(c) }));
    } else {
      edge.append(document.createTextNode(c.seen.size ? "This is the beginning of #" + c.name + "." : "No messages in #" + c.name + " yet. Say hello!"));
    }
  }

  function messageElement(c, m) {
    const mine = m.from === state.me;
    const node = el("div", {
      className: "msg" + (mine ? " mine" : ""),
      dataset: { from: m.from, ts: String(m.ts) },
    });
    if (m.msgId) node.dataset.msgid = m.msgId;
    if (m.pendingId) node.dataset.pending = m.pendingId;
    if (m.seq !== undefined && m.seq !== null) node.dataset.seq = String(m.seq);
    const text = el("div", { className: "msg-text" });
    text.append(richText(String(m.text)));
    const head = el("div", { className: "msg-head" }, [
      el("span", { className: "msg-from", text: m.from }),
      el("time", { className: "msg-time", text: timeOf(m.ts), title: fullTime(m.ts) }),
    ]);
    const body = el("div", { className: "msg-body" }, [head, text]);
    if (mine) {
      const meta = el("div", { className: "msg-meta" }, [
        el("span", { className: "tick-label" }), el("span", { className: "tick", "aria-label": "" })]);
      body.append(meta);
      setStatus(node, m.status || "sent", meta.lastChild, c.kind === "room");
    }
    node.append(avatar(m.from), body);
    return node;
  }

  function setStatus(node, status, tickNode, inRoom) {
    node.dataset.status = status;
    const tick = tickNode || node.querySelector(".tick");
    if (!tick) return;
    const conv = node.closest(".conv-pane");
    const isRoom = inRoom !== undefined ? inRoom : (conv ? conv.dataset.conv[0] === "#" : false);
    const labels = {
      pending: ["\u25F7", "Sending…"],
      sent: ["\u2713", isRoom ? "Sent" : "Sent, not yet read"],
      delivered: ["\u2713\u2713", "Delivered"],
      failed: ["!", "Not sent"],
    };
    const [glyph, label] = labels[status] || labels.sent;
    tick.textContent = glyph;
    tick.title = label;
    const text = tick.previousElementSibling;
    if (text && text.classList.contains("tick-label")) {
      text.textContent = status === "pending" ? "Sending…" : status === "failed" ? "Not sent" :
        isRoom ? "" : status === "delivered" ? "Delivered" : "Sent";
    }
    tick.setAttribute("aria-label", label);
  }

  function markContinuation(node, prev) {
    if (!prev || !prev.classList || !prev.classList.contains("msg")) { node.classList.remove("continued"); return; }
    const same = prev.dataset.from === node.dataset.from &&
      Math.abs(Number(node.dataset.ts) - Number(prev.dataset.ts)) < 5 * 60 * 1000;
    node.classList.toggle("continued", same);
  }

  function appendMessage(c, m, quiet) {
    const pane = ensurePane(c);
    // One element per msgId and per placeholder id, whichever path shows it again.
    const existing = c.items.get(m.msgId || "pending:" + m.pendingId);
    if (existing) return existing;
    const stick = state.active === c.key && isNearBottom();
    const node = messageElement(c, m);
    const key = m.msgId || "pending:" + m.pendingId;
    if (m.msgId) c.seen.add(m.msgId);
    c.items.set(key, node);
    if (m.seq !== undefined && m.seq !== null && (c.oldestSeq === null || m.seq < c.oldestSeq)) c.oldestSeq = m.seq;
    // Public messages keep their room order by seq; anything else goes at the end.
    let before = null;
    if (m.seq !== undefined && m.seq !== null) {
      const last = pane.lastElementChild;
      if (last && last.dataset.seq && Number(last.dataset.seq) > m.seq) {
        for (const child of pane.children) {
          if (child.dataset.seq && Number(child.dataset.seq) > m.seq) { before = child; break; }
        }
      }
    }
    if (!before) {
      // Keep our unconfirmed messages last so the conversation reads in order once they land.
      const firstPending = pane.querySelector(".msg[data-status=pending]");
      if (firstPending && !m.pendingId) before = firstPending;
    }
    pane.insertBefore(node, before);
    markContinuation(node, node.previousElementSibling);
    if (node.nextElementSibling) markContinuation(node.nextElementSibling, node);
    if (!quiet) renderHistoryEdge(c);
    if (stick) scrollToBottom(false);
    return node;
  }

  // History comes oldest first; `older` means it goes above what is shown.
  function addHistory(c, msgs, older) {
    const scroller = $("messages");
    const isActive = state.active === c.key;
    const prevHeight = scroller.scrollHeight;
    const prevTop = scroller.scrollTop;
    const pane = ensurePane(c);
    if (older) {
      const anchor = pane.querySelector(".msg");
      for (const m of msgs) {
        const msgId = String(m.msgId);
        if (c.seen.has(msgId)) continue;
        const node = messageElement(c, { msgId, from: m.from, text: m.text, ts: m.ts, seq: m.seq, status: m.from === state.me ? "sent" : null });
        c.seen.add(msgId);
        c.items.set(msgId, node);
        pane.insertBefore(node, anchor);
        markContinuation(node, node.previousElementSibling);
        if (m.seq !== undefined && (c.oldestSeq === null || m.seq < c.oldestSeq)) c.oldestSeq = m.seq;
      }
      if (anchor) markContinuation(anchor, anchor.previousElementSibling);
      if (isActive) scroller.scrollTop = prevTop + (scroller.scrollHeight - prevHeight);
    } else {
      for (const m of msgs) onMessage(m, false);
      if (msgs.length < HISTORY_PAGE) c.hasMore = false;
      if (isActive) scrollToBottom(false);
    }
    renderHistoryEdge(c);
  }

  function findMessageElement(msgId) {
    for (const c of state.convs.values()) {
      const node = c.items.get(msgId);
      if (node) return node;
    }
    return null;
  }

  function restoreArchive() {
    const all = dmArchive();
    for (const [peer, list] of all) {
      const c = getConv(convKey("dm", peer));
      for (const m of list) {
        if (c.seen.has(m.msgId)) continue;
        appendMessage(c, { msgId: m.msgId, from: m.from, text: m.text, ts: m.ts, status: m.from === state.me ? (m.status || "sent") : null }, true);
      }
      renderHistoryEdge(c);
    }
    // Messages typed before a reload that the server never confirmed: shown again and resent on welcome.
    state.outbox = store.get("outbox." + state.me, []);
    for (const entry of state.outbox) {
      const f = entry.frame;
      if (findPlaceholder(f.id)) continue;
      const c = f.type === "say" ? getConv(convKey("room", f.room)) : getConv(convKey("dm", f.to));
      appendMessage(c, { pendingId: f.id, from: state.me, text: f.text, ts: entry.createdAt, status: "pending" }, true);
    }
  }

  // ---------------------------------------------------------------- rendering chrome
  function showApp() {
    $("login").hidden = true;
    $("app").hidden = false;
    $("me-nick").textContent = state.me;
    const a = avatar(state.me, true);
    $("me-avatar").replaceWith(a);
    a.id = "me-avatar";
  }

  function activate(key) {
    const c = getConv(key);
    state.active = key;
    $("composer-input").disabled = false;
    store.set("active." + state.me, key);
    $("messages").replaceChildren(ensurePane(c));
    renderHistoryEdge(c);
    if (document.visibilityState !== "hidden") c.unread = 0;
    renderHeader();
    renderSidebar();
    renderTyping();
    scrollToBottom(false);
    closeMenu();
    if (window.matchMedia("(min-width: 761px)").matches) $("composer-input").focus();
  }

  function renderHeader() {
    const c = state.convs.get(state.active);
    if (!c) return;
    const title = $("conv-title");
    const sub = $("conv-subtitle");
    if (c.kind === "room") {
      title.textContent = "#" + c.name;
      sub.textContent = "Public room · everyone here sees your messages";
      $("leave-button").hidden = false;
      $("composer-input").placeholder = "Message #" + c.name;
    } else {
      title.textContent = c.name === state.me ? c.name + " (you)" : c.name;
      const online = state.users.get(c.name);
      sub.textContent = "Private · " + (online ? "online" : "offline: messages wait until they are back");
      $("leave-button").hidden = true;
      $("composer-input").placeholder = "Message " + c.name;
    }
    const total = [...state.convs.values()].reduce((n, x) => n + x.unread, 0);
    document.title = (total ? "(" + total + ") " : "") + "rabbitChat";
    const badge = $("menu-unread");
    badge.hidden = total === 0;
    badge.textContent = String(total);
  }

  function convButton(c, label, extra) {
    const btn = el("button", {
      type: "button", className: "conv-item" + (c && c.unread ? " unread" : "") + (extra.className ? " " + extra.className : ""),
      "aria-current": state.active === (c ? c.key : extra.key) ? "true" : "false",
      dataset: { conv: c ? c.key : extra.key },
      onclick: extra.onclick,
    }, [extra.icon, el("span", { className: "conv-name", text: label }), extra.suffix,
      c && c.unread ? el("span", { className: "badge", text: String(c.unread) }) : null]);
    return el("li", null, [btn]);
  }

  function renderSidebar() {
    const rooms = $("room-list");
    rooms.replaceChildren(...state.entered.map((r) => {
      const c = getConv(convKey("room", r));
      return convButton(c, r, { icon: el("span", { className: "hash", text: "#" }), onclick: () => activate(c.key) });
    }));
    const others = [...state.knownRooms].filter((r) => !state.entered.includes(r)).sort();
    $("other-rooms-wrap").hidden = others.length === 0;
    $("other-room-list").replaceChildren(...others.map((r) => convButton(null, r, {
      key: convKey("room", r), icon: el("span", { className: "hash", text: "#" }), onclick: () => enterRoom(r),
    })));

    const names = new Set(state.users.keys());
    for (const c of state.convs.values()) if (c.kind === "dm") names.add(c.name);
    const sorted = [...names].sort((a, b) => {
      if (a === state.me) return -1;
      if (b === state.me) return 1;
      const oa = state.users.get(a) ? 0 : 1, ob = state.users.get(b) ? 0 : 1;
      return oa - ob || a.localeCompare(b);
    });
    let onlineCount = 0;
    $("user-list").replaceChildren(...sorted.map((nick) => {
      const online = nick === state.me ? state.joined : !!state.users.get(nick);
      if (online) onlineCount++;
      const key = convKey("dm", nick);
      const c = state.convs.get(key) || null;
      return convButton(c, nick, {
        key, className: (online ? "online" : "offline"),
        icon: el("span", { className: "presence-dot" + (online ? " online" : ""), title: online ? "online" : "offline" }),
        suffix: nick === state.me ? el("span", { className: "you", text: "you" }) : null,
        onclick: () => activate(key),
      });
    }));
    for (const li of $("user-list").children) li.firstChild.dataset.nick = li.firstChild.dataset.conv.slice(1);
    $("online-count").textContent = onlineCount + " online";
  }

  function renderTyping() {
    const c = state.convs.get(state.active);
    const box = $("typing");
    if (!c) { box.textContent = ""; return; }
    const now = Date.now();
    for (const [nick, until] of c.typing) if (until <= now) c.typing.delete(nick);
    const who = [...c.typing.keys()];
    box.textContent = who.length === 0 ? "" :
      who.length === 1 ? who[0] + " is typing…" :
        who.length <= 3 ? who.join(", ") + " are typing…" : "Several people are typing…";
  }

  function bumpUnread(c) {
    if (state.active === c.key && document.visibilityState !== "hidden") return;
    c.unread++;
    renderSidebar();
    renderHeader();
  }

  function isNearBottom() {
    const s = $("messages");
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }
  function scrollToBottom(smooth) {
    const s = $("messages");
    s.scrollTo({ top: s.scrollHeight, behavior: smooth ? "smooth" : "auto" });
  }

  let toastTimer = null;
  function toast(text) {
    const t = $("toast");
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
  }
  function showNotice(text, actionLabel, action) {
    $("notice-text").textContent = text;
    const btn = $("notice-action");
    btn.hidden = !actionLabel;
    btn.textContent = actionLabel || "";
    btn.onclick = action || null;
    $("notice").hidden = false;
  }
  function hideNotice() { $("notice").hidden = true; }
  function showEnterError(text) { const e = $("enter-error"); e.textContent = text; e.hidden = false; }

  function openMenu() { $("app").classList.add("menu-open"); $("menu-button").setAttribute("aria-expanded", "true"); }
  function closeMenu() { $("app").classList.remove("menu-open"); $("menu-button").setAttribute("aria-expanded", "false"); }

  // ---------------------------------------------------------------- sign in / out
  function showLogin(message) {
    $("app").hidden = true;
    $("login").hidden = false;
    const err = $("login-error");
    err.hidden = !message;
    err.textContent = message || "";
    const input = $("nick-input");
    input.value = state.me || store.get("nick", "") || "";
    input.focus();
    input.select();
  }

  function signOut(message, forget) {
    if (forget && state.me) forgetNick(state.me);
    store.remove("nick");
    state.me = null;
    state.joined = false;
    state.convs.clear();
    state.entered = [];
    state.active = null;
    state.outbox = [];
    state.adopted.clear();
    $("messages").replaceChildren();
    showLogin(message);
    // A fresh connection lets the next nick join cleanly.
    if (state.sock) { const s = state.sock; state.sock = null; s.close(); }
    state.stopped = false;
    state.attempt = 0;
    connect();
  }

  // ---------------------------------------------------------------- find someone (`users`)
  // The welcome lists the online and most recently seen nicks only (at most 500); this field
  // asks the server for the others by prefix, and the answer joins the sidebar's list.
  function wireUserSearch() {
    const list = $("user-list");
    if (!list || $("user-search")) return;
    const input = el("input", { id: "user-search", type: "search", className: "user-search",
      placeholder: "Find someone…", maxlength: 32, autocomplete: "off", "aria-label": "Find someone by nick" });
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const prefix = input.value.trim();
        if (prefix && /^[A-Za-z0-9_.-]{1,32}$/.test(prefix)) send({ type: "users", prefix, limit: 20 });
      }, 250);
    });
    list.before(input);
  }
  function onUsers(f) {
    for (const u of f.users || []) if (!state.users.has(u.nick)) state.users.set(u.nick, !!u.online);
    renderSidebar();
  }

  // ---------------------------------------------------------------- wiring
  function wire() {
    wireUserSearch();
    $("login-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const nick = $("nick-input").value.trim();
      if (!NAME_RE.test(nick)) {
        const err = $("login-error");
        err.textContent = "Use 1 to 32 letters, digits, _ . or -.";
        err.hidden = false;
        return;
      }
      $("login-error").hidden = true;
      state.me = nick;
      store.set("nick", nick);
      if (state.joined) return;
      if (state.sock && state.sock.readyState === 1) sendJoin(); else reconnectNow();
    });

    const input = $("composer-input");
    const autoGrow = () => { input.style.height = "auto"; input.style.height = Math.min(input.scrollHeight, window.innerHeight * 0.4) + "px"; };
    input.addEventListener("input", () => {
      autoGrow();
      const n = scalarLength(input.value);
      const counter = $("char-count");
      counter.hidden = n < MAX_TEXT - 400;
      counter.textContent = n + " / " + MAX_TEXT;
      counter.classList.toggle("over", n > MAX_TEXT);
      if (input.value.trim()) sendTyping();
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("composer").requestSubmit(); }
    });
    $("composer").addEventListener("submit", (e) => {
      e.preventDefault();
      const text = input.value;
      if (!text.trim()) return;
      if (scalarLength(text) > MAX_TEXT) { toast("Messages can be at most " + MAX_TEXT + " characters."); return; }
      sendText(text);
      input.value = "";
      autoGrow();
      $("char-count").hidden = true;
    });

    $("enter-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const name = $("enter-input").value.trim().replace(/^#/, "");
      if (!name) return;
      enterRoom(name);
      $("enter-input").value = "";
    });
    $("leave-button").addEventListener("click", () => {
      const c = state.convs.get(state.active);
      if (c && c.kind === "room") send({ type: "leave", room: c.name });
    });
    $("messages").addEventListener("scroll", () => {
      const s = $("messages");
      if (s.scrollTop < 60) loadOlder(state.convs.get(state.active));
    });
    $("retry-button").addEventListener("click", reconnectNow);
    $("logout-button").addEventListener("click", () => signOut(null, true));
    $("menu-button").addEventListener("click", () => {
      if ($("app").classList.contains("menu-open")) closeMenu(); else openMenu();
    });
    $("scrim").addEventListener("click", closeMenu);
    $("notice-close").addEventListener("click", hideNotice);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") {
        const c = state.convs.get(state.active);
        if (c && c.unread) { c.unread = 0; renderSidebar(); renderHeader(); }
      }
    });
    window.addEventListener("online", () => { if (!state.sock && !state.stopped) reconnectNow(); });
  }

  function start() {
    wire();
    if (typeof SockJS !== "function") {
      showLogin("The page could not load its SockJS library from this server; reload once the server is back.");
      setConn("offline", "SockJS library missing");
      return;
    }
    const saved = store.get("nick", null);
    if (saved && NAME_RE.test(saved)) {
      // Re-join as the remembered nick; the sign-in card only shows if that takes a while.
      state.me = saved;
      setTimeout(() => { if (!state.joined && $("app").hidden && state.me === saved) showLogin(null); }, 1500);
    } else {
      showLogin(null);
    }
    connect();
  }

  // Test and debugging hook: read-only view of what the page knows.
  window.rabbitChat = {
    get nick() { return state.me; },
    get transport() { return state.transport; },
    get joined() { return state.joined; },
    get outbox() { return state.outbox.map((m) => Object.assign({}, m.frame)); },
  };

  start();
})();

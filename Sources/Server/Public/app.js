// rabbitChat page: the chat protocol of Specs/chat-protocol.md over SockJS at /chat.
// Plain JavaScript modules, no build step: protocol.js decides (no DOM, no socket, tested under
// Node), connection.js holds the SockJS connection, view.js draws, and this module keeps the
// page's state and carries the frames between them.
import {
  ACK_DELAY_MS, DM_KEEP, HISTORY_PAGE, MAX_TEXT, NAME_RE, TYPING_SEND_EVERY_MS, TYPING_SHOW_MS,
  AckQueue, Outbox, applyPresence, convKey, convKeyOfMessage, countsAsUnread, historyHasMore,
  homeKey, mapFromJSON, pendingByMsgId, mapToJSON, mergeArchive, messageId, needsAck, newConversation, outboxErrorPlan,
  planSent, scalarLength, welcomeRoomMore, applyGap, gapText, nextAfterPage, noteNewestSeq, resumeFor, welcomeResumed,
  SIGNED_OUT_TEXT, applySignedOut, closeSignsOut, deviceLabel, devicesFromFrame, joinCredentials, joinErrorPlan,
  setPasswordErrorText, setPasswordPlan, signInError, signOutFrame, welcomeCredentials,
  applyRead, noteOtherSeq, readPlan, readSent, welcomeReadState,
} from "./protocol.js";
import { createConnection } from "./connection.js";
import {
  announcementFor, bumpMentions, completeMention, mentionCandidates, mentionQuery, nextTheme, notificationFor,
  shouldNotify, THEMES,
} from "./attention.js";
import * as view from "./view.js";

const { $ } = view;

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
  password: null,        // the password typed to sign in, in memory only until a welcome brings a session
  joinKind: null,        // how the last join sent proved who we are: password, session, token or free
  device: null,          // this device's id, from the welcome's `device`
  protectedNick: false,  // the nick has a password, as far as this page knows
  devices: [],           // the `devices` list last received
  passwordRequest: false, // a setPassword waits for its answer
  devicesRequest: false, // a devices or signOut waits for its answer
  leaving: null,         // "Switch" signed this device out: the old socket's timer until the server closes it
  joined: false,         // welcome received on the current connection
  lastResume: null,      // the `resume` of the last join sent ({rooms: {room: seq}}), or null
  transport: "",
  users: new Map(),      // nick -> online
  knownRooms: new Set(), // rooms with history anywhere
  entered: [],           // rooms this session is in, in display order
  convs: new Map(),      // key -> conversation
  active: null,          // key of the shown conversation
  outbox: new Outbox(),  // unconfirmed say/tell frames, resent with the same id after a reconnect
  pendingByMsgId: new Map(), // msgId -> outbox id, from the welcome's `pending`
  acks: new AckQueue(),
  ackTimer: null,
  typingSentAt: 0,
  typingTarget: null,
  retryTimer: null,
};

function getConv(key) {
  let c = state.convs.get(key);
  if (!c) {
    c = newConversation(key);
    state.convs.set(key, c);
  }
  return c;
}

// ---------------------------------------------------------------- persistence per nick
function loadMap(key) { return mapFromJSON(store.get(key, null)); }
function saveMap(key, map) { store.set(key, mapToJSON(map)); }
function tokens() { return loadMap("tokens"); }
function saveToken(nick, token) { const t = tokens(); t.set(nick, token); saveMap("tokens", t); }
function forgetToken(nick) { const t = tokens(); t.delete(nick); saveMap("tokens", t); }
// This device's session token per nick (issue 16): it replaces the old token, which goes once a
// welcome brings a session.
function sessions() { return loadMap("sessions"); }
function saveSession(nick, session) { const t = sessions(); t.set(nick, session); saveMap("sessions", t); }
function forgetSession(nick) { const t = sessions(); t.delete(nick); saveMap("sessions", t); }
// The nicks this browser knows to have a password (it set one, or signed in with one).
function markProtected(nick) { const p = loadMap("protected"); p.set(nick, true); saveMap("protected", p); }
function knownProtected(nick) { return loadMap("protected").get(nick) === true; }
// Sign-out: this browser forgets everything it kept for `nick` (its token, join nonce, private
// messages, unsent messages, rooms); another nick's data stays.
function forgetNick(nick) {
  forgetToken(nick);
  forgetSession(nick);
  const marks = loadMap("protected");
  marks.delete(nick);
  saveMap("protected", marks);
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
  all.set(peer, mergeArchive(all.get(peer) || [], msg, DM_KEEP));
  saveMap("dms." + state.me, all);
}
function updateArchivedStatus(msgId, status) {
  const all = dmArchive();
  for (const list of all.values()) {
    for (const m of list) if (m.msgId === msgId) { m.status = status; saveMap("dms." + state.me, all); return; }
  }
}

// ---------------------------------------------------------------- connection
const conn = createConnection({
  url: location.origin + "/chat",
  transports: forcedTransports,
  hooks: {
    status: view.setConn,
    connecting() { state.joined = false; },
    opened(transport) {
      state.transport = transport;
      view.setConn("connected", "Connected");
      document.body.dataset.transport = state.transport;
      if (state.me) conn.sendJoin();
    },
    frame: handleFrame,
    closed(code) {
      state.joined = false;
      clearTimeout(state.ackTimer); state.ackTimer = null;
      state.acks.disarm();
      if (state.me && view.isAppShown()) view.renderSidebar(); // our own dot goes grey while away
      if (state.leaving) { finishLeaving(); return true; }
      if (code === 4001) { onReplaced(); return true; }
      // This device's session was revoked (a sign-out here or elsewhere): sign in again.
      if (closeSignsOut(code)) { onSignedOutHere(); return true; }
      // Closed for not joining in time (4004): connect again when someone signs in.
      if (code === 4004 && !state.me) { view.setConn("offline", "Idle: sign in to connect"); return true; }
      return false;
    },
    join() {
      if (!state.me) return null;
      // A typed password, else this device's session, else the old token (once), else a nonce.
      let creds = joinCredentials({
        password: state.password, device: deviceLabel(navigator.userAgent),
        session: sessions().get(state.me), token: tokens().get(state.me),
      });
      if (creds.kind === "free") creds = joinCredentials({ nonce: joinNonce(state.me) });
      state.joinKind = creds.kind;
      const rooms = store.get("rooms." + state.me, ["lobby"]);
      // A re-join names the newest seq shown of each room: what it missed follows the welcome.
      state.lastResume = resumeFor(state.convs, rooms);
      return {
        nick: state.me, token: creds.fields, nonce: null, rooms,
        pending: state.outbox.frames().map((f) => f.id), resume: state.lastResume,
      };
    },
  },
});
const send = conn.send;

// ---------------------------------------------------------------- acks
function queueAck(msgId) {
  const act = state.acks.push(msgId);
  if (act === "flush") flushAcks();
  else if (act === "arm") state.ackTimer = setTimeout(flushAcks, ACK_DELAY_MS);
}
function flushAcks() {
  clearTimeout(state.ackTimer);
  state.ackTimer = null;
  state.acks.flush(send); // what the socket did not take goes with the next connection's deliveries
}

// ---------------------------------------------------------------- inbound frames
function handleFrame(f) {
  if (state.leaving) return; // the old session's last frames, after "Switch"
  switch (f.type) {
    case "welcome": onWelcome(f); break;
    case "entered": onEntered(f.room, f.history || [], f.more); break;
    case "left": onLeft(f.room); break;
    case "message": onMessage(f, true); break;
    case "sent": onSent(f); break;
    case "delivered": onDelivered(f); break;
    case "presence": onPresence(f); break;
    case "typing": onTyping(f); break;
    case "history": onHistory(f); break;
    case "gap": onGap(f); break;
    case "error": onError(f); break;
    case "users": onUsers(f); break;
    case "passwordSet": onPasswordSet(); break;
    case "devices": onDevices(f); break;
    case "signedOut": onSignedOut(f); break;
    case "read": onRead(f); break;
    default: break; // unknown frames are ignored, as the protocol allows
  }
}

function onWelcome(f) {
  const firstTime = !state.joined && !view.isAppShown();
  state.joined = true;
  conn.joined();
  state.me = f.nick;
  // The welcome's session replaces the old token; a server without sessions still gives the token.
  const creds = welcomeCredentials(f, state.joinKind);
  if (creds.session) {
    saveSession(f.nick, creds.session);
    state.device = creds.device;
    state.password = null; // the session signs this device in from now on
  }
  if (creds.forgetToken) forgetToken(f.nick);
  if (creds.token) saveToken(f.nick, creds.token);
  state.token = creds.session || creds.token;
  if (state.joinKind === "password") markProtected(f.nick);
  state.protectedNick = knownProtected(f.nick);
  view.renderPasswordForm(state.protectedNick);
  store.set("nick", f.nick);
  state.users.clear();
  for (const u of f.users || []) state.users.set(u.nick, !!u.online);
  state.users.set(state.me, true);
  for (const r of f.rooms || []) state.knownRooms.add(r);
  state.entered = [];
  for (const r of f.entered || []) { state.entered.push(r); state.knownRooms.add(r); }
  saveRooms();
  view.showApp();
  if (firstTime) restoreArchive();
  // Our messages whose `sent` the broken connection lost: known by msgId when they come.
  state.pendingByMsgId = pendingByMsgId(f);
  const history = new Map(Object.entries(f.history || {}));
  for (const room of state.entered) {
    const c = getConv(convKey("room", room));
    if (welcomeResumed(f, room, state.lastResume)) view.ensurePane(c); // its `history` with `after` follows
    else addHistory(c, history.get(room) || [], welcomeRoomMore(f, room));
    // The server's read state: the unread count survives a reload, and the line marks where it begins.
    const read = welcomeReadState(f, room);
    if (read.upTo !== null && (c.readUpTo === null || read.upTo > c.readUpTo)) c.readUpTo = read.upTo;
    if (read.unread !== null) c.unread = read.unread;
    if (read.upTo !== null && read.unread) {
      c.lineAfter = read.upTo;
      view.showNewLine(c, read.upTo);
    }
  }
  if (!state.active || !state.convs.has(state.active) ||
      (state.active[0] === "#" && !state.entered.includes(state.active.slice(1)))) {
    const preferred = store.get("active." + state.me, null);
    const ok = preferred && (preferred[0] === "@" || state.entered.includes(preferred.slice(1)));
    if (ok) activate(preferred);
    else if (state.entered.length) activate(convKey("room", state.entered[0]));
    else showNoConversation();
  } else {
    view.renderHeader();
    markSeen(state.convs.get(state.active));
  }
  view.renderSidebar();
  view.setConn("connected", "Connected");
  // Resend every message the server has not confirmed, with its original id: the server
  // answers a retry inside its dedup window with `sent` and the same msgId.
  for (const frame of state.outbox.frames()) send(frame);
  flushAcks();
  if (view.accountOpen()) requestDevices();
}

function onEntered(room, history, more) {
  if (!state.entered.includes(room)) state.entered.push(room);
  state.knownRooms.add(room);
  saveRooms();
  const c = getConv(convKey("room", room));
  addHistory(c, history, more);
  view.renderSidebar();
  activate(c.key);
}

function onLeft(room) {
  state.entered = state.entered.filter((r) => r !== room);
  saveRooms();
  const key = convKey("room", room);
  const c = state.convs.get(key);
  if (c) view.removeConversation(c);
  state.convs.delete(key);
  if (state.active === key) {
    if (state.entered.length) activate(convKey("room", state.entered[0])); else showNoConversation();
  }
  view.renderSidebar();
}

function showNoConversation() {
  state.active = null;
  store.remove("active." + state.me);
  view.showNoConversation();
}

function onMessage(m, live) {
  const msgId = messageId(m);
  if (msgId === null) return;
  if (needsAck(m, live)) queueAck(m.msgId);
  const c = getConv(convKeyOfMessage(m, state.me));
  if (c.kind === "room") noteNewestSeq(c, m.seq);
  if (c.seen.has(msgId)) {
    view.noteShownSeq(c, msgId, m.seq);
    return;
  }
  const mine = m.from === state.me;
  if (c.kind === "room" && !mine) noteOtherSeq(c, m.seq);
  let status = null;
  if (mine) status = "sent";
  // One of ours from before a re-join: its placeholder becomes it (the retry's `sent` follows).
  const pendingId = mine ? state.pendingByMsgId.get(msgId) : undefined;
  if (pendingId !== undefined) {
    state.pendingByMsgId.delete(msgId);
    const node = c.items.get("pending:" + pendingId);
    if (node) {
      view.settlePlaceholder(c, node, pendingId, msgId, m.ts, m.seq);
      view.advanceStatus(node, "sent"); // it came back from the server: it was taken
      return;
    }
  }
  view.appendMessage(c, { msgId, from: m.from, text: m.text, ts: m.ts, seq: m.seq, status }, false);
  if (c.kind === "dm") archiveDM(c.name, { msgId, from: m.from, to: m.to, text: m.text, ts: m.ts, status });
  if (c.kind === "dm" && m.from !== state.me) clearTyping(c, m.from);
  if (c.kind === "room") clearTyping(c, m.from);
  const counted = countsAsUnread({ live, mine, activeKey: state.active, convKey: c.key, hidden: document.visibilityState === "hidden" });
  if (live && !mine) noticeMessage(c, m, counted);
  if (counted) bumpUnread(c);
  else if (live && state.active === c.key) markSeen(c);
}

// A live message from someone else: the screen reader hears it, a mention counts, and a private
// message or a mention notifies while the page is hidden.
function noticeMessage(c, m, counted) {
  const mentionsMe = c.kind === "room" && view.textMentions(m.text, state.me);
  const text = String(m.text);
  const hidden = document.visibilityState === "hidden";
  // Heard: what comes in the conversation shown, and private messages and mentions from elsewhere.
  if (!hidden && (c.key === state.active || c.kind === "dm" || mentionsMe)) {
    view.announce(announcementFor({ from: m.from, kind: c.kind, room: c.name, text, mentionsMe }));
  }
  if (mentionsMe && counted) c.mentions = bumpMentions(c.mentions, c.unread + 1);
  const permission = typeof Notification === "function" ? Notification.permission : "unsupported";
  if (!shouldNotify({ live: true, mine: false, kind: c.kind, mentionsMe, hidden, permission })) return;
  const { title, body } = notificationFor({ from: m.from, kind: c.kind, room: c.name, text });
  try {
    const note = new Notification(title, { body, tag: String(m.msgId), icon: "/favicon.svg" });
    note.onclick = () => { window.focus(); if (state.convs.has(c.key)) activate(c.key); note.close(); };
  } catch (_) { /* a browser that allows notifications only from a service worker: the title still counts */ }
}

// Notifications are asked for on the user's first click, never at load.
function askNotificationsOnce() {
  if (typeof Notification !== "function" || Notification.permission !== "default") return;
  try {
    const asked = Notification.requestPermission();
    if (asked && typeof asked.catch === "function") asked.catch(() => {});
  } catch (_) { /* an old browser's callback form: no answer needed */ }
}

// ---------------------------------------------------------------- read state
// The user has seen the newest messages of `c` (on screen, page visible): its `read` goes to the
// server, at most once a second per room (a later one waits for the second to end).
function markSeen(c) {
  if (!c || c.kind !== "room" || !state.joined || state.active !== c.key || document.visibilityState === "hidden") return;
  const plan = readPlan(c, Date.now());
  if (plan.frame) {
    if (send(plan.frame)) readSent(c, plan.frame, Date.now());
  } else if (plan.wait !== null && !c.readTimer) {
    c.readTimer = setTimeout(() => { c.readTimer = null; markSeen(c); }, plan.wait);
  }
}

// Another session of the user read a room: its count follows.
function onRead(f) {
  if (typeof f.room !== "string") return;
  const c = state.convs.get(convKey("room", f.room));
  if (!c || !applyRead(c, f.upTo)) return;
  if (c.newestSeq !== null && c.readUpTo >= c.newestSeq) view.removeNewLine(c);
  view.renderSidebar();
  view.renderHeader();
}

// History comes oldest first: the page of a welcome or an `entered` goes below what is shown.
function addHistory(c, msgs, more) {
  view.ensurePane(c);
  for (const m of msgs) onMessage(m, false);
  c.hasMore = historyHasMore(more, msgs.length);
  if (state.active === c.key) view.scrollToBottom(false);
  view.renderHistoryEdge(c);
}

function onSent(f) {
  const msgId = String(f.msgId);
  const entry = state.outbox.take(f.id);
  if (entry) saveOutbox();
  const frame = entry ? entry.frame : null;
  const home = frame ? getConv(homeKey(frame)) : null;
  const found = view.findPlaceholder(f.id);
  const plan = planSent({ placeholderSeen: found ? found.c.seen.has(msgId) : null });
  const c = found ? found.c : home;
  if (plan.placeholder === "remove") view.removePlaceholder(found.c, found.node, f.id);
  else if (plan.placeholder === "settle") view.settlePlaceholder(found.c, found.node, f.id, msgId, f.ts, undefined);
  const node = view.findMessageElement(msgId);
  if (node) view.advanceStatus(node, "sent");
  if (c) view.renderHistoryEdge(c);
  if (frame && frame.type === "tell") {
    archiveDM(frame.to, { msgId, from: state.me, to: frame.to, text: frame.text, ts: f.ts, status: "sent" });
  }
}

function onDelivered(f) {
  // Receipts are acked like private messages; one not acked comes again on the next join.
  queueAck(f.msgId);
  const msgId = String(f.msgId);
  updateArchivedStatus(msgId, "delivered");
  const node = view.findMessageElement(msgId);
  if (node) view.setStatus(node, "delivered");
}

function onPresence(f) {
  applyPresence(state.users, f, state.me, state.joined);
  view.renderSidebar();
  view.renderHeader();
}

function onTyping(f) {
  if (f.from === state.me) return;
  const c = f.room ? state.convs.get(convKey("room", f.room)) : getConv(convKey("dm", f.from));
  if (!c) return;
  c.typing.set(f.from, Date.now() + TYPING_SHOW_MS);
  view.renderTyping();
  setTimeout(view.renderTyping, TYPING_SHOW_MS + 50);
}
function clearTyping(c, nick) { if (c.typing.delete(nick)) view.renderTyping(); }

function onHistory(f) {
  const c = state.convs.get(convKey("room", f.room));
  if (!c) return;
  if (typeof f.after === "number") {
    // What a re-join missed, oldest first: shown as new, then the next page while there is more.
    for (const m of f.messages || []) onMessage(m, true);
    const next = nextAfterPage(f);
    if (next) send(next);
    return;
  }
  c.loadingHistory = false;
  const msgs = f.messages || [];
  c.hasMore = historyHasMore(f.more, msgs.length);
  view.prependHistory(c, msgs);
}

// The server no longer keeps some of what a re-join missed: a line where the kept ones begin.
function onGap(f) {
  const c = state.convs.get(convKey("room", f.room));
  if (!c || typeof f.next !== "number") return;
  const offerOlder = applyGap(c, f.next);
  view.showGap(c, f.next, gapText(f), offerOlder ? () => loadOlder(c) : null);
  view.renderHistoryEdge(c);
}

function onError(f) {
  const code = f.code;
  if (f.id !== undefined) {
    const entry = state.outbox.find(f.id);
    if (entry) {
      const plan = outboxErrorPlan(code);
      if (plan.retryMs !== null) {
        // Not accepted; kept in the outbox and sent again with the same id.
        if (plan.toast) view.toast(plan.toast);
        scheduleOutboxRetry(plan.retryMs);
        return;
      }
      state.outbox.take(entry.frame.id);
      saveOutbox();
      const c = getConv(homeKey(entry.frame));
      const node = c.items.get("pending:" + entry.frame.id);
      if (node) view.markFailed(node, f.message || code);
      view.toast(f.message || "The message was not sent.");
      return;
    }
  }
  // An answer to our join: a wrong password, a revoked session, a taken nick, too many attempts.
  if (!state.joined && state.me) {
    const plan = joinErrorPlan(code, state.joinKind, f.message);
    if (plan) { onJoinRefused(plan); return; }
  }
  // An answer to our setPassword (errors carry no id: at most one setPassword waits at a time).
  if (state.joined && state.passwordRequest &&
      ["weak_password", "auth_failed", "rate_limited", "unavailable", "bad_request"].includes(code)) {
    state.passwordRequest = false;
    view.setPasswordBusy(false);
    view.showPasswordError(setPasswordErrorText(code, f.message), code === "auth_failed" ? "current" : code === "weak_password" ? "new" : null);
    return;
  }
  if (state.joined && state.devicesRequest && (code === "unknown_device" || code === "bad_request" || code === "unavailable")) {
    state.devicesRequest = false;
    view.showDevicesError(code === "unknown_device" ? "That device is no longer signed in: the list is up to date now."
      : code === "unavailable" ? "The chat cannot do that right now: try again in a moment."
        : "This server does not manage devices yet: update it to see them here.");
    if (code === "unknown_device") requestDevices();
    return;
  }
  switch (code) {
    case "auth_failed":
      break; // a join's or a setPassword's, handled above
    case "invalid_nick":
      signOut(f.message || "That nick is not valid.");
      break;
    case "replaced":
      onReplaced();
      break;
    case "not_joined":
      if (state.me) conn.sendJoin();
      break;
    case "invalid_room":
      view.showEnterError(f.message || "That room name is not valid.");
      break;
    case "unavailable":
      // A join refused for now (the broker is down or the nick's inbox is still held elsewhere):
      // try again shortly on this same connection.
      if (!state.joined && state.me) {
        view.setConn("connecting", "The chat is busy; joining again…");
        setTimeout(() => { if (!state.joined && state.me && conn.active) conn.sendJoin(); }, 1000 + Math.random() * 1000);
      } else {
        view.toast(f.message || "The chat cannot take that right now; try again.");
      }
      break;
    case "rate_limited":
      break; // a typing frame over the rate (the next one goes through), or an ack (its messages come again)
    default:
      view.toast(f.message || ("Error: " + code));
  }
}

// The join was refused (joinErrorPlan): the stored credential it names goes, and the sign-in
// screen says what to do, the nick filled in.
function onJoinRefused(plan) {
  const nick = state.me;
  if (plan.forget === "session") forgetSession(nick);
  if (plan.forget === "token") forgetToken(nick);
  state.password = null;
  signOut(plan.message, false, { prefill: nick, askPassword: plan.askPassword });
}

// This device was signed out (close 4005): it forgets the nick's session and everything it kept
// for the nick, and shows the sign-in screen.
function onSignedOutHere() {
  const nick = state.me;
  if (nick) forgetNick(nick);
  state.password = null;
  signOut(SIGNED_OUT_TEXT, false, { prefill: nick, askPassword: true });
}

// ---------------------------------------------------------------- account: password and devices
function onPasswordSet() {
  if (!state.passwordRequest) return;
  state.passwordRequest = false;
  state.protectedNick = true;
  markProtected(state.me);
  view.setPasswordBusy(false);
  view.clearPasswordForm();
  view.renderPasswordForm(true);
  view.showPasswordStatus("Your nick is protected: sign in with it and this password from any browser.");
}

function submitPassword() {
  const plan = setPasswordPlan({
    password: $("password-new").value, repeat: $("password-repeat").value,
    current: $("password-current").value, protectedNick: state.protectedNick,
  });
  if (plan.error) { view.showPasswordError(plan.error, plan.field); return; }
  if (state.passwordRequest) return;
  if (!state.joined || !send(plan.frame)) {
    view.showPasswordError("Not connected: try again once the chat is back.", null);
    return;
  }
  state.passwordRequest = true;
  view.setPasswordBusy(true);
  view.showPasswordStatus("Saving…");
}

function requestDevices() {
  if (!state.joined || !send({ type: "devices" })) {
    view.showDevicesStatus("Not connected: the list comes once the chat is back.");
    return;
  }
  state.devicesRequest = true;
}

function onDevices(f) {
  state.devicesRequest = false;
  state.devices = devicesFromFrame(f, state.device);
  renderDevices();
  view.showDevicesError(null);
}

function renderDevices() {
  view.renderDevices(state.devices, Date.now(), (id) => signOutDevice(id));
}

function signOutDevice(target) {
  if (!state.joined || !send(signOutFrame(target))) {
    view.showDevicesError("Not connected: try again once the chat is back.");
    return;
  }
  state.devicesRequest = true;
  view.showDevicesStatus("Signing out…");
}

function onSignedOut(f) {
  state.devicesRequest = false;
  const before = state.devices.length;
  const result = applySignedOut(state.devices, f, state.device);
  state.devices = result.devices;
  renderDevices();
  const n = Array.isArray(f.devices) ? f.devices.length : before - result.devices.length;
  view.showDevicesStatus(result.me ? "Signed out: this device closes now." : "Signed out " + n + (n === 1 ? " device." : " devices."));
  // This device's own socket closes next (4005); the others' list is asked again.
  if (!result.me) requestDevices();
}

// The old socket after "Switch" closed (or took too long): a fresh connection for the next nick.
const LEAVE_WAIT_MS = 3000;
function finishLeaving() {
  if (!state.leaving) return;
  clearTimeout(state.leaving);
  state.leaving = null;
  conn.restart();
}

function onReplaced() {
  state.joined = false;
  if (state.me && view.isAppShown()) view.renderSidebar();
  conn.stop();
  view.setConn("replaced", "Opened elsewhere");
  view.showNotice("You opened this chat as " + state.me + " in another window or browser, so this one was disconnected.",
    "Use it here", () => { view.hideNotice(); conn.reconnectNow(); });
}

function scheduleOutboxRetry(ms) {
  if (state.retryTimer) return;
  state.retryTimer = setTimeout(() => {
    state.retryTimer = null;
    if (!state.joined) return; // the next welcome resends them all
    for (const frame of state.outbox.frames()) send(frame);
  }, ms);
}

function onUsers(f) {
  for (const u of f.users || []) if (!state.users.has(u.nick)) state.users.set(u.nick, !!u.online);
  view.renderSidebar();
}

function restoreArchive() {
  const all = dmArchive();
  for (const [peer, list] of all) {
    const c = getConv(convKey("dm", peer));
    for (const m of list) {
      if (c.seen.has(m.msgId)) continue;
      view.appendMessage(c, { msgId: m.msgId, from: m.from, text: m.text, ts: m.ts, status: m.from === state.me ? (m.status || "sent") : null }, true);
    }
    view.renderHistoryEdge(c);
  }
  // Messages typed before a reload that the server never confirmed: shown again and resent on welcome.
  state.outbox = new Outbox(store.get("outbox." + state.me, []));
  for (const entry of state.outbox.entries) {
    const f = entry.frame;
    if (view.findPlaceholder(f.id)) continue;
    const c = getConv(homeKey(f));
    view.appendMessage(c, { pendingId: f.id, from: state.me, text: f.text, ts: entry.createdAt, status: "pending" }, true);
  }
}

// ---------------------------------------------------------------- conversations
function activate(key) {
  const c = getConv(key);
  state.active = key;
  store.set("active." + state.me, key);
  view.showConversation(c);
  if (document.visibilityState !== "hidden") c.unread = 0;
  markSeen(c);
  view.renderHeader();
  view.renderSidebar();
  view.renderTyping();
  view.scrollToBottom(false);
  view.closeMenu();
  view.focusComposerOnWideScreens();
}

function bumpUnread(c) {
  c.unread++;
  view.renderSidebar();
  view.renderHeader();
}

// ---------------------------------------------------------------- outbound actions
function sendText(text) {
  const c = state.convs.get(state.active);
  if (!c) return;
  const id = newId();
  const { frame } = state.outbox.add(c, id, text, Date.now());
  saveOutbox();
  view.appendMessage(c, { pendingId: id, from: state.me, text, ts: Date.now(), status: "pending" }, false);
  view.scrollToBottom(true);
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
  if (!NAME_RE.test(name)) { view.showEnterError("Room names use letters, digits, _ . - (up to 32)."); return; }
  view.hideEnterError();
  const key = convKey("room", name);
  if (state.entered.includes(name)) { activate(key); return; }
  if (!send({ type: "enter", room: name })) view.toast("Not connected; try again once the chat is back.");
}

function loadOlder(c) {
  if (!c || c.kind !== "room" || !c.hasMore || c.loadingHistory || !state.joined) return;
  const frame = { type: "history", room: c.name, limit: HISTORY_PAGE };
  if (c.oldestSeq !== null) frame.before = c.oldestSeq;
  c.loadingHistory = true;
  view.renderHistoryEdge(c);
  if (!send(frame)) c.loadingHistory = false;
}

// ---------------------------------------------------------------- sign in / out
function showLogin(message, prefill, askPassword) {
  view.showLogin(message, prefill || state.me || store.get("nick", "") || "", askPassword);
}

// Back to the sign-in screen with `message`; `forget`: this browser forgets the nick's data;
// `prefill` the nick the form shows, `askPassword` the focus in the password field.
function signOut(message, forget, options) {
  const { prefill, askPassword } = options || {};
  if (forget && state.me) forgetNick(state.me);
  state.password = null;
  state.device = null;
  state.devices = [];
  state.passwordRequest = false;
  state.devicesRequest = false;
  state.protectedNick = false;
  store.remove("nick");
  state.me = null;
  state.joined = false;
  state.convs.clear();
  state.entered = [];
  state.active = null;
  state.outbox = new Outbox();
  state.pendingByMsgId = new Map();
  view.clearMessages();
  view.clearPasswordForm();
  view.showPasswordStatus("");
  view.showDevicesError(null);
  view.setPasswordBusy(false);
  showLogin(message, prefill, askPassword);
  if (!(options && options.keepSocket)) conn.restart();
}

// ---------------------------------------------------------------- wiring
function wire() {
  view.wireUserSearch((prefix) => send({ type: "users", prefix, limit: 20 }));
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const nick = $("nick-input").value.trim();
    const password = $("password-input").value;
    const error = signInError(nick, password);
    if (error) {
      view.showLoginError(error);
      return;
    }
    view.hideLoginError();
    finishLeaving(); // a sign-in right after "Switch" does not wait for the old socket
    state.me = nick;
    // Kept in memory for this join only (and its retries): the welcome's session replaces it.
    state.password = password || null;
    $("password-input").value = "";
    view.renderJoinButton();
    store.set("nick", nick);
    if (state.joined) return;
    if (conn.open) conn.sendJoin(); else conn.reconnectNow();
  });
  $("password-input").addEventListener("input", view.renderJoinButton);
  $("account-button").addEventListener("click", () => {
    if (view.accountOpen()) { view.closeAccount(); return; }
    view.renderPasswordForm(state.protectedNick);
    view.openAccount();
    renderDevices();
    requestDevices();
  });
  $("account-close").addEventListener("click", () => { view.closeAccount(); $("account-button").focus(); });
  $("password-form").addEventListener("submit", (e) => { e.preventDefault(); submitPassword(); });
  $("signout-everywhere").addEventListener("click", () => signOutDevice("everywhere"));

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
    if (mentionKey(e)) return;
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("composer").requestSubmit(); }
  });
  input.addEventListener("input", updateMentions);
  input.addEventListener("click", updateMentions);
  input.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== input) closeMentions(); }, 150));
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    if (scalarLength(text) > MAX_TEXT) { view.toast("Messages can be at most " + MAX_TEXT + " characters."); return; }
    sendText(text);
    closeMentions();
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
  $("retry-button").addEventListener("click", conn.reconnectNow);
  $("logout-button").addEventListener("click", () => {
    // This device's session is revoked on the server too, when it has one: the socket stays until
    // the server closes it (4005), so the signOut is not lost with a socket closed under it (the
    // HTTP transports send it in a request of its own), at most LEAVE_WAIT_MS.
    if (state.joined && state.me && sessions().has(state.me) && send(signOutFrame(null))) {
      signOut(null, true, { keepSocket: true });
      state.leaving = setTimeout(finishLeaving, LEAVE_WAIT_MS);
      return;
    }
    signOut(null, true);
  });
  $("menu-button").addEventListener("click", () => {
    if (view.menuOpen()) view.closeMenu(); else view.openMenu();
  });
  $("scrim").addEventListener("click", view.closeMenu);
  $("notice-close").addEventListener("click", view.hideNotice);
  document.addEventListener("click", askNotificationsOnce, { once: true, capture: true });
  $("theme-button").addEventListener("click", () => applyTheme(nextTheme(store.get("theme", "system")), true));
  // Escape closes what covers the conversation: the drawer on a phone, then the account panel.
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || e.defaultPrevented) return;
    if (view.menuOpen()) { view.closeMenu(); $("menu-button").focus(); return; }
    if (view.accountOpen()) { view.closeAccount(); $("account-button").focus(); }
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      const c = state.convs.get(state.active);
      if (c && c.unread) { c.unread = 0; view.renderSidebar(); view.renderHeader(); }
      markSeen(c);
    }
  });
  window.addEventListener("online", () => { if (!conn.active && !conn.stopped) conn.reconnectNow(); });
}

// ---------------------------------------------------------------- @nick completion
const mentions = { query: null, list: [], index: 0 };
function mentionNicks() {
  const names = new Set(state.users.keys());
  for (const c of state.convs.values()) if (c.kind === "dm") names.add(c.name);
  return names;
}
function updateMentions() {
  const input = $("composer-input");
  const caret = input.selectionStart === input.selectionEnd ? input.selectionStart : null;
  const query = caret === null ? null : mentionQuery(input.value, caret);
  const list = query ? mentionCandidates(query.prefix, mentionNicks(), state.me, 8) : [];
  if (!query || !list.length) { closeMentions(); return; }
  const keep = mentions.list[mentions.index];
  mentions.query = query;
  mentions.list = list;
  mentions.index = Math.max(0, list.indexOf(keep));
  view.showMentionList(list, mentions.index, pickMention);
}
function closeMentions() {
  if (!mentions.query) return;
  mentions.query = null;
  mentions.list = [];
  mentions.index = 0;
  view.hideMentionList();
}
function pickMention(i) {
  const input = $("composer-input");
  const nick = mentions.list[i];
  if (!mentions.query || nick === undefined) return;
  const done = completeMention(input.value, mentions.query, input.selectionStart, nick);
  input.value = done.text;
  input.setSelectionRange(done.caret, done.caret);
  closeMentions();
  input.focus();
}
// Up and Down move in the open list, Enter or Tab take the nick, Escape closes it.
function mentionKey(e) {
  if (!mentions.query || e.isComposing) return false;
  const n = mentions.list.length;
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    mentions.index = (mentions.index + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
    view.showMentionList(mentions.list, mentions.index, pickMention);
  } else if ((e.key === "Enter" && !e.shiftKey) || (e.key === "Tab" && !e.shiftKey)) {
    pickMention(mentions.index);
  } else if (e.key === "Escape") {
    closeMentions();
  } else {
    return false;
  }
  e.preventDefault();
  e.stopPropagation();
  return true;
}

// ---------------------------------------------------------------- theme
// "system" follows prefers-color-scheme; "light" and "dark" are the user's choice, kept in this browser.
function applyTheme(theme, save) {
  const t = THEMES.includes(theme) ? theme : "system";
  if (t === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
  if (save) store.set("theme", t);
  view.renderThemeButton(t);
}

function start() {
  applyTheme(store.get("theme", "system"), false);
  view.bindView(state, { activate, enterRoom, loadOlder, conversation: getConv });
  wire();
  if (typeof globalThis.SockJS !== "function") {
    showLogin("The page could not load its SockJS library from this server; reload once the server is back.");
    view.setConn("offline", "SockJS library missing");
    return;
  }
  const saved = store.get("nick", null);
  if (saved && NAME_RE.test(saved)) {
    // Re-join as the remembered nick; the sign-in card only shows if that takes a while.
    state.me = saved;
    // What the last visit sent without an answer: the join lists its ids as `pending`.
    state.outbox = new Outbox(store.get("outbox." + saved, []));
    setTimeout(() => { if (!state.joined && !view.isAppShown() && state.me === saved) showLogin(null); }, 1500);
  } else {
    showLogin(null);
  }
  conn.connect();
}

// Test and debugging hook: read-only view of what the page knows.
window.rabbitChat = {
  get nick() { return state.me; },
  get transport() { return state.transport; },
  get joined() { return state.joined; },
  get outbox() { return state.outbox.frames().map((f) => Object.assign({}, f)); },
  // Per room: the unread count and the read position the page knows.
  get rooms() {
    const rooms = {};
    for (const c of state.convs.values()) if (c.kind === "room") rooms[c.name] = { unread: c.unread, readUpTo: c.readUpTo };
    return rooms;
  },
};

start();

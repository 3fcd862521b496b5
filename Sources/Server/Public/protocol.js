// rabbitChat page: the chat protocol's client-side rules (Specs/chat-protocol.md), with no DOM,
// no socket, no storage and no clock of its own: time and randomness come in as arguments. The
// page's other modules carry out what these functions decide; Tests/node/protocol.test.js tests
// them under `node --test`.

export const NAME_RE = /^[A-Za-z0-9_.-]{1,32}$/;
export const MAX_TEXT = 4000;
export const ACK_DELAY_MS = 150;
export const ACK_BATCH = 100;
export const TYPING_SEND_EVERY_MS = 2500;
export const TYPING_SHOW_MS = 4000;
export const HISTORY_PAGE = 50;
export const DM_KEEP = 200;
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 30000;
export const RETRY_UNAVAILABLE_MS = 2000;
export const RETRY_RATE_LIMITED_MS = 1200;

// ---------------------------------------------------------------- names and conversations
export function scalarLength(s) { let n = 0; for (const _ of s) n++; return n; }

// A conversation is a room ("#name") or a private one ("@nick").
export function convKey(kind, name) { return (kind === "room" ? "#" : "@") + name; }

// The conversation a `say` or `tell` frame of ours belongs to.
export function homeKey(frame) {
  return frame.type === "say" ? convKey("room", frame.room) : convKey("dm", frame.to);
}

// The conversation a `message` frame belongs to: its room, or the other person of a private one
// (`to` when we sent it, from another tab or session of ours).
export function convKeyOfMessage(m, me) {
  if (m.room !== undefined && m.room !== null) return convKey("room", m.room);
  return convKey("dm", m.from === me ? m.to : m.from);
}

// The protocol state of one conversation. The view adds its own `pane` and `items` (msgId or
// "pending:"+client id -> element) to the same object.
export function newConversation(key) {
  const kind = key[0] === "#" ? "room" : "dm";
  return {
    key, kind, name: key.slice(1),
    items: new Map(),      // the view's: msgId or "pending:"+id -> element
    seen: new Set(),       // msgIds shown
    oldestSeq: null,
    newestSeq: null,       // the newest room seq shown: where a re-join resumes
    hasMore: kind === "room",
    olderGone: false,      // a `gap` said older messages than those shown are no longer kept
    loadingHistory: false,
    unread: 0,
    readUpTo: null,        // the user's read position of the room, as the server last said or was sent
    readSentAt: -Infinity, // when this page last sent `read` for it (ms)
    otherSeqs: [],         // seqs of others' messages shown, ascending (to count what follows readUpTo)
    lineAfter: null,       // the "New messages" line goes before the first message after this seq
    typing: new Map(),     // nick -> expiry
    pane: null,            // the view's
  };
}

// Whether a room keeps older messages than an answer gave (Specs/chat-protocol.md): the server
// says so (`more` in `history` and `entered`, the room in the welcome's `moreHistory`); an answer
// may be short because it was cut by bytes, so its length says nothing when the server told.
// From a server without these fields, an answer shorter than a page is the room's beginning.
export function historyHasMore(more, count) {
  return typeof more === "boolean" ? more : count >= HISTORY_PAGE;
}

// The welcome's `more` for one of its rooms: listed in `moreHistory`, or unknown (undefined)
// from a server without it.
export function welcomeRoomMore(welcome, room) {
  return Array.isArray(welcome.moreHistory) ? welcome.moreHistory.includes(room) : undefined;
}

// A public message's room sequence number lowers the conversation's oldest one (where `history`
// asks to continue from).
export function noteSeq(c, seq) {
  if (seq !== undefined && seq !== null && (c.oldestSeq === null || seq < c.oldestSeq)) c.oldestSeq = seq;
}

// ---------------------------------------------------------------- resume without gaps
// (Specs/chat-protocol.md, "Resume without gaps")
export const RESUME_PAGE = 100;

// A public message's seq raises the conversation's newest one (where a re-join resumes).
export function noteNewestSeq(c, seq) {
  if (typeof seq === "number" && Number.isSafeInteger(seq) && seq >= 0 && (c.newestSeq === null || c.newestSeq === undefined || seq > c.newestSeq)) c.newestSeq = seq;
}

// A re-join's `resume`: the newest seq shown of each room it enters, or null when the page has
// none (a fresh page takes the welcome's newest history instead).
export function resumeFor(convs, rooms) {
  const positions = {};
  let any = false;
  for (const room of rooms || []) {
    const c = convs.get(convKey("room", room));
    if (c && typeof c.newestSeq === "number") { positions[room] = c.newestSeq; any = true; }
  }
  return any ? { rooms: positions } : null;
}

// Whether the welcome resumed `room`: it then has no history for it, and a `history` with
// `after` follows (the room's shown messages and `more` stay as they were).
export function welcomeResumed(welcome, room, resume) {
  return !!(resume && resume.rooms && Object.prototype.hasOwnProperty.call(resume.rooms, room) &&
    !(welcome.history && Object.prototype.hasOwnProperty.call(welcome.history, room)));
}

// After a `history` answer to `after` that says `more`: the next page's request, else null.
export function nextAfterPage(f) {
  if (typeof f.after !== "number" || f.more !== true) return null;
  const listed = f.messages || [];
  let last = f.after;
  for (const m of listed) if (typeof m.seq === "number" && m.seq > last) last = m.seq;
  // A join's resume page left empty (the join's resume frames spent their byte budget): a
  // `history` with the same `after` lists at least one message. Messages listed but none newer:
  // asking again would get the same.
  if (last === f.after && listed.length > 0) return null;
  return { type: "history", room: f.room, after: last, limit: RESUME_PAGE };
}

// The line a `gap` shows where the kept messages begin again.
export function gapText(f) {
  return "Some messages of #" + f.room + " from while you were away are no longer kept.";
}

// A `gap` says the server keeps nothing of the room older than `next`. Older messages than those
// shown may then be there only when the page shows none older than `next` (nothing shown, or its
// oldest shown is newer): only then do the gap line and the room's top offer to load older ones
// (`history` with `before` the oldest shown). Otherwise asking would only get an empty answer:
// `hasMore` goes, and `olderGone` says older messages existed but are no longer kept.
// Returns whether the gap line offers "Load older".
export function applyGap(c, next) {
  const olderMayBeKept = c.oldestSeq === null || c.oldestSeq === undefined || c.oldestSeq > next;
  if (!olderMayBeKept && c.hasMore) {
    c.hasMore = false;
    c.olderGone = true;
  }
  return olderMayBeKept && c.hasMore;
}

// ---------------------------------------------------------------- the outbox
// Our `say` and `tell` frames the server has not confirmed, oldest first, each with the time it
// was typed. They are resent with the same id after a reconnect (the server answers a retry inside
// its dedup window with `sent` and the same msgId), and kept across a reload by the caller.
export class Outbox {
  constructor(entries) {
    this.entries = Array.isArray(entries)
      ? entries.filter((e) => e && e.frame && typeof e.frame.id === "string") : [];
  }
  get length() { return this.entries.length; }
  // A new message typed in conversation `c` (a room or a private one), with client id `id`.
  add(c, id, text, now) {
    const frame = c.kind === "room" ? { type: "say", id, room: c.name, text } : { type: "tell", id, to: c.name, text };
    const entry = { frame, createdAt: now };
    this.entries.push(entry);
    return entry;
  }
  find(id) { return this.entries.find((e) => e.frame.id === id) || null; }
  // Removes and returns the entry of client id `id`, or null when it is not (or no longer) here.
  take(id) {
    const i = this.entries.findIndex((e) => e.frame.id === id);
    return i >= 0 ? this.entries.splice(i, 1)[0] : null;
  }
  // Every frame to send again, oldest first.
  frames() { return this.entries.map((e) => e.frame); }
  clear() { this.entries = []; }
  toJSON() { return this.entries; }
}

// What an `error` frame naming one of our outbox ids means for that message: kept and retried
// after `retryMs` (not accepted for now), or failed for good (its placeholder says why).
export function outboxErrorPlan(code) {
  if (code === "unavailable") return { retryMs: RETRY_UNAVAILABLE_MS, toast: "The chat cannot store messages right now; retrying…" };
  if (code === "rate_limited") return { retryMs: RETRY_RATE_LIMITED_MS, toast: null };
  return { retryMs: null };
}

// ---------------------------------------------------------------- reconciliation of `sent` and `message`
// Private messages are acked (duplicates too: the server keeps them queued until acked); acking a
// public one would do nothing but spend the session's frame budget. History is never acked.
export function needsAck(m, live) {
  return live && m.to !== undefined && m.to !== null;
}

// A message frame's msgId as the page keys it, or null when it has none usable.
export function messageId(m) {
  return typeof m.msgId === "string" || typeof m.msgId === "number" ? String(m.msgId) : null;
}

// `sent` comes before the sender's own copy of a public message (Specs/chat-protocol.md: the
// server holds the copy back for the sending session), so a live echo finds its placeholder
// settled already. Only our message in the history of a re-join, whose retry's `sent` follows
// the welcome, can come first: it shows, and the placeholder goes when that `sent` names it.
// Once or several times (an answer to each retry), before or after a reload, the id ends with
// exactly one element, the one of its msgId:
// - placeholderSeen: null when no placeholder of the id is shown, else whether the placeholder's
//   conversation shows msgId already.
// Returns { placeholder: "remove" | "settle" | null }: the placeholder goes (the message itself is
// shown), becomes msgId's element, or there is none.
export function planSent({ placeholderSeen }) {
  if (placeholderSeen === null || placeholderSeen === undefined) return { placeholder: null };
  return { placeholder: placeholderSeen ? "remove" : "settle" };
}

// Sent, then `delivered`: a status never goes back.
export function nextStatus(current, status) {
  return current === "delivered" ? "delivered" : status;
}

// ---------------------------------------------------------------- acks
// Batches the msgIds to ack: at most ACK_BATCH per frame, sent ACK_DELAY_MS after the first
// (one timer at a time), or at once when a batch is full. A batch the socket did not take stays
// queued and goes with the next connection's deliveries. The caller owns the timer:
// `push` says whether to flush now ("flush"), start the timer ("arm"), or nothing (null).
export class AckQueue {
  constructor(batch = ACK_BATCH) {
    this.batch = batch;
    this.pending = [];
    this.armed = false;
  }
  push(msgId) {
    this.pending.push(msgId);
    if (this.pending.length >= this.batch) return "flush";
    if (this.armed) return null;
    this.armed = true;
    return "arm";
  }
  // Sends every queued msgId through `send(frame)` (false: not connected), batch by batch.
  // Returns how many were sent.
  flush(send) {
    this.armed = false;
    let sent = 0;
    while (this.pending.length) {
      const batch = this.pending.slice(0, this.batch);
      if (!send({ type: "ack", msgIds: batch })) break;
      this.pending.splice(0, batch.length);
      sent += batch.length;
    }
    return sent;
  }
  // The connection went: its timer is cancelled, the queue stays.
  disarm() { this.armed = false; }
}

// ---------------------------------------------------------------- connection rules
// Exponential backoff with full jitter between half and all of the step, capped. `random` in [0, 1).
export function backoffDelay(attempt, random) {
  const step = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * Math.pow(2, attempt));
  return Math.round(step / 2 + random * step / 2);
}

// The `join` frame: the nick's token when we hold one, else our join nonce; the rooms we were in
// (the lobby when none).
// `pending`: the ids of our say/tell frames not yet answered (the outbox), oldest first; the
// welcome then names the msgId of each (Specs/chat-protocol.md, "After a re-join").
export const JOIN_PENDING_MAX = 100;
// `token`: the old HMAC token (a string), or the `fields` of joinCredentials (password, session,
// token or nonce), which then stand for `token` and `nonce`.
export function joinFrame(nick, token, nonce, rooms, pending, resume) {
  const frame = { type: "join", nick };
  if (token && typeof token === "object") Object.assign(frame, token);
  else if (token) frame.token = token;
  else frame.nonce = nonce;
  frame.rooms = Array.isArray(rooms) && rooms.length ? rooms : ["lobby"];
  if (Array.isArray(pending) && pending.length) frame.pending = pending.slice(0, JOIN_PENDING_MAX);
  // Only rooms the join enters may be resumed (the server refuses others as bad_request).
  if (resume && resume.rooms) {
    const positions = {};
    let any = false;
    for (const room of frame.rooms) {
      const seq = resume.rooms[room];
      if (typeof seq === "number" && Number.isSafeInteger(seq) && seq >= 0) { positions[room] = seq; any = true; }
    }
    if (any) frame.resume = { rooms: positions };
  }
  return frame;
}

// The welcome's `pending` ({id: msgId}) turned around: msgId -> the client id of our placeholder.
// Only string pairs count; a welcome without it gives an empty map.
export function pendingByMsgId(welcome) {
  const byMsgId = new Map();
  const pending = welcome && welcome.pending;
  if (!pending || typeof pending !== "object" || Array.isArray(pending)) return byMsgId;
  for (const id of Object.keys(pending)) {
    if (typeof pending[id] === "string") byMsgId.set(pending[id], id);
  }
  return byMsgId;
}

// ---------------------------------------------------------------- unread, typing, people
// A message counts as unread unless it is shown right now: live, not ours, and not in the
// conversation on screen while the page is visible.
export function countsAsUnread({ live, mine, activeKey, convKey: key, hidden }) {
  if (!live || mine) return false;
  return !(activeKey === key && !hidden);
}

export function totalUnread(convs) {
  let n = 0;
  for (const c of convs) n += c.unread;
  return n;
}

// Who is typing, as the line under the conversation says it.
export function typingText(who) {
  return who.length === 0 ? "" :
    who.length === 1 ? who[0] + " is typing…" :
      who.length <= 3 ? who.join(", ") + " are typing…" : "Several people are typing…";
}

// Drops expired typing marks (nick -> expiry) and returns the nicks still typing.
export function stillTyping(typing, now) {
  for (const [nick, until] of typing) if (until <= now) typing.delete(nick);
  return [...typing.keys()];
}

// One presence frame carries every change since the previous one. Our own nick going offline
// while we are joined is an older session of ours going away, not us.
export function applyPresence(users, f, me, joined) {
  for (const nick of f.online || []) users.set(nick, true);
  for (const nick of f.offline || []) {
    if (nick === me && joined) continue;
    users.set(nick, false);
  }
}

// The sidebar's people: ourselves first, then those online, then the rest, by name.
export function sortPeople(names, users, me) {
  return [...names].sort((a, b) => {
    if (a === me) return -1;
    if (b === me) return 1;
    const oa = users.get(a) ? 0 : 1, ob = users.get(b) ? 0 : 1;
    return oa - ob || a.localeCompare(b);
  });
}

// ---------------------------------------------------------------- kept per nick
// Every table keyed by a nick or a room is a Map: a nick such as `__proto__` or `constructor`
// is then a key like any other (on a plain object it would reach Object.prototype). Stored as
// JSON objects (own properties only, made by Object.fromEntries and read by Object.entries).
export function mapFromJSON(v) {
  return new Map(v && typeof v === "object" && !Array.isArray(v) ? Object.entries(v) : []);
}
export function mapToJSON(map) { return Object.fromEntries(map); }

// A private message into its conversation's archive (updated in place when its msgId is there),
// keeping the newest DM_KEEP.
export function mergeArchive(list, msg, keep = DM_KEEP) {
  const i = list.findIndex((m) => m.msgId === msg.msgId);
  if (i >= 0) list[i] = Object.assign(list[i], msg); else list.push(msg);
  if (list.length > keep) list.splice(0, list.length - keep);
  return list;
}

// ---------------------------------------------------------------- accounts and devices (issue 16)
// (Specs/chat-protocol.md, "Passwords" and "Accepted for issue 16, not served yet": `session`,
// `device`, `devices`, `signOut`, `signedOut`, close 4005.)
export const PASSWORD_MIN_BYTES = 8;
export const PASSWORD_MAX_BYTES = 256;
export const DEVICE_LABEL_MAX = 64;
export const DEVICES_MAX = 50;
export const CLOSE_SIGNED_OUT = 4005;
export const SESSION_RE = /^[A-Za-z0-9_-]{43}$/;
export const DEVICE_ID_RE = /^[0-9a-f]{12}$/;

export function utf8Length(s) { return new TextEncoder().encode(s).length; }

// What a join proves who we are with, strongest first: a password typed now (with this device's
// label), this device's session token, the old HMAC nick token (sent once: its welcome brings a
// session, which replaces it), else nothing (a free nick, claimed by the join's nonce).
// Returns { kind: "password" | "session" | "token" | "free", fields } where `fields` go into the join.
export function joinCredentials({ password, device, session, token, nonce }) {
  if (typeof password === "string" && password.length) {
    const fields = { password };
    if (typeof device === "string" && device.length) fields.device = device.slice(0, DEVICE_LABEL_MAX);
    return { kind: "password", fields };
  }
  if (typeof session === "string" && SESSION_RE.test(session)) return { kind: "session", fields: { session } };
  if (typeof token === "string" && token.length) return { kind: "token", fields: { token } };
  return { kind: "free", fields: typeof nonce === "string" && nonce.length ? { nonce } : {} };
}

// A short label for this browser, as the devices list shows it ("Chrome on Linux").
export function deviceLabel(userAgent) {
  const ua = String(userAgent || "");
  const browser = /Edg\//.test(ua) ? "Edge" : /OPR\/|Opera/.test(ua) ? "Opera" : /Firefox\//.test(ua) ? "Firefox"
    : /Chrom(e|ium)\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "Browser";
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad|iPod/.test(ua) ? "iOS" : /Windows/.test(ua) ? "Windows"
    : /Mac OS X|Macintosh/.test(ua) ? "macOS" : /CrOS/.test(ua) ? "ChromeOS" : /Linux/.test(ua) ? "Linux" : null;
  return (os ? browser + " on " + os : browser).slice(0, DEVICE_LABEL_MAX);
}

// Whether a password is of an acceptable length (8 to 256 bytes of UTF-8): null when it is, else
// the sentence that says what to do.
export function passwordLengthError(password) {
  const n = utf8Length(password || "");
  if (n < PASSWORD_MIN_BYTES) return "Use at least " + PASSWORD_MIN_BYTES + " characters for the password, then try again.";
  if (n > PASSWORD_MAX_BYTES) return "Use at most " + PASSWORD_MAX_BYTES + " bytes for the password, then try again.";
  return null;
}

// The sign-in form: a nick, and a password when the nick is protected. Returns an error sentence,
// or null when the join can go.
export function signInError(nick, password) {
  if (!NAME_RE.test(nick)) return "Use 1 to 32 letters, digits, _ . or - for the nick.";
  if (password) {
    const e = passwordLengthError(password);
    if (e) return "The password is too " + (utf8Length(password) < PASSWORD_MIN_BYTES ? "short" : "long") + ": check it and try again.";
  }
  return null;
}

// The protect-or-change form: the new password twice, and the current one when the nick has a
// password already (`protectedNick`: the page knows it has; the server asks anyway when it does).
// Returns { frame } to send, or { error, field } naming the field to fix.
export function setPasswordPlan({ password, repeat, current, protectedNick }) {
  const lengthError = passwordLengthError(password);
  if (lengthError) return { error: lengthError, field: "new" };
  if (password !== repeat) return { error: "The two new passwords differ: type the same one twice.", field: "repeat" };
  if (protectedNick && !current) return { error: "Enter your current password to change it.", field: "current" };
  const frame = { type: "setPassword", password };
  if (current) frame.current = current;
  return { frame };
}

// What an error answering our `setPassword` means, as one sentence with what to do next.
export function setPasswordErrorText(code, serverMessage) {
  switch (code) {
    case "weak_password": return "Use a password of 8 to 256 bytes, then try again.";
    case "auth_failed": return "The current password is missing or wrong: enter the one you set before, then try again.";
    case "rate_limited": return serverMessage || "Too many password attempts: wait a few minutes, then try again.";
    case "unavailable": return "The chat cannot save the password right now: try again in a moment.";
    case "bad_request": return "This server cannot protect nicks yet: ask its operator to update it.";
    default: return serverMessage || "The password was not set: try again.";
  }
}

// What to keep from a welcome: its `session` (and this device's id) when it carries one, which
// replaces any old token of the nick; else, from a server without sessions, its `token` as before,
// except after a password sign-in (a protected nick never joins by token).
// Returns { session, device, token, forgetToken }.
export function welcomeCredentials(welcome, joinKind) {
  const session = typeof welcome.session === "string" && SESSION_RE.test(welcome.session) ? welcome.session : null;
  const device = typeof welcome.device === "string" && DEVICE_ID_RE.test(welcome.device) ? welcome.device : null;
  if (session) return { session, device, token: null, forgetToken: true };
  const token = joinKind !== "password" && typeof welcome.token === "string" && welcome.token.length ? welcome.token : null;
  return { session: null, device: null, token, forgetToken: joinKind === "password" };
}

// What an error answering our join means (joinKind: how the join proved who we are). Returns
// null for the codes the page handles otherwise (unavailable, replaced, …), else
// { forget: "session" | "token" | null, message, askPassword }: the stored credential to drop, the
// sentence the sign-in screen shows, and whether its password field is the thing to fill in.
export function joinErrorPlan(code, joinKind, serverMessage) {
  switch (code) {
    case "auth_failed":
      if (joinKind === "password") return { forget: null, message: "The nick and password do not match: check both and try again.", askPassword: true };
      if (joinKind === "session") return { forget: "session", message: "This device is no longer signed in: enter your password to sign in again, or pick another nick.", askPassword: true };
      return { forget: joinKind === "token" ? "token" : null,
        message: "That nick is taken or protected by a password: enter its password if it is yours, or pick another nick.", askPassword: true };
    case "rate_limited":
      return { forget: null, message: serverMessage || "Too many sign-in attempts: wait a few minutes, then try again.", askPassword: false };
    case "registration_closed":
      return { forget: null, message: "This chat only admits accounts made by its operator: ask them for one, then sign in with its password.", askPassword: false };
    case "invalid_nick":
      return { forget: null, message: serverMessage || "That nick is not valid: use 1 to 32 letters, digits, _ . or -.", askPassword: false };
    default:
      return null;
  }
}

// A socket closed with this code ends this device's sign-in (4005 `Signed out`): the session is
// forgotten and the sign-in screen says so.
export const SIGNED_OUT_TEXT = "You were signed out on this device: sign in again with your nick and password.";
export function closeSignsOut(code) { return code === CLOSE_SIGNED_OUT; }

// The `signOut` frame: this device (no field), another one by its id, or every device.
export function signOutFrame(target) {
  if (target === "everywhere") return { type: "signOut", everywhere: true };
  if (typeof target === "string" && DEVICE_ID_RE.test(target)) return { type: "signOut", device: target };
  return { type: "signOut" };
}

// A `devices` frame's list, as the page shows it: entries of the right shape only, at most
// DEVICES_MAX, newest first as the server sends them; `current` marks this device (or its id
// matching the welcome's `device`).
export function devicesFromFrame(f, myDevice) {
  const out = [];
  for (const d of Array.isArray(f && f.devices) ? f.devices : []) {
    if (out.length >= DEVICES_MAX) break;
    if (!d || typeof d.id !== "string" || !DEVICE_ID_RE.test(d.id)) continue;
    out.push({
      id: d.id,
      label: typeof d.label === "string" && d.label.length ? d.label.slice(0, DEVICE_LABEL_MAX) : "Unnamed device",
      created: typeof d.created === "number" && Number.isFinite(d.created) ? d.created : null,
      lastSeen: typeof d.lastSeen === "number" && Number.isFinite(d.lastSeen) ? d.lastSeen : null,
      current: d.current === true || (myDevice !== null && myDevice !== undefined && d.id === myDevice),
    });
  }
  return out;
}

// A `signedOut` answer: the devices it revoked leave the list; `me` says whether this device was
// one of them (its socket closes with 4005 next).
export function applySignedOut(devices, f, myDevice) {
  const gone = new Set(Array.isArray(f && f.devices) ? f.devices.filter((id) => typeof id === "string") : []);
  const me = devices.some((d) => d.current && gone.has(d.id)) || (typeof myDevice === "string" && gone.has(myDevice));
  return { devices: devices.filter((d) => !gone.has(d.id)), me };
}

// "just now", "5 minutes ago", "3 hours ago", "2 days ago", or the date: when a device was last seen.
export function agoText(ts, now) {
  if (typeof ts !== "number") return "unknown";
  const s = Math.max(0, Math.floor((now - ts) / 1000));
  if (s < 60) return "just now";
  const plural = (n, unit) => n + " " + unit + (n === 1 ? "" : "s") + " ago";
  if (s < 3600) return plural(Math.floor(s / 60), "minute");
  if (s < 86400) return plural(Math.floor(s / 3600), "hour");
  if (s < 30 * 86400) return plural(Math.floor(s / 86400), "day");
  return new Date(ts).toISOString().slice(0, 10);
}

// ---------------------------------------------------------------- read state (issue 16, point 5)
// (Specs/chat-protocol.md, "Read state": the server stores at most one `read` per room per second
// per session, so the page sends no more often.)
export const READ_SEND_EVERY_MS = 1000;
export const READ_SEQS_KEEP = 1000;

const isSeq = (v) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

// The welcome's read position and unread count of `room` (null for either the server did not give).
export function welcomeReadState(welcome, room) {
  const read = welcome && welcome.read && welcome.read.rooms;
  const unread = welcome && welcome.unread && welcome.unread.rooms;
  return {
    upTo: read && isSeq(read[room]) ? read[room] : null,
    unread: unread && isSeq(unread[room]) ? unread[room] : null,
  };
}

// Someone else's room message was shown: its seq is kept (ascending, the newest READ_SEQS_KEEP).
export function noteOtherSeq(c, seq) {
  if (!isSeq(seq)) return;
  const list = c.otherSeqs;
  let i = list.length;
  while (i > 0 && list[i - 1] > seq) i--;
  if (i > 0 && list[i - 1] === seq) return;
  list.splice(i, 0, seq);
  if (list.length > READ_SEQS_KEEP) list.splice(0, list.length - READ_SEQS_KEEP);
}

// How many of the others' messages shown come after `upTo`.
export function unreadAfter(c, upTo) {
  let n = 0;
  for (let i = c.otherSeqs.length - 1; i >= 0 && c.otherSeqs[i] > upTo; i--) n++;
  return n;
}

// A `read` from another session of the user: the position only moves forward, and the unread
// count drops to what follows it. True when it moved.
export function applyRead(c, upTo) {
  if (!isSeq(upTo) || (c.readUpTo !== null && upTo <= c.readUpTo)) return false;
  c.readUpTo = upTo;
  c.unread = Math.min(c.unread, unreadAfter(c, upTo));
  return true;
}

// The user has seen room `c` up to its newest message: the `read` to send now (`frame`), or how
// long to wait before sending it (`wait`, ms), or neither (nothing new, or not a room). A room
// seen empty without a read position is read up to 0, so that the server counts what comes next
// in it as unread (a room without a position has no count in the welcome).
export function readPlan(c, now) {
  if (c.kind !== "room") return { frame: null, wait: null };
  const upTo = isSeq(c.newestSeq) ? c.newestSeq : (c.readUpTo === null ? 0 : null);
  if (upTo === null || (c.readUpTo !== null && upTo <= c.readUpTo)) return { frame: null, wait: null };
  const since = now - c.readSentAt;
  if (since < READ_SEND_EVERY_MS) return { frame: null, wait: READ_SEND_EVERY_MS - since };
  return { frame: { type: "read", room: c.name, upTo }, wait: null };
}

// The `read` was sent: the page counts the room read up to there.
export function readSent(c, frame, now) {
  c.readSentAt = now;
  if (c.readUpTo === null || frame.upTo > c.readUpTo) c.readUpTo = frame.upTo;
}

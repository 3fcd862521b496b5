// rabbitChat page: everything it draws. Message data only ever reaches the DOM through
// textContent and text nodes, never innerHTML.
import { agoText, convKey, noteSeq, nextStatus, sortPeople, stillTyping, totalUnread, typingText } from "./protocol.js";
import { mentionsIn, parseMessage, shouldFold } from "./format.js";
import { attentionCounts, badgeFor, titleText } from "./attention.js";

// The page's state (app.js owns it) and the actions a click starts: activate(key),
// enterRoom(name), loadOlder(conversation).
let state = null;
let actions = null;
export function bindView(appState, appActions) {
  state = appState;
  actions = appActions;
}

// ---------------------------------------------------------------- tiny DOM helpers
export const $ = (id) => document.getElementById(id);
export function el(tag, props, children) {
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

// The tree of format.js as DOM nodes: every piece of the user's text goes in as a text node.
function renderNodes(nodes, parent) {
  for (const n of nodes) {
    switch (n.t) {
      case "text": parent.append(document.createTextNode(n.v)); break;
      case "pre": parent.append(el("pre", { className: "msg-pre" }, [el("code", { text: n.v })])); break;
      case "code": parent.append(el("code", { className: "msg-code", text: n.v })); break;
      case "b": renderNodes(n.c, parent.appendChild(el("strong"))); break;
      case "i": renderNodes(n.c, parent.appendChild(el("em"))); break;
      case "link": parent.append(el("a", { href: n.href, target: "_blank", rel: "noopener noreferrer", text: n.v })); break;
      case "mention": parent.append(el("span", {
        className: "mention" + (n.nick === state.me ? " mention-me" : ""), dataset: { nick: n.nick }, text: "@" + n.nick })); break;
      default: break;
    }
  }
}

// The formatted text of a message: its element, and whether it names us.
let foldIds = 0;
function formattedText(text) {
  const nodes = parseMessage(text);
  const box = el("div", { className: "msg-text" });
  renderNodes(nodes, box);
  return { box, mentionsMe: !!state.me && mentionsIn(nodes).includes(state.me) };
}

// Whether `text` names `me` (the same parse the message's element uses).
export function textMentions(text, me) {
  return !!me && mentionsIn(parseMessage(String(text))).includes(me);
}

// A long message folds: its text shows its first lines and a "Show more" button opens it.
function foldable(box, text) {
  if (!shouldFold(text)) return [box];
  box.id = "msg-text-" + (++foldIds);
  box.classList.add("folded");
  const button = el("button", { type: "button", className: "link-button fold-button", text: "Show more",
    "aria-expanded": "false", "aria-controls": box.id });
  button.addEventListener("click", () => {
    const open = box.classList.toggle("folded") === false;
    button.textContent = open ? "Show less" : "Show more";
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
  return [box, button];
}

// ---------------------------------------------------------------- connection state
export function setConn(stateName, text) {
  const conn = $("conn");
  conn.dataset.state = stateName;
  $("conn-text").textContent = text;
  $("transport").textContent = stateName === "connected" ? state.transport : "";
  $("retry-button").hidden = !(stateName === "reconnecting" || stateName === "offline");
  $("login-conn").textContent = stateName === "connected" ? "" : text;
  document.body.dataset.conn = stateName;
}

// ---------------------------------------------------------------- messages
export function ensurePane(c) {
  if (c.pane) return c.pane;
  const pane = el("div", { className: "conv-pane", dataset: { conv: c.key } });
  pane.append(el("div", { className: "history-edge" }));
  c.pane = pane;
  renderHistoryEdge(c);
  return pane;
}

export function renderHistoryEdge(c) {
  const edge = ensurePane(c).querySelector(".history-edge");
  edge.replaceChildren();
  if (c.kind === "dm") {
    edge.append(document.createTextNode(
      c.name === state.me ? "Notes to yourself. Only you can see them." :
        "Private conversation with " + c.name + ". Only the two of you can see it."));
  } else if (c.loadingHistory) {
    edge.append(document.createTextNode("Loading earlier messages…"));
  } else if (c.hasMore) {
    edge.append(el("button", { type: "button", className: "link-button load-older", text: "Load earlier messages", onclick: () => actions.loadOlder(c) }));
  } else if (c.olderGone) {
    edge.append(document.createTextNode("Older messages of #" + c.name + " are no longer kept."));
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
  const { box: text, mentionsMe } = formattedText(String(m.text));
  if (mentionsMe && !mine) node.classList.add("mentions-me");
  const head = el("div", { className: "msg-head" }, [
    el("span", { className: "msg-from", text: m.from }),
    el("time", { className: "msg-time", text: timeOf(m.ts), title: fullTime(m.ts) }),
  ]);
  const body = el("div", { className: "msg-body" }, [head, ...foldable(text, String(m.text))]);
  if (mine) {
    const meta = el("div", { className: "msg-meta" }, [
      el("span", { className: "tick-label" }), el("span", { className: "tick", "aria-label": "" })]);
    body.append(meta);
    setStatus(node, m.status || "sent", meta.lastChild, c.kind === "room");
  }
  node.append(avatar(m.from), body);
  return node;
}

export function setStatus(node, status, tickNode, inRoom) {
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

// A message element's status moves on (never back from delivered).
export function advanceStatus(node, status) {
  const next = nextStatus(node.dataset.status, status);
  if (next !== node.dataset.status) setStatus(node, next);
}

// The placeholder of a message the server refused for good says why.
export function markFailed(node, reason) {
  setStatus(node, "failed");
  node.querySelector(".msg-meta").prepend(el("span", { className: "msg-error", text: reason }));
}

function markContinuation(node, prev) {
  if (!prev || !prev.classList || !prev.classList.contains("msg")) { node.classList.remove("continued"); return; }
  const same = prev.dataset.from === node.dataset.from &&
    Math.abs(Number(node.dataset.ts) - Number(prev.dataset.ts)) < 5 * 60 * 1000;
  node.classList.toggle("continued", same);
}

export function appendMessage(c, m, quiet) {
  const pane = ensurePane(c);
  // One element per msgId and per placeholder id, whichever path shows it again.
  const existing = c.items.get(m.msgId || "pending:" + m.pendingId);
  if (existing) return existing;
  const stick = state.active === c.key && isNearBottom();
  const node = messageElement(c, m);
  const key = m.msgId || "pending:" + m.pendingId;
  if (m.msgId) c.seen.add(m.msgId);
  c.items.set(key, node);
  noteSeq(c, m.seq);
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

// An older page of history (oldest first) goes above what is shown, the scroll position kept.
export function prependHistory(c, msgs) {
  const scroller = $("messages");
  const isActive = state.active === c.key;
  const prevHeight = scroller.scrollHeight;
  const prevTop = scroller.scrollTop;
  const pane = ensurePane(c);
  const anchor = pane.querySelector(".msg");
  for (const m of msgs) {
    const msgId = String(m.msgId);
    if (c.seen.has(msgId)) continue;
    const node = messageElement(c, { msgId, from: m.from, text: m.text, ts: m.ts, seq: m.seq, status: m.from === state.me ? "sent" : null });
    c.seen.add(msgId);
    c.items.set(msgId, node);
    pane.insertBefore(node, anchor);
    markContinuation(node, node.previousElementSibling);
    noteSeq(c, m.seq);
  }
  if (anchor) markContinuation(anchor, anchor.previousElementSibling);
  if (isActive) scroller.scrollTop = prevTop + (scroller.scrollHeight - prevHeight);
  renderHistoryEdge(c);
}

// A `gap` line: placed by seq before the first message the server still keeps (`next` on), with
// "Load older" when `loadOlder` is given (the server may keep older messages than those shown).
export function showGap(c, next, text, loadOlder) {
  const pane = ensurePane(c);
  const line = el("div", { className: "gap-line", dataset: { seq: String(next - 0.5) } }, [
    document.createTextNode(text),
    loadOlder ? document.createTextNode(" ") : null,
    loadOlder ? el("button", { type: "button", className: "link-button load-older", text: "Load older", onclick: loadOlder }) : null,
  ]);
  let before = null;
  for (const child of pane.children) {
    if (child.dataset.seq && Number(child.dataset.seq) >= next) { before = child; break; }
  }
  pane.insertBefore(line, before);
}

// The "New messages" line: before the first message with a seq after `after` (none: no line).
export function showNewLine(c, after) {
  const pane = ensurePane(c);
  removeNewLine(c);
  let before = null;
  for (const child of pane.children) {
    if (child.classList.contains("msg") && child.dataset.seq && Number(child.dataset.seq) > after) { before = child; break; }
  }
  if (!before) return;
  pane.insertBefore(el("div", { className: "new-line", role: "separator", text: "New messages" }), before);
}

export function removeNewLine(c) {
  if (!c.pane) return;
  for (const line of c.pane.querySelectorAll(".new-line")) line.remove();
}

// A message shown already learns its room seq (a copy from history after the live one).
export function noteShownSeq(c, msgId, seq) {
  const node = c.items.get(msgId);
  if (node && seq !== undefined && seq !== null && !node.dataset.seq) node.dataset.seq = String(seq);
}

// The placeholder element of client id `id`, wherever it is.
export function findPlaceholder(id) {
  for (const c of state.convs.values()) {
    const node = c.items.get("pending:" + id);
    if (node) return { c, node };
  }
  return null;
}

export function findMessageElement(msgId) {
  for (const c of state.convs.values()) {
    const node = c.items.get(msgId);
    if (node) return node;
  }
  return null;
}

// The placeholder of client id `id` becomes the element of `msgId` (one element per msgId).
export function settlePlaceholder(c, node, id, msgId, ts, seq) {
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
    noteSeq(c, seq);
  }
  advanceStatus(node, "sent");
  renderHistoryEdge(c);
}

// The placeholder goes: the message itself is shown already.
export function removePlaceholder(c, node, id) {
  node.remove();
  c.items.delete("pending:" + id);
}

// A conversation left: its messages go.
export function removeConversation(c) {
  if (c.pane) c.pane.remove();
}

// ---------------------------------------------------------------- chrome
export function showApp() {
  $("login").hidden = true;
  $("app").hidden = false;
  $("me-nick").textContent = state.me;
  const a = avatar(state.me, true);
  $("me-avatar").replaceWith(a);
  a.id = "me-avatar";
}

export function isAppShown() { return !$("app").hidden; }

// The conversation `c` fills the main pane.
export function showConversation(c) {
  $("composer-input").disabled = false;
  $("messages").replaceChildren(ensurePane(c));
  renderHistoryEdge(c);
}

// Left every room and no private conversation open: say what to do instead of an empty pane.
export function showNoConversation() {
  $("messages").replaceChildren(el("p", { className: "empty-conv",
    text: "You are in no room now. Join one on the left, or pick someone to talk to privately." }));
  $("conv-title").textContent = "rabbitChat";
  $("conv-subtitle").textContent = "";
  $("leave-button").hidden = true;
  $("typing").textContent = "";
  $("composer-input").disabled = true;
  $("composer-input").placeholder = "Pick a room or a person first";
}

export function focusComposerOnWideScreens() {
  if (window.matchMedia("(min-width: 761px)").matches) $("composer-input").focus();
}

export function renderHeader() {
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
  const total = totalUnread(state.convs.values());
  renderAttention();
  const badge = $("menu-unread");
  badge.hidden = total === 0;
  badge.textContent = String(total);
}

// The unread and mention counts in the title and as a badge on the favicon (drawn on a canvas).
let iconDrawn = "";
export function renderAttention() {
  const counts = attentionCounts(state.convs.values());
  document.title = titleText(counts);
  const badge = badgeFor(counts);
  const key = badge ? badge.label + (badge.mention ? "@" : "") : "";
  if (key === iconDrawn) return;
  iconDrawn = key;
  const link = document.querySelector('link[rel="icon"]');
  if (!link) return;
  link.dataset.badge = key;
  if (!badge) { link.type = "image/svg+xml"; link.href = "/favicon.svg"; return; }
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 64;
  const g = canvas.getContext("2d");
  if (!g) return;
  g.fillStyle = "#c2410c";
  g.beginPath(); g.roundRect(4, 12, 44, 44, 12); g.fill();
  g.fillStyle = badge.mention ? "#b91c1c" : "#1d4ed8";
  g.beginPath(); g.arc(44, 22, 20, 0, 2 * Math.PI); g.fill();
  g.fillStyle = "#ffffff";
  g.font = "bold " + (badge.label.length > 2 ? 18 : 26) + "px system-ui, sans-serif";
  g.textAlign = "center"; g.textBaseline = "middle";
  g.fillText(badge.label, 44, 23);
  link.type = "image/png";
  link.href = canvas.toDataURL("image/png");
}

// The screen reader hears a new message through the polite live region (the history shown on
// load or on switching rooms is not announced). The region keeps its last few lines only.
export function announce(text) {
  const region = $("announcer");
  if (!region) return;
  region.append(el("p", { text }));
  while (region.childElementCount > 3) region.firstElementChild.remove();
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

export function renderSidebar() {
  const rooms = $("room-list");
  rooms.replaceChildren(...state.entered.map((r) => {
    const c = actions.conversation(convKey("room", r));
    return convButton(c, r, { icon: el("span", { className: "hash", text: "#" }), onclick: () => actions.activate(c.key) });
  }));
  const others = [...state.knownRooms].filter((r) => !state.entered.includes(r)).sort();
  $("other-rooms-wrap").hidden = others.length === 0;
  $("other-room-list").replaceChildren(...others.map((r) => convButton(null, r, {
    key: convKey("room", r), icon: el("span", { className: "hash", text: "#" }), onclick: () => actions.enterRoom(r),
  })));

  const names = new Set(state.users.keys());
  for (const c of state.convs.values()) if (c.kind === "dm") names.add(c.name);
  let onlineCount = 0;
  $("user-list").replaceChildren(...sortPeople(names, state.users, state.me).map((nick) => {
    const online = nick === state.me ? state.joined : !!state.users.get(nick);
    if (online) onlineCount++;
    const key = convKey("dm", nick);
    const c = state.convs.get(key) || null;
    return convButton(c, nick, {
      key, className: (online ? "online" : "offline"),
      icon: el("span", { className: "presence-dot" + (online ? " online" : ""), title: online ? "online" : "offline" }),
      suffix: nick === state.me ? el("span", { className: "you", text: "you" }) : null,
      onclick: () => actions.activate(key),
    });
  }));
  for (const li of $("user-list").children) li.firstChild.dataset.nick = li.firstChild.dataset.conv.slice(1);
  $("online-count").textContent = onlineCount + " online";
}

export function renderTyping() {
  const c = state.convs.get(state.active);
  const box = $("typing");
  if (!c) { box.textContent = ""; return; }
  box.textContent = typingText(stillTyping(c.typing, Date.now()));
}

function isNearBottom() {
  const s = $("messages");
  return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
}
export function scrollToBottom(smooth) {
  const s = $("messages");
  s.scrollTo({ top: s.scrollHeight, behavior: smooth ? "smooth" : "auto" });
}

let toastTimer = null;
export function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
}
export function showNotice(text, actionLabel, action) {
  $("notice-text").textContent = text;
  const btn = $("notice-action");
  btn.hidden = !actionLabel;
  btn.textContent = actionLabel || "";
  btn.onclick = action || null;
  $("notice").hidden = false;
}
export function hideNotice() { $("notice").hidden = true; }
export function showEnterError(text) { const e = $("enter-error"); e.textContent = text; e.hidden = false; }
export function hideEnterError() { $("enter-error").hidden = true; }

export function openMenu() { $("app").classList.add("menu-open"); $("menu-button").setAttribute("aria-expanded", "true"); }
export function closeMenu() { $("app").classList.remove("menu-open"); $("menu-button").setAttribute("aria-expanded", "false"); }
export function menuOpen() { return $("app").classList.contains("menu-open"); }

// The sign-in screen, with `message` (or none) and `nick` filled in; `askPassword` puts the focus
// in the password field (the nick is right, the password is what to give).
export function showLogin(message, nick, askPassword) {
  closeAccount();
  $("app").hidden = true;
  $("login").hidden = false;
  const err = $("login-error");
  err.hidden = !message;
  err.textContent = message || "";
  const input = $("nick-input");
  input.value = nick || "";
  $("password-input").value = "";
  renderJoinButton();
  if (askPassword && input.value) {
    $("password-input").focus();
  } else {
    input.focus();
    input.select();
  }
}
// "Sign in" with a password typed, "Join the chat" without.
export function renderJoinButton() {
  $("join-button").textContent = $("password-input").value ? "Sign in" : "Join the chat";
}
export function showLoginError(text) {
  const err = $("login-error");
  err.textContent = text;
  err.hidden = false;
}
export function hideLoginError() { $("login-error").hidden = true; }

export function clearMessages() { $("messages").replaceChildren(); }

// The welcome lists the online and most recently seen nicks only (at most 500); this field asks
// the server (through `search(prefix)`) for the others by prefix, and the answer joins the list.
export function wireUserSearch(search) {
  const list = $("user-list");
  if (!list || $("user-search")) return;
  const input = el("input", { id: "user-search", type: "search", className: "user-search",
    placeholder: "Find someone…", maxlength: 32, autocomplete: "off", "aria-label": "Find someone by nick" });
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const prefix = input.value.trim();
      if (prefix && /^[A-Za-z0-9_.-]{1,32}$/.test(prefix)) search(prefix);
    }, 250);
  });
  list.before(input);
}

// ---------------------------------------------------------------- @nick completion and theme
// The list of nicks for the `@prefix` typed: a listbox under the composer, the textarea pointing at
// the highlighted option (aria-activedescendant), so a screen reader says which one Enter takes.
export function showMentionList(nicks, index, pick) {
  const list = $("mention-list");
  const input = $("composer-input");
  list.replaceChildren(...nicks.map((nick, i) => {
    const option = el("li", { id: "mention-option-" + i, role: "option", className: "mention-option",
      "aria-selected": i === index ? "true" : "false", dataset: { nick } }, [avatar(nick, true), el("span", { text: nick })]);
    option.addEventListener("mousedown", (e) => { e.preventDefault(); pick(i); });
    return option;
  }));
  list.hidden = false;
  input.setAttribute("aria-activedescendant", "mention-option-" + index);
}
export function hideMentionList() {
  const list = $("mention-list");
  list.hidden = true;
  list.replaceChildren();
  const input = $("composer-input");
  input.removeAttribute("aria-activedescendant");
}

const THEME_LABELS = { system: "Theme: system", light: "Theme: light", dark: "Theme: dark" };
export function renderThemeButton(theme) {
  const button = $("theme-button");
  if (!button) return;
  const label = THEME_LABELS[theme] || THEME_LABELS.system;
  button.querySelector(".theme-label").textContent = label;
  button.setAttribute("aria-label", label); // the name a phone's glyph-only button keeps
  button.dataset.theme = theme;
  button.title = "Switch between the system's theme, light and dark";
}

// ---------------------------------------------------------------- account: password and devices
export function accountOpen() { return !$("account").hidden; }
export function openAccount() {
  $("account").hidden = false;
  $("app").classList.add("account-open");
  $("account-button").setAttribute("aria-expanded", "true");
  $("password-username").value = state.me || "";
  closeMenu();
  $("account-title").focus();
}
export function closeAccount() {
  if ($("account").hidden) return;
  $("account").hidden = true;
  $("app").classList.remove("account-open");
  $("account-button").setAttribute("aria-expanded", "false");
}

// The password form says whether it protects the nick or changes its password.
export function renderPasswordForm(protectedNick) {
  $("password-title").textContent = protectedNick ? "Change your password" : "Protect your nick with a password";
  $("password-lead").textContent = protectedNick
    ? "Your nick is protected: sign in to it with its password from any browser."
    : "With a password, only you can use this nick, and you can sign in to it from any browser.";
  $("password-submit").textContent = protectedNick ? "Change password" : "Protect my nick";
}
const PASSWORD_FIELDS = { new: "password-new", repeat: "password-repeat", current: "password-current" };
// An error in one sentence; `field` (new, repeat or current) is marked invalid and focused.
export function showPasswordError(text, field) {
  const err = $("password-error");
  err.textContent = text;
  err.hidden = false;
  $("password-status").textContent = "";
  for (const [name, id] of Object.entries(PASSWORD_FIELDS)) {
    const input = $(id);
    if (name === field) { input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-errormessage", "password-error"); }
    else { input.removeAttribute("aria-invalid"); input.removeAttribute("aria-errormessage"); }
  }
  if (field) $(PASSWORD_FIELDS[field]).focus();
}
export function showPasswordStatus(text) {
  $("password-error").hidden = true;
  for (const id of Object.values(PASSWORD_FIELDS)) { $(id).removeAttribute("aria-invalid"); $(id).removeAttribute("aria-errormessage"); }
  $("password-status").textContent = text;
}
export function clearPasswordForm() {
  for (const id of Object.values(PASSWORD_FIELDS)) $(id).value = "";
}
export function setPasswordBusy(busy) { $("password-submit").disabled = busy; }

// The devices signed in to this nick: label, when signed in, when last seen, "this device", and a
// "Sign out" for each (`signOut(id)`). Labels are the user's text: they go in as text only.
export function renderDevices(devices, now, signOut) {
  $("device-list").replaceChildren(...devices.map((d) => el("li", { dataset: { device: d.id, current: d.current ? "true" : "false" } }, [
    el("div", { className: "device-info" }, [
      el("div", null, [el("span", { className: "device-label", text: d.label }),
        d.current ? el("span", { className: "device-this", text: "this device" }) : null]),
      el("div", { className: "device-times", text:
        "Signed in " + (d.created === null ? "at an unknown time" : new Date(d.created).toLocaleString()) +
        " · last seen " + (d.current ? "now" : agoText(d.lastSeen, now)) }),
    ]),
    el("button", { type: "button", className: "ghost-button device-signout", text: "Sign out",
      "aria-label": "Sign out " + d.label + (d.current ? " (this device)" : ""), onclick: () => signOut(d.id) }),
  ])));
}
export function showDevicesError(text) {
  const err = $("devices-error");
  err.textContent = text || "";
  err.hidden = !text;
  if (text) $("devices-status").textContent = "";
}
export function showDevicesStatus(text) {
  $("devices-error").hidden = true;
  $("devices-status").textContent = text;
}

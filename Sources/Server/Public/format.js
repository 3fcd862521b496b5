// rabbitChat page: the text people write, parsed into a small tree that view.js turns into DOM
// nodes (never innerHTML). Pure: no DOM, tested under Node (Tests/node/format.test.js).
//
// Marks: ```code block```, `inline code`, **bold**, _italics_ or *italics*, http(s) links,
// @nick mentions and :emoji: shortcodes. A marker without its closing partner stays as text.
// Nodes: {t: "text", v}, {t: "pre", v}, {t: "code", v}, {t: "b", c: [nodes]}, {t: "i", c: [nodes]},
// {t: "link", href, v}, {t: "mention", nick}.

// Texts longer than this are shown as plain text (a server text is at most 4000 scalars; this
// bounds what a hostile archive or a future server could hand the parser).
export const MAX_FORMAT_CHARS = 20000;
// Steps the parser may take for one text before it gives up and shows it plain.
export const MAX_FORMAT_STEPS = 200000;
// Bold and italics nest at most this deep; deeper markers stay as text.
const MAX_DEPTH = 3;

// A small fixed table of shortcodes.
export const EMOJI = Object.freeze({
  smile: "\u{1F604}", grin: "\u{1F601}", joy: "\u{1F602}", wink: "\u{1F609}", heart: "\u2764\uFE0F",
  thumbsup: "\u{1F44D}", "+1": "\u{1F44D}", thumbsdown: "\u{1F44E}", "-1": "\u{1F44E}", tada: "\u{1F389}",
  fire: "\u{1F525}", rocket: "\u{1F680}", eyes: "\u{1F440}", thinking: "\u{1F914}", cry: "\u{1F622}",
  ok_hand: "\u{1F44C}", wave: "\u{1F44B}", clap: "\u{1F44F}", pray: "\u{1F64F}", rabbit: "\u{1F407}",
  coffee: "\u2615", check: "\u2705", x: "\u274C", warning: "\u26A0\uFE0F", bug: "\u{1F41B}",
  sweat_smile: "\u{1F605}", sunglasses: "\u{1F60E}", slightly_smiling_face: "\u{1F642}", laughing: "\u{1F606}",
  100: "\u{1F4AF}",
});

const NICK_CHAR = /[A-Za-z0-9_.-]/;
const WORD_CHAR = /[\p{L}\p{N}_]/u;
const SPACE = /\s/;

class Budget {
  constructor(limit) { this.left = limit; }
  step(n) { this.left -= n || 1; if (this.left < 0) throw OVER; }
}
const OVER = { over: true };

// The tree of `text`; bounded in length and work (beyond either: one plain text node).
export function parseMessage(text, options) {
  const s = String(text);
  const steps = (options && options.maxSteps) || MAX_FORMAT_STEPS;
  if (s.length > MAX_FORMAT_CHARS) return [{ t: "text", v: s }];
  const budget = new Budget(steps);
  try {
    return merge(blocks(s, budget));
  } catch (e) {
    if (e === OVER) return [{ t: "text", v: s }];
    throw e;
  }
}

// Code blocks first: ``` ... ``` (an optional language word on the opening line is dropped).
function blocks(s, budget) {
  const out = [];
  let pos = 0;
  for (;;) {
    const open = s.indexOf("```", pos);
    if (open < 0) break;
    const close = s.indexOf("```", open + 3);
    budget.step(1);
    if (close < 0) break; // unclosed: the rest is ordinary text
    let body = s.slice(open + 3, close);
    const nl = body.indexOf("\n");
    if (nl >= 0 && /^[A-Za-z0-9_+-]{0,20}$/.test(body.slice(0, nl))) body = body.slice(nl + 1);
    if (body.endsWith("\n")) body = body.slice(0, -1);
    out.push(...inline(s.slice(pos, open), budget, 0));
    out.push({ t: "pre", v: body });
    pos = close + 3;
    if (s[pos] === "\n") pos++; // the line break after a block is the block's own
  }
  out.push(...inline(s.slice(pos), budget, 0));
  return out;
}

function isWord(ch) { return ch !== undefined && WORD_CHAR.test(ch); }
function isSpace(ch) { return ch === undefined || SPACE.test(ch); }

// Inline marks of `s`. `failed` remembers markers with no closing partner from some position on:
// a later search for the same marker cannot succeed either, so no text is scanned twice for it.
function inline(s, budget, depth) {
  const out = [];
  const failed = new Map(); // marker -> the position from which no closing partner exists
  let buf = "";
  const flush = () => { if (buf) { out.push({ t: "text", v: buf }); buf = ""; } };
  let i = 0;
  while (i < s.length) {
    budget.step(1);
    const ch = s[i];
    // `code`
    if (ch === "`") {
      const close = findPlain(s, "`", i + 1, failed, budget);
      if (close > i + 1) {
        flush();
        out.push({ t: "code", v: s.slice(i + 1, close) });
        i = close + 1;
        continue;
      }
    }
    // **bold**
    if (ch === "*" && s[i + 1] === "*" && depth < MAX_DEPTH && !isSpace(s[i + 2])) {
      const close = findCloser(s, "**", i + 2, failed, budget);
      if (close > i + 2) {
        flush();
        out.push({ t: "b", c: inline(s.slice(i + 2, close), budget, depth + 1) });
        i = close + 2;
        continue;
      }
    }
    // _italics_ or *italics*: opened at a word's start, closed at a word's end.
    if ((ch === "_" || ch === "*") && depth < MAX_DEPTH && !isWord(s[i - 1]) && s[i + 1] !== ch && !isSpace(s[i + 1])) {
      const close = findCloser(s, ch, i + 1, failed, budget);
      if (close > i + 1) {
        flush();
        out.push({ t: "i", c: inline(s.slice(i + 1, close), budget, depth + 1) });
        i = close + 1;
        continue;
      }
    }
    // http(s) links, at a word's start.
    if ((ch === "h" || ch === "H") && !isWord(s[i - 1])) {
      const link = linkAt(s, i, budget);
      if (link) {
        flush();
        out.push({ t: "link", href: link.href, v: link.text });
        i += link.text.length;
        continue;
      }
    }
    // @nick
    if (ch === "@" && !isWord(s[i - 1]) && s[i - 1] !== "@") {
      let j = i + 1;
      while (j < s.length && j - i <= 32 && NICK_CHAR.test(s[j])) { j++; budget.step(1); }
      const tooLong = j < s.length && NICK_CHAR.test(s[j]);
      while (j > i + 1 && s[j - 1] === ".") j--; // a sentence's full stop is not the nick's
      if (j > i + 1 && !tooLong) {
        flush();
        out.push({ t: "mention", nick: s.slice(i + 1, j) });
        i = j;
        continue;
      }
    }
    // :shortcode:
    if (ch === ":") {
      const end = s.indexOf(":", i + 1);
      if (end > i + 1 && end - i <= 32) {
        budget.step(end - i);
        const name = s.slice(i + 1, end);
        if (Object.prototype.hasOwnProperty.call(EMOJI, name)) {
          buf += EMOJI[name];
          i = end + 1;
          continue;
        }
      }
    }
    buf += ch;
    i++;
  }
  flush();
  return out;
}

// The next `marker` from `from`, or -1 (remembered in `failed`).
function findPlain(s, marker, from, failed, budget) {
  const key = "plain" + marker;
  if (failed.has(key) && from >= failed.get(key)) return -1;
  const at = s.indexOf(marker, from);
  budget.step(at < 0 ? s.length - from : at - from);
  if (at < 0) failed.set(key, Math.min(failed.has(key) ? failed.get(key) : from, from));
  return at;
}

// The next `marker` from `from` that closes a word (no space before it, no word character after
// it), or -1 (remembered in `failed`).
function findCloser(s, marker, from, failed, budget) {
  if (failed.has(marker) && from >= failed.get(marker)) return -1;
  let at = from;
  for (;;) {
    at = s.indexOf(marker, at);
    if (at < 0) {
      budget.step(s.length - from);
      failed.set(marker, Math.min(failed.has(marker) ? failed.get(marker) : from, from));
      return -1;
    }
    budget.step(1);
    const after = s[at + marker.length];
    if (at > from && !isSpace(s[at - 1]) && !isWord(after) && !(marker.length === 1 && after === marker)) {
      return at;
    }
    at += marker.length;
  }
}

// An http or https link at `i`: it runs to a space or a quote/angle bracket; trailing
// punctuation (and a closing bracket without its opening one) is the sentence's.
const LINK_RE = /^https?:\/\/[^\s<>"'`]+/i;
function linkAt(s, i, budget) {
  if (!/^https?:\/\//i.test(s.slice(i, i + 8))) return null;
  const m = LINK_RE.exec(s.slice(i, i + 2048 + 8));
  if (!m) return null;
  let text = m[0];
  budget.step(text.length);
  for (;;) {
    const last = text[text.length - 1];
    if (".,;:!?*_".includes(last)) { text = text.slice(0, -1); continue; }
    if (last === ")" && count(text, "(") < count(text, ")")) { text = text.slice(0, -1); continue; }
    break;
  }
  const href = safeHref(text);
  return href ? { href, text } : null;
}
function count(s, ch) { let n = 0; for (const c of s) if (c === ch) n++; return n; }

// The URL as the browser will read it, only when its scheme is http or https and it has a host.
export function safeHref(text) {
  let u;
  try { u = new URL(text); } catch (_) { return null; }
  if ((u.protocol !== "http:" && u.protocol !== "https:") || !u.hostname) return null;
  return u.href;
}

// Neighbouring text nodes become one.
function merge(nodes) {
  const out = [];
  for (const n of nodes) {
    const last = out[out.length - 1];
    if (n.t === "text" && last && last.t === "text") last.v += n.v;
    else if (n.t === "text" && !n.v) continue;
    else out.push(n);
  }
  return out;
}

// The nicks `text` mentions (in the order they first come, each once).
export function mentionsIn(nodes) {
  const out = [];
  const walk = (list) => {
    for (const n of list) {
      if (n.t === "mention" && !out.includes(n.nick)) out.push(n.nick);
      if (n.c) walk(n.c);
    }
  };
  walk(nodes);
  return out;
}

// The text of a tree without its marks (notifications and the screen reader's announcement).
export function plainText(nodes) {
  let s = "";
  for (const n of nodes) {
    if (n.t === "mention") s += "@" + n.nick;
    else if (n.c) s += plainText(n.c);
    else s += n.v;
  }
  return s;
}

// Long messages fold: more than FOLD_LINES lines or FOLD_CHARS characters.
export const FOLD_LINES = 12;
export const FOLD_CHARS = 800;
export function shouldFold(text) {
  const s = String(text);
  if (s.length > FOLD_CHARS) return true;
  let lines = 1;
  for (let i = 0; i < s.length; i++) if (s[i] === "\n" && ++lines > FOLD_LINES) return true;
  return false;
}

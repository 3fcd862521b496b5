// rabbitChat page: what calls for the user's attention — @nick completion in the composer, the
// counts in the title and on the favicon, and when a desktop notification is due. Pure: no DOM,
// tested under Node (Tests/node/attention.test.js).

const NICK_CHARS = /[A-Za-z0-9_.-]/;

// The `@prefix` being typed just before the caret: {start, prefix} (start is the "@"'s index),
// or null. The "@" begins the text or follows a space or an opening bracket.
export function mentionQuery(text, caret) {
  const s = String(text);
  let i = Math.min(caret, s.length);
  const end = i;
  while (i > 0 && end - i <= 32 && NICK_CHARS.test(s[i - 1])) i--;
  if (i === 0 || s[i - 1] !== "@") return null;
  const at = i - 1;
  if (at > 0 && !/[\s([{"']/.test(s[at - 1])) return null;
  const prefix = s.slice(i, end);
  if (prefix.length > 32) return null;
  return { start: at, prefix };
}

// Up to `limit` nicks starting with `prefix` (case-insensitive), ourselves left out: those that
// start with the exact case first, then by name.
export function mentionCandidates(prefix, nicks, me, limit) {
  const p = String(prefix).toLowerCase();
  const out = [];
  for (const n of new Set(nicks)) {
    if (n === me || !n.toLowerCase().startsWith(p)) continue;
    out.push(n);
  }
  out.sort((a, b) => {
    const ea = a.startsWith(prefix) ? 0 : 1;
    const eb = b.startsWith(prefix) ? 0 : 1;
    return ea - eb || (a < b ? -1 : a > b ? 1 : 0);
  });
  return out.slice(0, limit || 8);
}

// The text with the `@prefix` at `query` (up to `caret`) replaced by "@nick ": {text, caret}.
export function completeMention(text, query, caret, nick) {
  const s = String(text);
  const insert = "@" + nick + " ";
  const rest = s.slice(caret);
  const after = rest.startsWith(" ") ? rest.slice(1) : rest;
  return { text: s.slice(0, query.start) + insert + after, caret: query.start + insert.length };
}

// A conversation's mention count after a message that counts as unread: a count left from before
// the unread count was last cleared goes (`unreadNow` is the count with this message).
export function bumpMentions(previous, unreadNow) {
  return (unreadNow <= 1 ? 0 : previous || 0) + 1;
}

// The totals over conversations {unread, mentions}: a conversation's mentions count only while it
// has unread messages, and never more than them.
export function attentionCounts(convs) {
  let unread = 0;
  let mentions = 0;
  for (const c of convs) {
    const u = c.unread || 0;
    unread += u;
    if (u > 0) mentions += Math.min(c.mentions || 0, u);
  }
  return { unread, mentions };
}

// The document title: "(5) rabbitChat", with mentions "(@2 · 5) rabbitChat".
export function titleText(counts, base) {
  const name = base || "rabbitChat";
  if (!counts.unread) return name;
  return "(" + (counts.mentions ? "@" + counts.mentions + " \u00B7 " : "") + counts.unread + ") " + name;
}

// The favicon badge: null without unread messages, else its label (at most "99+") and whether it
// is a mention's (drawn in a stronger colour).
export function badgeFor(counts) {
  if (!counts.unread) return null;
  const n = counts.mentions || counts.unread;
  return { label: n > 99 ? "99+" : String(n), mention: counts.mentions > 0 };
}

// A desktop notification is due for a live message from someone else, private or naming us, while
// the page is hidden and the user allowed notifications.
export function shouldNotify({ live, mine, kind, mentionsMe, hidden, permission }) {
  if (!live || mine || !hidden || permission !== "granted") return false;
  return kind === "dm" || mentionsMe;
}

// The notification's title and body (the body cut to 160 characters).
export function notificationFor({ from, kind, room, text }) {
  const title = kind === "dm" ? from + " (private)" : from + " mentioned you in #" + room;
  const body = text.length > 160 ? text.slice(0, 159) + "\u2026" : text;
  return { title, body };
}

// The live region's sentence for a new message (cut to 200 characters).
export function announcementFor({ from, kind, room, text, mentionsMe }) {
  const where = kind === "dm" ? "privately" : "in #" + room;
  const s = from + (mentionsMe ? " mentioned you " : " ") + where + ": " + text;
  return s.length > 200 ? s.slice(0, 199) + "\u2026" : s;
}

// The theme after a press of the theme button: system, light, dark, then system again.
export const THEMES = ["system", "light", "dark"];
export function nextTheme(theme) {
  const i = THEMES.indexOf(theme);
  return THEMES[(i + 1) % THEMES.length];
}

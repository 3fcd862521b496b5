// The page's protocol rules (Sources/Server/Public/protocol.js) on their own: no browser, no
// socket, no clock; time and randomness are arguments.
//
//   node --test Tests/node/protocol.test.js
'use strict';
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const FILE = path.resolve(__dirname, '..', '..', 'Sources', 'Server', 'Public', 'protocol.js');
let P;

before(async () => {
  try {
    P = await import(pathToFileURL(FILE).href);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    // A Node without module syntax detection (before 20.19, e.g. Debian 12's 18) reads a .js file
    // with no package.json as CommonJS; the same text as a data: URL is always a module.
    P = await import('data:text/javascript;base64,' + fs.readFileSync(FILE).toString('base64'));
  }
});

const room = (name) => ({ kind: 'room', name });
const dm = (name) => ({ kind: 'dm', name });

// ---------------------------------------------------------------- names and conversations

test('conversation keys: rooms are #name, private ones @nick; a message belongs to its room or the other person', () => {
  assert.equal(P.convKey('room', 'lobby'), '#lobby');
  assert.equal(P.convKey('dm', 'bob'), '@bob');
  assert.equal(P.homeKey({ type: 'say', id: 'c1', room: 'lobby', text: 'x' }), '#lobby');
  assert.equal(P.homeKey({ type: 'tell', id: 'c1', to: 'bob', text: 'x' }), '@bob');
  assert.equal(P.convKeyOfMessage({ room: 'dev', from: 'bob' }, 'alice'), '#dev');
  assert.equal(P.convKeyOfMessage({ room: null, from: 'bob', to: 'alice' }, 'alice'), '@bob');
  // Our own private message, copied to another tab of ours: the conversation is the recipient's.
  assert.equal(P.convKeyOfMessage({ from: 'alice', to: 'bob' }, 'alice'), '@bob');
  // Notes to ourselves.
  assert.equal(P.convKeyOfMessage({ from: 'alice', to: 'alice' }, 'alice'), '@alice');
});

test('a new conversation: rooms may have older history, private ones not; nothing seen or unread', () => {
  const r = P.newConversation('#lobby');
  assert.equal(r.kind, 'room');
  assert.equal(r.name, 'lobby');
  assert.equal(r.hasMore, true);
  assert.equal(r.oldestSeq, null);
  assert.equal(r.unread, 0);
  assert.equal(r.seen.size, 0);
  const d = P.newConversation('@__proto__');
  assert.equal(d.kind, 'dm');
  assert.equal(d.name, '__proto__');
  assert.equal(d.hasMore, false);
});

test('noteSeq keeps the oldest room seq and ignores messages without one', () => {
  const c = P.newConversation('#lobby');
  P.noteSeq(c, 10);
  P.noteSeq(c, 12);
  assert.equal(c.oldestSeq, 10);
  P.noteSeq(c, 3);
  assert.equal(c.oldestSeq, 3);
  P.noteSeq(c, undefined);
  P.noteSeq(c, null);
  assert.equal(c.oldestSeq, 3);
  P.noteSeq(c, 0);
  assert.equal(c.oldestSeq, 0);
});

test('history: the server saying more (or not) decides, however short the answer; without it a short page is the beginning', () => {
  assert.equal(P.historyHasMore(true, 3), true);         // cut by bytes: 3 of 50, yet more
  assert.equal(P.historyHasMore(false, P.HISTORY_PAGE), false);
  assert.equal(P.historyHasMore(undefined, 3), false);   // a server without `more`
  assert.equal(P.historyHasMore(undefined, P.HISTORY_PAGE), true);
  const welcome = { moreHistory: ['dev'] };
  assert.equal(P.welcomeRoomMore(welcome, 'dev'), true);
  assert.equal(P.welcomeRoomMore(welcome, 'lobby'), false);
  assert.equal(P.welcomeRoomMore({}, 'lobby'), undefined);
});

test('names and lengths: 1 to 32 of letters, digits, _ . -; text length in Unicode scalars', () => {
  assert.ok(P.NAME_RE.test('alice_1.x-y'));
  assert.ok(!P.NAME_RE.test(''));
  assert.ok(!P.NAME_RE.test('a'.repeat(33)));
  assert.ok(!P.NAME_RE.test('a b'));
  assert.equal(P.scalarLength('abc'), 3);
  assert.equal(P.scalarLength('🐇🐇'), 2); // two scalars, four UTF-16 units
});

// ---------------------------------------------------------------- the outbox

test('the outbox keeps unconfirmed say and tell frames oldest first, and resends them with their ids', () => {
  const o = new P.Outbox();
  const a = o.add(room('lobby'), 'c1', 'hello', 1000);
  const b = o.add(dm('bob'), 'c2', 'psst', 2000);
  assert.deepEqual(a, { frame: { type: 'say', id: 'c1', room: 'lobby', text: 'hello' }, createdAt: 1000 });
  assert.deepEqual(b.frame, { type: 'tell', id: 'c2', to: 'bob', text: 'psst' });
  assert.equal(o.length, 2);
  assert.deepEqual(o.frames().map((f) => f.id), ['c1', 'c2']);
  assert.equal(o.find('c2'), b);
  assert.equal(o.find('nope'), null);
  assert.equal(o.take('c1'), a);
  assert.equal(o.take('c1'), null, 'a second sent for the same id finds nothing');
  assert.deepEqual(o.frames().map((f) => f.id), ['c2']);
  o.clear();
  assert.equal(o.length, 0);
});

test('the outbox survives a reload as JSON, and drops stored entries that are not messages', () => {
  const o = new P.Outbox();
  o.add(room('lobby'), 'c1', 'hello', 1000);
  o.add(dm('bob'), 'c2', 'psst', 2000);
  const stored = JSON.parse(JSON.stringify(o));
  const back = new P.Outbox(stored);
  assert.deepEqual(back.entries, o.entries);
  assert.equal(new P.Outbox(null).length, 0);
  assert.equal(new P.Outbox({ c1: 1 }).length, 0);
  assert.equal(new P.Outbox([null, { frame: {} }, { frame: { id: 'c3', type: 'say', room: 'x', text: 't' } }]).length, 1);
});

test('an error naming an outbox id: unavailable and rate_limited keep it for a retry, anything else fails it', () => {
  assert.deepEqual(P.outboxErrorPlan('unavailable'),
    { retryMs: P.RETRY_UNAVAILABLE_MS, toast: 'The chat cannot store messages right now; retrying…' });
  assert.deepEqual(P.outboxErrorPlan('rate_limited'), { retryMs: P.RETRY_RATE_LIMITED_MS, toast: null });
  for (const code of ['invalid_text', 'not_in_room', 'inbox_full', 'whatever']) {
    assert.deepEqual(P.outboxErrorPlan(code), { retryMs: null }, code);
  }
});

// ---------------------------------------------------------------- reconciliation

test('only live private messages are acked: not public ones, not history', () => {
  assert.equal(P.needsAck({ to: 'alice', from: 'bob' }, true), true);
  assert.equal(P.needsAck({ to: 'alice', from: 'bob' }, false), false);
  assert.equal(P.needsAck({ room: 'lobby', from: 'bob' }, true), false);
  assert.equal(P.needsAck({ room: 'lobby', to: null, from: 'bob' }, true), false);
});

test('a message id is a string or a number, kept as a string; anything else makes the frame unusable', () => {
  assert.equal(P.messageId({ msgId: 'm1' }), 'm1');
  assert.equal(P.messageId({ msgId: 42 }), '42');
  assert.equal(P.messageId({}), null);
  assert.equal(P.messageId({ msgId: null }), null);
  assert.equal(P.messageId({ msgId: { x: 1 } }), null);
});

test('planSent: a placeholder still shown settles into the message, or goes when the message is shown already', () => {
  assert.deepEqual(P.planSent({ placeholderSeen: false }), { placeholder: 'settle' });
  assert.deepEqual(P.planSent({ placeholderSeen: true }), { placeholder: 'remove' });
});

test('planSent: a second sent for the same id (the answer to a retry) changes nothing', () => {
  // The first `sent` settled the placeholder: none is shown any more.
  assert.deepEqual(P.planSent({ placeholderSeen: null }), { placeholder: null });
});

test('the page guesses nothing: no text matching of our own copies is left', () => {
  assert.equal(P.adoptPending, undefined);
  assert.equal(P.ADOPT_SKEW_MS, undefined);
});

test('a re-join lists the unanswered ids (at most JOIN_PENDING_MAX, oldest first), and the welcome names their msgIds', () => {
  assert.deepEqual(P.joinFrame('alice', 't0k', null, ['dev'], ['c1', 'c2']).pending, ['c1', 'c2']);
  assert.equal('pending' in P.joinFrame('alice', 't0k', null, ['dev'], []), false);
  const many = Array.from({ length: P.JOIN_PENDING_MAX + 5 }, (_, i) => 'c' + i);
  assert.deepEqual(P.joinFrame('alice', 't0k', null, ['dev'], many).pending, many.slice(0, P.JOIN_PENDING_MAX));
  const byMsgId = P.pendingByMsgId({ pending: { c1: 'm1', c2: 'm2', bad: 7 } });
  assert.deepEqual([...byMsgId.entries()], [['m1', 'c1'], ['m2', 'c2']]);
  assert.equal(P.pendingByMsgId({}).size, 0);
  assert.equal(P.pendingByMsgId({ pending: ['c1'] }).size, 0);
  assert.equal(P.pendingByMsgId(null).size, 0);
});

test('every order of sent, live echo and re-join history ends with one element per message', () => {
  // The reconciliation rules played on a model of the page (a conversation's placeholders and
  // shown msgIds). Live, `sent` comes first (the server holds our copy back); our copy in the
  // history of a re-join can come before the retry's `sent`.
  function page() { return { o: new P.Outbox(), placeholders: [], shown: [] }; }
  function type(p, id, text) { p.o.add(room('lobby'), id, text, 1000); p.placeholders.push(id); }
  function echo(p, msgId) { if (!p.shown.includes(msgId)) p.shown.push(msgId); }
  function sent(p, id, msgId) {
    p.o.take(id);
    const has = p.placeholders.includes(id);
    const plan = P.planSent({ placeholderSeen: has ? p.shown.includes(msgId) : null });
    if (plan.placeholder) p.placeholders.splice(p.placeholders.indexOf(id), 1);
    if (plan.placeholder === 'settle') p.shown.push(msgId);
  }
  const orders = {
    'sent-then-echo': (p) => { sent(p, 'c1', 'm1'); echo(p, 'm1'); },
    'history-then-sent': (p) => { echo(p, 'm1'); sent(p, 'c1', 'm1'); },
    'history-then-sent-twice': (p) => { echo(p, 'm1'); sent(p, 'c1', 'm1'); sent(p, 'c1', 'm1'); },
    'two-same-texts-history-crossed': (p) => {
      type(p, 'c2', 'hi');
      echo(p, 'm1'); echo(p, 'm2'); sent(p, 'c2', 'm2'); sent(p, 'c1', 'm1');
    },
    'two-same-texts-sent-first': (p) => {
      type(p, 'c2', 'hi');
      sent(p, 'c1', 'm1'); sent(p, 'c2', 'm2'); echo(p, 'm1'); echo(p, 'm2');
    },
  };
  for (const [name, play] of Object.entries(orders)) {
    const p = page();
    type(p, 'c1', 'hi');
    play(p);
    assert.deepEqual(p.placeholders, [], name + ': no placeholder left');
    assert.equal(p.o.length, 0, name + ': outbox empty');
    assert.equal(new Set(p.shown).size, p.shown.length, name + ': no msgId twice');
    const expected = name.startsWith('two') ? ['m1', 'm2'] : ['m1'];
    assert.deepEqual([...p.shown].sort(), expected, name);
  }
});

test('a status moves on from pending to sent to delivered, never back', () => {
  assert.equal(P.nextStatus('pending', 'sent'), 'sent');
  assert.equal(P.nextStatus('failed', 'sent'), 'sent');
  assert.equal(P.nextStatus('sent', 'delivered'), 'delivered');
  assert.equal(P.nextStatus('delivered', 'sent'), 'delivered');
});

// ---------------------------------------------------------------- acks

test('acks: the first msgId arms one timer, later ones wait for it, one flush sends them in one frame', () => {
  const q = new P.AckQueue();
  assert.equal(q.push('m1'), 'arm');
  assert.equal(q.push('m2'), null);
  assert.equal(q.push('m3'), null);
  const frames = [];
  assert.equal(q.flush((f) => { frames.push(f); return true; }), 3);
  assert.deepEqual(frames, [{ type: 'ack', msgIds: ['m1', 'm2', 'm3'] }]);
  assert.equal(q.push('m4'), 'arm', 'after a flush the next msgId arms the timer again');
});

test('acks: a full batch flushes at once, and a long queue goes in frames of at most ACK_BATCH', () => {
  const q = new P.AckQueue(3);
  assert.equal(q.push('a'), 'arm');
  assert.equal(q.push('b'), null);
  assert.equal(q.push('c'), 'flush');
  const frames = [];
  q.flush((f) => { frames.push(f); return true; });
  assert.deepEqual(frames.map((f) => f.msgIds), [['a', 'b', 'c']]);
  const big = new P.AckQueue(3);
  for (const id of ['1', '2', '3', '4', '5', '6', '7']) big.pending.push(id);
  const sent = [];
  assert.equal(big.flush((f) => { sent.push(f.msgIds); return true; }), 7);
  assert.deepEqual(sent, [['1', '2', '3'], ['4', '5', '6'], ['7']]);
  assert.equal(P.ACK_BATCH, 100);
});

test('acks: a batch the socket does not take stays queued, in order, for the next connection', () => {
  const q = new P.AckQueue(2);
  q.push('a'); q.push('b');
  q.pending.push('c');
  let calls = 0;
  assert.equal(q.flush(() => { calls++; return calls === 1; }), 2, 'the first frame went, the second did not');
  assert.deepEqual(q.pending, ['c']);
  q.disarm(); // the connection closed
  assert.equal(q.push('d'), 'flush');
  const sent = [];
  q.flush((f) => { sent.push(f.msgIds); return true; });
  assert.deepEqual(sent, [['c', 'd']]);
  assert.deepEqual(q.pending, []);
});

// ---------------------------------------------------------------- connection rules

test('backoff: between half and all of 500 ms doubled per attempt, capped at 30 s', () => {
  assert.equal(P.backoffDelay(0, 0), 250);
  assert.equal(P.backoffDelay(0, 0.999999), 500);
  assert.equal(P.backoffDelay(1, 0), 500);
  assert.equal(P.backoffDelay(3, 0.5), 3000);
  for (const attempt of [6, 7, 20, 1000]) {
    assert.equal(P.backoffDelay(attempt, 0), 15000, String(attempt));
    assert.equal(P.backoffDelay(attempt, 0.999999), 30000, String(attempt));
  }
});

test('join: the token when we hold one, else the nonce; the lobby when we were in no room', () => {
  assert.deepEqual(P.joinFrame('alice', 't0k', 'n0', ['dev']), { type: 'join', nick: 'alice', token: 't0k', rooms: ['dev'] });
  assert.deepEqual(P.joinFrame('alice', undefined, 'n0', ['dev', 'ops']),
    { type: 'join', nick: 'alice', nonce: 'n0', rooms: ['dev', 'ops'] });
  assert.deepEqual(P.joinFrame('alice', null, 'n0', []).rooms, ['lobby']);
  assert.deepEqual(P.joinFrame('alice', null, 'n0', 'garbage').rooms, ['lobby']);
});

// ---------------------------------------------------------------- unread, typing, people

test('unread: a live message of someone else counts unless its conversation is on screen and the page visible', () => {
  const base = { live: true, mine: false, activeKey: '#lobby', convKey: '#dev', hidden: false };
  assert.equal(P.countsAsUnread(base), true);
  assert.equal(P.countsAsUnread({ ...base, convKey: '#lobby' }), false, 'on screen');
  assert.equal(P.countsAsUnread({ ...base, convKey: '#lobby', hidden: true }), true, 'tab in the background');
  assert.equal(P.countsAsUnread({ ...base, mine: true }), false, 'ours');
  assert.equal(P.countsAsUnread({ ...base, live: false }), false, 'history');
  assert.equal(P.totalUnread([{ unread: 2 }, { unread: 0 }, { unread: 5 }]), 7);
  assert.equal(P.totalUnread([]), 0);
});

test('typing: expired marks go; the line names one, up to three, or says several', () => {
  const typing = new Map([['bob', 1000], ['carol', 2000], ['dave', 3000]]);
  assert.deepEqual(P.stillTyping(typing, 1000), ['carol', 'dave']);
  assert.deepEqual([...typing.keys()], ['carol', 'dave']);
  assert.equal(P.typingText([]), '');
  assert.equal(P.typingText(['bob']), 'bob is typing…');
  assert.equal(P.typingText(['bob', 'carol', 'dave']), 'bob, carol, dave are typing…');
  assert.equal(P.typingText(['a', 'b', 'c', 'd']), 'Several people are typing…');
});

test('presence: changes apply; our own nick going offline while joined is an older session of ours', () => {
  const users = new Map([['bob', false]]);
  P.applyPresence(users, { online: ['bob', 'carol'], offline: ['alice', 'dave'] }, 'alice', true);
  assert.deepEqual(Object.fromEntries(users), { bob: true, carol: true, dave: false });
  P.applyPresence(users, { offline: ['alice', 'bob'] }, 'alice', false);
  assert.equal(users.get('alice'), false);
  assert.equal(users.get('bob'), false);
  P.applyPresence(users, {}, 'alice', true); // a frame with neither list changes nothing
  assert.equal(users.size, 4);
});

test('people: ourselves first, then online, then offline, each by name', () => {
  const users = new Map([['zed', true], ['amy', false], ['bob', true], ['me', true], ['cat', false]]);
  assert.deepEqual(P.sortPeople(new Set([...users.keys(), 'dan']), users, 'me'), ['me', 'bob', 'zed', 'amy', 'cat', 'dan']);
});

// ---------------------------------------------------------------- kept per nick

test('stored tables are Maps: __proto__ and constructor are nicks like any other', () => {
  const m = P.mapFromJSON(JSON.parse('{"__proto__":"t1","constructor":"t2","bob":"t3"}'));
  assert.equal(m.get('__proto__'), 't1');
  assert.equal(m.get('constructor'), 't2');
  assert.equal(m.size, 3);
  const back = P.mapFromJSON(JSON.parse(JSON.stringify(P.mapToJSON(m))));
  assert.deepEqual([...back], [...m]);
  assert.equal(P.mapFromJSON(null).size, 0);
  assert.equal(P.mapFromJSON([1, 2]).size, 0);
  assert.equal(P.mapFromJSON('x').size, 0);
});

test('the private archive updates a message in place and keeps the newest DM_KEEP', () => {
  const list = [];
  P.mergeArchive(list, { msgId: 'm1', text: 'a', status: 'sent' }, 3);
  P.mergeArchive(list, { msgId: 'm1', status: 'delivered' }, 3);
  assert.deepEqual(list, [{ msgId: 'm1', text: 'a', status: 'delivered' }]);
  for (const id of ['m2', 'm3', 'm4']) P.mergeArchive(list, { msgId: id }, 3);
  assert.deepEqual(list.map((m) => m.msgId), ['m2', 'm3', 'm4']);
  assert.equal(P.DM_KEEP, 200);
});

// ---------------------------------------------------------------- resume without gaps

test('resume: a re-join names the newest seq shown of each room it enters, and only those', () => {
  const convs = new Map();
  const lobby = P.newConversation('#lobby');
  const dev = P.newConversation('#dev');
  convs.set(lobby.key, lobby);
  convs.set(dev.key, dev);
  assert.equal(P.resumeFor(convs, ['lobby', 'dev']), null);
  for (const seq of [7, 41, 12]) P.noteNewestSeq(lobby, seq);
  P.noteNewestSeq(lobby, -1);
  P.noteNewestSeq(lobby, 1.5);
  P.noteNewestSeq(lobby, undefined);
  assert.equal(lobby.newestSeq, 41);
  assert.deepEqual(P.resumeFor(convs, ['lobby', 'dev', 'ops']), { rooms: { lobby: 41 } });
  // The join frame carries it, for rooms it enters only.
  const frame = P.joinFrame('bob', 't0k', null, ['lobby'], [], { rooms: { lobby: 41, dev: 3 } });
  assert.deepEqual(frame.resume, { rooms: { lobby: 41 } });
  assert.equal('resume' in P.joinFrame('bob', 't0k', null, ['dev'], [], { rooms: { lobby: 41 } }), false);
  assert.equal('resume' in P.joinFrame('bob', 't0k', null, ['lobby'], [], null), false);
  // The welcome leaves a resumed room out of its history.
  assert.equal(P.welcomeResumed({ history: {} }, 'lobby', { rooms: { lobby: 41 } }), true);
  assert.equal(P.welcomeResumed({ history: { lobby: [] } }, 'lobby', { rooms: { lobby: 41 } }), false);
  assert.equal(P.welcomeResumed({ history: {} }, 'lobby', null), false);
});

test('resume: a history answer to after with more asks the next page after its newest seq; a gap has a line', () => {
  const page = { type: 'history', room: 'lobby', after: 41, more: true, messages: [{ seq: 42 }, { seq: 50 }] };
  assert.deepEqual(P.nextAfterPage(page), { type: 'history', room: 'lobby', after: 50, limit: P.RESUME_PAGE });
  assert.equal(P.nextAfterPage({ ...page, more: false }), null);
  // A resume page left empty by the join's byte budget: the same `after` again.
  assert.deepEqual(P.nextAfterPage({ ...page, messages: [] }), { type: 'history', room: 'lobby', after: 41, limit: P.RESUME_PAGE });
  assert.equal(P.nextAfterPage({ ...page, more: false, messages: [] }), null);
  assert.equal(P.nextAfterPage({ ...page, messages: [{ seq: 41 }] }), null);
  assert.equal(P.nextAfterPage({ type: 'history', room: 'lobby', more: true, messages: [{ seq: 1 }] }), null);
  assert.match(P.gapText({ type: 'gap', room: 'lobby', after: 3, next: 90 }), /#lobby/);
});

test('resume: a gap offers older messages only when the page shows none older than its next', () => {
  // Shown: seq 10..41 (more before them, the server said); the gap says nothing before 90 is kept.
  const shown = P.newConversation('#lobby');
  P.noteSeq(shown, 10);
  P.noteSeq(shown, 41);
  assert.equal(shown.hasMore, true);
  assert.equal(P.applyGap(shown, 90), false);
  assert.equal(shown.hasMore, false);
  assert.equal(shown.olderGone, true);
  // The room's beginning was shown already: nothing changes but the answer.
  const beginning = P.newConversation('#dev');
  P.noteSeq(beginning, 3);
  beginning.hasMore = false;
  assert.equal(P.applyGap(beginning, 90), false);
  assert.equal(beginning.olderGone, false);
  // Nothing shown, or only messages from next on: the server may keep some older than those.
  const empty = P.newConversation('#ops');
  assert.equal(P.applyGap(empty, 90), true);
  assert.equal(empty.hasMore, true);
  const newer = P.newConversation('#qa');
  P.noteSeq(newer, 95);
  assert.equal(P.applyGap(newer, 90), true);
  assert.equal(newer.olderGone, false);
  // Exactly at next: that message is the oldest kept, nothing older is.
  const atNext = P.newConversation('#hr');
  P.noteSeq(atNext, 90);
  assert.equal(P.applyGap(atNext, 90), false);
  assert.equal(atNext.hasMore, false);
});

// ---------------------------------------------------------------- accounts and devices (issue 16)

const SESSION = 'BwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSY';

test('accounts: a join proves who we are with a typed password, else the session, else the old token once, else a nonce', () => {
  assert.deepEqual(P.joinCredentials({ password: 'correct horse', device: 'Chrome on Linux', session: SESSION, token: 't0k', nonce: 'n0' }),
    { kind: 'password', fields: { password: 'correct horse', device: 'Chrome on Linux' } });
  assert.deepEqual(P.joinCredentials({ password: '', session: SESSION, token: 't0k', nonce: 'n0' }),
    { kind: 'session', fields: { session: SESSION } });
  // Only the old token is stored: it goes (the welcome then brings a session that replaces it).
  assert.deepEqual(P.joinCredentials({ session: null, token: 't0k', nonce: 'n0' }), { kind: 'token', fields: { token: 't0k' } });
  // A stored session of the wrong shape is not sent.
  assert.deepEqual(P.joinCredentials({ session: 'short', token: null, nonce: 'n0' }), { kind: 'free', fields: { nonce: 'n0' } });
  assert.equal(P.joinCredentials({ password: 'x'.repeat(9), device: 'd'.repeat(100) }).fields.device.length, P.DEVICE_LABEL_MAX);
  // In the join frame, the credential stands for the token and the nonce; the rest is as before.
  assert.deepEqual(P.joinFrame('alice', { session: SESSION }, 'n0', ['dev'], ['c1']),
    { type: 'join', nick: 'alice', session: SESSION, rooms: ['dev'], pending: ['c1'] });
  assert.deepEqual(P.joinFrame('alice', { password: 'correct horse', device: 'Chrome on Linux' }, null, []),
    { type: 'join', nick: 'alice', password: 'correct horse', device: 'Chrome on Linux', rooms: ['lobby'] });
  assert.deepEqual(P.joinFrame('carol', { nonce: 'n0' }, null, ['lobby']), { type: 'join', nick: 'carol', nonce: 'n0', rooms: ['lobby'] });
});

test('accounts: a device label names the browser and its system in at most 64 characters', () => {
  assert.equal(P.deviceLabel('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36'), 'Chrome on Linux');
  assert.equal(P.deviceLabel('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0'), 'Firefox on Windows');
  assert.equal(P.deviceLabel('Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile Safari/604.1'), 'Safari on iOS');
  assert.equal(P.deviceLabel('Mozilla/5.0 (Linux; Android 14) Chrome/120.0 Mobile Safari/537.36 EdgA/1 Edg/120'), 'Edge on Android');
  assert.equal(P.deviceLabel(''), 'Browser');
});

test('accounts: the sign-in form wants a valid nick, and a password of 8 to 256 bytes when one is typed', () => {
  assert.equal(P.signInError('alice', ''), null);
  assert.equal(P.signInError('alice', 'correct horse'), null);
  assert.match(P.signInError('no spaces', ''), /letters, digits/);
  assert.match(P.signInError('alice', 'short'), /too short: check it and try again\./);
  assert.match(P.signInError('alice', 'é'.repeat(129)), /too long/); // 258 bytes, 129 characters
  assert.equal(P.passwordLengthError('12345678'), null);
  assert.equal(P.passwordLengthError('x'.repeat(256)), null);
  assert.match(P.passwordLengthError('x'.repeat(257)), /at most 256 bytes/);
});

test('accounts: protecting a nick sends the new password once both match; changing it needs the current one', () => {
  assert.deepEqual(P.setPasswordPlan({ password: 'correct horse', repeat: 'correct horse', current: '', protectedNick: false }),
    { frame: { type: 'setPassword', password: 'correct horse' } });
  assert.deepEqual(P.setPasswordPlan({ password: 'a longer and newer passphrase', repeat: 'a longer and newer passphrase',
    current: 'correct horse battery staple', protectedNick: true }),
  { frame: { type: 'setPassword', password: 'a longer and newer passphrase', current: 'correct horse battery staple' } });
  const short = P.setPasswordPlan({ password: 'short', repeat: 'short', current: '', protectedNick: false });
  assert.equal(short.field, 'new');
  assert.match(short.error, /^Use at least 8 characters for the password, then try again\.$/);
  assert.deepEqual(P.setPasswordPlan({ password: 'correct horse', repeat: 'correct hose', current: '', protectedNick: false }),
    { error: 'The two new passwords differ: type the same one twice.', field: 'repeat' });
  assert.equal(P.setPasswordPlan({ password: 'correct horse', repeat: 'correct horse', current: '', protectedNick: true }).field, 'current');
  // The server's answers, each one sentence that says what to do.
  assert.match(P.setPasswordErrorText('auth_failed'), /current password is missing or wrong: enter the one you set before/);
  assert.match(P.setPasswordErrorText('weak_password'), /8 to 256 bytes/);
  assert.equal(P.setPasswordErrorText('rate_limited', 'Too many password attempts: try again in 42 s.'), 'Too many password attempts: try again in 42 s.');
  assert.match(P.setPasswordErrorText('unavailable'), /try again in a moment/);
  assert.match(P.setPasswordErrorText('bad_request', "Unknown frame type 'setPassword'"), /cannot protect nicks yet/);
});

test('accounts: a welcome with a session replaces the old token; without one the token is kept, except after a password sign-in', () => {
  assert.deepEqual(P.welcomeCredentials({ nick: 'alice', session: SESSION, device: 'd7f3a1c09b2e', token: 'old' }, 'token'),
    { session: SESSION, device: 'd7f3a1c09b2e', token: null, forgetToken: true });
  assert.deepEqual(P.welcomeCredentials({ nick: 'alice', session: SESSION, device: 'NOT-HEX' }, 'free'),
    { session: SESSION, device: null, token: null, forgetToken: true });
  // A server without sessions (this version's): the token as before.
  assert.deepEqual(P.welcomeCredentials({ nick: 'alice', token: 't0k' }, 'free'), { session: null, device: null, token: 't0k', forgetToken: false });
  // Its token cannot sign a protected nick in again: not stored.
  assert.deepEqual(P.welcomeCredentials({ nick: 'alice', token: 't0k' }, 'password'), { session: null, device: null, token: null, forgetToken: true });
  assert.equal(P.welcomeCredentials({ nick: 'alice', session: 'x'.repeat(42), token: 't0k' }, 'free').session, null);
});

test('accounts: what a refused join means, by how it proved who we are', () => {
  assert.deepEqual(P.joinErrorPlan('auth_failed', 'password'),
    { forget: null, message: 'The nick and password do not match: check both and try again.', askPassword: true });
  assert.equal(P.joinErrorPlan('auth_failed', 'session').forget, 'session');
  assert.equal(P.joinErrorPlan('auth_failed', 'token').forget, 'token');
  assert.equal(P.joinErrorPlan('auth_failed', 'free').forget, null);
  assert.match(P.joinErrorPlan('auth_failed', 'free').message, /enter its password if it is yours, or pick another nick\.$/);
  assert.equal(P.joinErrorPlan('rate_limited', 'password', 'Too many attempts: try again in 60 s.').message, 'Too many attempts: try again in 60 s.');
  assert.match(P.joinErrorPlan('rate_limited', 'password').message, /wait a few minutes/);
  assert.match(P.joinErrorPlan('registration_closed', 'free').message, /ask them for one/);
  assert.equal(P.joinErrorPlan('unavailable', 'free'), null);
  assert.equal(P.joinErrorPlan('replaced', 'session'), null);
  for (const code of ['auth_failed', 'rate_limited', 'registration_closed', 'invalid_nick']) {
    for (const kind of ['password', 'session', 'token', 'free']) {
      const m = P.joinErrorPlan(code, kind).message;
      // One sentence: a capital first, a full stop last, none between (". " then a capital).
      assert.match(m, /^[A-Z].*\.$/, `${code}/${kind}: ${m}`);
      assert.doesNotMatch(m, /[.!?] +[A-Z]/, `${code}/${kind}: one sentence: ${m}`);
    }
  }
});

test('devices: the list keeps well-formed entries, marks this device, and a signOut names one, this or all', () => {
  const f = { type: 'devices', devices: [
    { id: 'e9b2c4f01a7d', label: 'Chrome on Linux', created: 1700000000000, lastSeen: 1700000500000, current: false },
    { id: 'd7f3a1c09b2e', label: '', created: 1600000000000, lastSeen: 'x' },
    { id: '../../etc', label: 'bad' }, null, 'junk',
  ] };
  assert.deepEqual(P.devicesFromFrame(f, 'd7f3a1c09b2e'), [
    { id: 'e9b2c4f01a7d', label: 'Chrome on Linux', created: 1700000000000, lastSeen: 1700000500000, current: false },
    { id: 'd7f3a1c09b2e', label: 'Unnamed device', created: 1600000000000, lastSeen: null, current: true },
  ]);
  assert.deepEqual(P.devicesFromFrame({ devices: 'nope' }, null), []);
  const many = { devices: Array.from({ length: 80 }, (_, i) => ({ id: i.toString(16).padStart(12, '0'), label: 'd' + i })) };
  assert.equal(P.devicesFromFrame(many, null).length, P.DEVICES_MAX);
  assert.deepEqual(P.signOutFrame('everywhere'), { type: 'signOut', everywhere: true });
  assert.deepEqual(P.signOutFrame('e9b2c4f01a7d'), { type: 'signOut', device: 'e9b2c4f01a7d' });
  assert.deepEqual(P.signOutFrame(null), { type: 'signOut' });
});

test('devices: signedOut removes the revoked ones and says whether this device was one; 4005 signs out', () => {
  const list = P.devicesFromFrame({ devices: [
    { id: 'e9b2c4f01a7d', label: 'A', current: false }, { id: 'd7f3a1c09b2e', label: 'B', current: true }] }, null);
  assert.deepEqual(P.applySignedOut(list, { type: 'signedOut', devices: ['e9b2c4f01a7d'] }, 'd7f3a1c09b2e'),
    { devices: [list[1]], me: false });
  assert.deepEqual(P.applySignedOut(list, { type: 'signedOut', devices: ['e9b2c4f01a7d', 'd7f3a1c09b2e'] }, null),
    { devices: [], me: true });
  // The list not loaded: the welcome's device id still tells.
  assert.equal(P.applySignedOut([], { devices: ['d7f3a1c09b2e'] }, 'd7f3a1c09b2e').me, true);
  assert.equal(P.closeSignsOut(4005), true);
  assert.equal(P.closeSignsOut(4001), false);
  assert.match(P.SIGNED_OUT_TEXT, /^You were signed out/);
});

test('devices: last seen reads as minutes, hours or days ago, then as the date', () => {
  const now = Date.UTC(2026, 11, 7, 12, 0, 0);
  assert.equal(P.agoText(now - 5000, now), 'just now');
  assert.equal(P.agoText(now + 5000, now), 'just now');
  assert.equal(P.agoText(now - 60_000, now), '1 minute ago');
  assert.equal(P.agoText(now - 5 * 60_000, now), '5 minutes ago');
  assert.equal(P.agoText(now - 3 * 3600_000, now), '3 hours ago');
  assert.equal(P.agoText(now - 2 * 86400_000, now), '2 days ago');
  assert.equal(P.agoText(Date.UTC(2026, 0, 2), now), '2026-01-02');
  assert.equal(P.agoText(null, now), 'unknown');
});

// ---------------------------------------------------------------- read state (issue 16, point 5)

const readConv = (name) => Object.assign(room(name), { newestSeq: null, readUpTo: null, readSentAt: -Infinity, otherSeqs: [], unread: 0 });

test('read state: the welcome gives a room its read position and unread count, and nothing it does not know', () => {
  const welcome = { read: { rooms: { lobby: 41, rust: 7 } }, unread: { rooms: { lobby: 3, rust: 0 } } };
  assert.deepEqual(P.welcomeReadState(welcome, 'lobby'), { upTo: 41, unread: 3 });
  assert.deepEqual(P.welcomeReadState(welcome, 'rust'), { upTo: 7, unread: 0 });
  assert.deepEqual(P.welcomeReadState(welcome, 'go'), { upTo: null, unread: null });
  // A server before read state, or nonsense: nothing.
  assert.deepEqual(P.welcomeReadState({}, 'lobby'), { upTo: null, unread: null });
  assert.deepEqual(P.welcomeReadState({ read: { rooms: { lobby: -1 } }, unread: { rooms: { lobby: '3' } } }, 'lobby'), { upTo: null, unread: null });
  assert.equal(P.newConversation('#lobby').readUpTo, null);
});

test('read state: others\' seqs are kept in order, once, the newest thousand, and count what follows a position', () => {
  const c = readConv('lobby');
  for (const seq of [5, 3, 9, 5, 7]) P.noteOtherSeq(c, seq);
  P.noteOtherSeq(c, undefined);
  assert.deepEqual(c.otherSeqs, [3, 5, 7, 9]);
  assert.equal(P.unreadAfter(c, 5), 2);
  assert.equal(P.unreadAfter(c, 9), 0);
  assert.equal(P.unreadAfter(c, 0), 4);
  for (let seq = 10; seq < 10 + P.READ_SEQS_KEEP; seq++) P.noteOtherSeq(c, seq);
  assert.equal(c.otherSeqs.length, P.READ_SEQS_KEEP);
  assert.equal(c.otherSeqs[0], 10);
});

test('read state: a read from another session moves the position forward only and lowers the count', () => {
  const c = readConv('lobby');
  for (const seq of [3, 5, 7, 9]) P.noteOtherSeq(c, seq);
  c.unread = 4;
  assert.equal(P.applyRead(c, 5), true);
  assert.equal(c.readUpTo, 5);
  assert.equal(c.unread, 2);
  assert.equal(P.applyRead(c, 4), false);
  assert.equal(P.applyRead(c, 5), false);
  assert.equal(c.readUpTo, 5);
  assert.equal(P.applyRead(c, 'x'), false);
  assert.equal(P.applyRead(c, 9), true);
  assert.equal(c.unread, 0);
});

test('read state: a seen room sends read up to its newest seq, at most once a second, and nothing when read already', () => {
  const c = readConv('lobby');
  // Seen empty, no position yet: read up to 0, so what comes next counts as unread on any device.
  const empty = P.readPlan(c, 0);
  assert.deepEqual(empty, { frame: { type: 'read', room: 'lobby', upTo: 0 }, wait: null });
  P.readSent(c, empty.frame, 0);
  assert.deepEqual(P.readPlan(c, 5_000), { frame: null, wait: null }, 'no message since');
  c.newestSeq = 12;
  const first = P.readPlan(c, 10_000);
  assert.deepEqual(first, { frame: { type: 'read', room: 'lobby', upTo: 12 }, wait: null });
  P.readSent(c, first.frame, 10_000);
  assert.equal(c.readUpTo, 12);
  assert.deepEqual(P.readPlan(c, 10_100), { frame: null, wait: null }, 'read already');
  c.newestSeq = 15;
  assert.deepEqual(P.readPlan(c, 10_400), { frame: null, wait: 600 }, 'within the second: wait');
  assert.deepEqual(P.readPlan(c, 11_000), { frame: { type: 'read', room: 'lobby', upTo: 15 }, wait: null });
  assert.deepEqual(P.readPlan(Object.assign(dm('bob'), { newestSeq: 3, readUpTo: null, readSentAt: -Infinity }), 0), { frame: null, wait: null });
  // The server said a newer position (another session): nothing to send.
  c.readUpTo = 20;
  assert.deepEqual(P.readPlan(c, 20_000), { frame: null, wait: null });
});

// The page's attention rules (Sources/Server/Public/attention.js): @nick completion, the counts in
// the title and on the favicon, when a desktop notification is due, the theme button.
//
//   node --test Tests/node/attention.test.js
'use strict';
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const FILE = path.resolve(__dirname, '..', '..', 'Sources', 'Server', 'Public', 'attention.js');
let A;

before(async () => {
  try {
    A = await import(pathToFileURL(FILE).href);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    A = await import('data:text/javascript;base64,' + fs.readFileSync(FILE).toString('base64'));
  }
});

test('the @prefix before the caret: at the start, after a space or bracket; not inside a word or an address', () => {
  assert.deepEqual(A.mentionQuery('@al', 3), { start: 0, prefix: 'al' });
  assert.deepEqual(A.mentionQuery('hi @', 4), { start: 3, prefix: '' });
  assert.deepEqual(A.mentionQuery('hi (@b.o', 8), { start: 4, prefix: 'b.o' });
  assert.deepEqual(A.mentionQuery('hi @bob and', 7), { start: 3, prefix: 'bob' });
  assert.equal(A.mentionQuery('mail me@ex', 10), null);
  assert.equal(A.mentionQuery('hi @bob ', 8), null);
  assert.equal(A.mentionQuery('no at', 5), null);
  assert.equal(A.mentionQuery('@' + 'x'.repeat(40), 41), null);
});

test('candidates: case-insensitive prefix, ourselves left out, exact case first, at most the limit', () => {
  const nicks = ['Bob', 'bobby', 'alice', 'bob', 'bo', 'me'];
  assert.deepEqual(A.mentionCandidates('bo', nicks, 'me', 8), ['bo', 'bob', 'bobby', 'Bob']);
  assert.deepEqual(A.mentionCandidates('', nicks, 'me', 2), ['Bob', 'alice']);
  assert.deepEqual(A.mentionCandidates('m', nicks, 'me', 8), []);
  assert.deepEqual(A.mentionCandidates('constructor', ['constructor'], 'me', 8), ['constructor']);
});

test('completing replaces the prefix with @nick and one space, the caret after it', () => {
  const q = A.mentionQuery('hi @bo there', 6);
  assert.deepEqual(A.completeMention('hi @bo there', q, 6, 'bobby'), { text: 'hi @bobby there', caret: 10 });
  const q2 = A.mentionQuery('@a', 2);
  assert.deepEqual(A.completeMention('@a', q2, 2, 'alice'), { text: '@alice ', caret: 7 });
});

test('mention counts: kept while unread, cleared with it, never above it; title and badge', () => {
  assert.equal(A.bumpMentions(3, 1), 1); // the unread count was cleared since: the old mentions go
  assert.equal(A.bumpMentions(3, 5), 4);
  assert.equal(A.bumpMentions(undefined, 2), 1);
  const counts = A.attentionCounts([{ unread: 3, mentions: 1 }, { unread: 0, mentions: 4 }, { unread: 1, mentions: 9 }, {}]);
  assert.deepEqual(counts, { unread: 4, mentions: 2 });
  assert.equal(A.titleText({ unread: 0, mentions: 0 }), 'rabbitChat');
  assert.equal(A.titleText({ unread: 5, mentions: 0 }), '(5) rabbitChat');
  assert.equal(A.titleText({ unread: 5, mentions: 2 }), '(@2 \u00B7 5) rabbitChat');
  assert.equal(A.badgeFor({ unread: 0, mentions: 0 }), null);
  assert.deepEqual(A.badgeFor({ unread: 7, mentions: 0 }), { label: '7', mention: false });
  assert.deepEqual(A.badgeFor({ unread: 150, mentions: 120 }), { label: '99+', mention: true });
});

test('a notification: live, from someone else, private or naming us, page hidden, permission granted', () => {
  const base = { live: true, mine: false, kind: 'dm', mentionsMe: false, hidden: true, permission: 'granted' };
  assert.equal(A.shouldNotify(base), true);
  assert.equal(A.shouldNotify({ ...base, kind: 'room' }), false);
  assert.equal(A.shouldNotify({ ...base, kind: 'room', mentionsMe: true }), true);
  assert.equal(A.shouldNotify({ ...base, live: false }), false); // history: never
  assert.equal(A.shouldNotify({ ...base, mine: true }), false);
  assert.equal(A.shouldNotify({ ...base, hidden: false }), false);
  assert.equal(A.shouldNotify({ ...base, permission: 'default' }), false);
  assert.equal(A.shouldNotify({ ...base, permission: 'denied' }), false);
  assert.deepEqual(A.notificationFor({ from: 'bob', kind: 'room', room: 'dev', text: 'x'.repeat(200) }).body.length, 160);
  assert.equal(A.notificationFor({ from: 'bob', kind: 'dm', text: 'hi' }).title, 'bob (private)');
  assert.equal(A.announcementFor({ from: 'bob', kind: 'room', room: 'dev', text: 'hi', mentionsMe: true }), 'bob mentioned you in #dev: hi');
  assert.ok(A.announcementFor({ from: 'bob', kind: 'dm', text: 'y'.repeat(500) }).length <= 200);
});

test('the theme button goes system, light, dark, system; an unknown stored value starts over', () => {
  assert.equal(A.nextTheme('system'), 'light');
  assert.equal(A.nextTheme('light'), 'dark');
  assert.equal(A.nextTheme('dark'), 'system');
  assert.equal(A.nextTheme('purple'), 'system');
});

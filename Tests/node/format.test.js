// The page's text formatting (Sources/Server/Public/format.js) on its own: the tree a message
// becomes, hostile inputs included. No DOM: view.js turns the tree into nodes.
//
//   node --test Tests/node/format.test.js
'use strict';
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const FILE = path.resolve(__dirname, '..', '..', 'Sources', 'Server', 'Public', 'format.js');
let F;

before(async () => {
  try {
    F = await import(pathToFileURL(FILE).href);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    // A Node without module syntax detection reads a .js file with no package.json as CommonJS;
    // the same text as a data: URL is always a module.
    F = await import('data:text/javascript;base64,' + fs.readFileSync(FILE).toString('base64'));
  }
});

const text = (v) => ({ t: 'text', v });

test('plain text is one text node, line breaks kept', () => {
  assert.deepEqual(F.parseMessage('hello\nworld\n\n  indented'), [text('hello\nworld\n\n  indented')]);
  assert.deepEqual(F.parseMessage(''), []);
});

test('inline code, bold and both italics become their nodes', () => {
  assert.deepEqual(F.parseMessage('run `ls -la` now'), [text('run '), { t: 'code', v: 'ls -la' }, text(' now')]);
  assert.deepEqual(F.parseMessage('a **big** deal'), [text('a '), { t: 'b', c: [text('big')] }, text(' deal')]);
  assert.deepEqual(F.parseMessage('_one_ and *two*'), [{ t: 'i', c: [text('one')] }, text(' and '), { t: 'i', c: [text('two')] }]);
  assert.deepEqual(F.parseMessage('**bold _and italic_**'),
    [{ t: 'b', c: [text('bold '), { t: 'i', c: [text('and italic')] }] }]);
});

test('markers inside words, around spaces or without a partner stay text', () => {
  for (const s of ['snake_case_name', '2*3*4', 'a * b * c', '**', '****', '* not italic*', '_ x _', 'unclosed **bold',
    'unclosed _it', 'tick ` alone', '``', 'x__y__z']) {
    const nodes = F.parseMessage(s);
    assert.equal(F.plainText(nodes), s, s);
    assert.ok(nodes.every((n) => n.t === 'text'), s + ': ' + JSON.stringify(nodes));
  }
});

test('code keeps its markers as text: no bold, links or emoji inside', () => {
  assert.deepEqual(F.parseMessage('`**x** https://a.example :smile:`'), [{ t: 'code', v: '**x** https://a.example :smile:' }]);
  assert.deepEqual(F.parseMessage('```js\nconst a = "**b**";\n```\nafter'), [{ t: 'pre', v: 'const a = "**b**";' }, text('after')]);
  assert.deepEqual(F.parseMessage('```\n<img src=x onerror=alert(1)>\n```'), [{ t: 'pre', v: '<img src=x onerror=alert(1)>' }]);
  // Unclosed: the rest is ordinary text, formatted as such.
  assert.deepEqual(F.parseMessage('```\nnot closed **b**'), [text('```\nnot closed '), { t: 'b', c: [text('b')] }]);
});

test('links: http and https only, trailing punctuation left out, the href normalised', () => {
  assert.deepEqual(F.parseMessage('see https://example.com/a?b=1.'),
    [text('see '), { t: 'link', href: 'https://example.com/a?b=1', v: 'https://example.com/a?b=1' }, text('.')]);
  assert.deepEqual(F.parseMessage('(http://example.com/x)'),
    [text('('), { t: 'link', href: 'http://example.com/x', v: 'http://example.com/x' }, text(')')]);
  assert.deepEqual(F.parseMessage('http://en.wikipedia.org/wiki/A_(b)'),
    [{ t: 'link', href: 'http://en.wikipedia.org/wiki/A_(b)', v: 'http://en.wikipedia.org/wiki/A_(b)' }]);
  for (const s of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<b>x</b>', 'vbscript:x',
    'file:///etc/passwd', 'http://', 'https:// x', 'xhttps://evil.example', 'java\nscript:alert(1)']) {
    assert.ok(F.parseMessage(s).every((n) => n.t !== 'link'), s);
  }
  assert.equal(F.safeHref('javascript:alert(1)'), null);
  assert.equal(F.safeHref('https://a.example/"><script>'), 'https://a.example/%22%3E%3Cscript%3E');
  // A quote or angle bracket ends the link.
  assert.deepEqual(F.parseMessage('https://a.example/"onmouseover=x')[0], { t: 'link', href: 'https://a.example/', v: 'https://a.example/' });
});

test('mentions: @nick at a word start, a full stop after it is the sentence\'s', () => {
  assert.deepEqual(F.parseMessage('hi @bob.'), [text('hi '), { t: 'mention', nick: 'bob' }, text('.')]);
  assert.deepEqual(F.parseMessage('@a.b-c_d, look'), [{ t: 'mention', nick: 'a.b-c_d' }, text(', look')]);
  assert.deepEqual(F.parseMessage('mail me@example.com'), [text('mail me@example.com')]);
  assert.deepEqual(F.parseMessage('@' + 'x'.repeat(33)), [text('@' + 'x'.repeat(33))]);
  assert.deepEqual(F.mentionsIn(F.parseMessage('**@ann** and _@bob_ and @ann')), ['ann', 'bob']);
});

test('emoji shortcodes from the table; unknown ones stay text', () => {
  assert.deepEqual(F.parseMessage('nice :tada: :+1: :nope: :smile'), [text('nice \u{1F389} \u{1F44D} :nope: :smile')]);
  assert.deepEqual(F.parseMessage(':constructor: :__proto__: :toString:'), [text(':constructor: :__proto__: :toString:')]);
  assert.deepEqual(F.parseMessage('12:30:45'), [text('12:30:45')]);
});

test('hostile input: deep nesting is cut, long runs of markers finish quickly, past the bounds it is plain', () => {
  const deep = '**_*'.repeat(50) + 'x' + '*_**'.repeat(50);
  const nodes = F.parseMessage(deep);
  let depth = 0;
  const walk = (list, d) => { for (const n of list) { depth = Math.max(depth, d); if (n.c) walk(n.c, d + 1); } };
  walk(nodes, 0);
  assert.ok(depth <= 3, 'depth ' + depth);
  for (const s of ['*'.repeat(4000), '_a '.repeat(1333), '`'.repeat(4000), '```'.repeat(1333), '**a '.repeat(1000),
    ':'.repeat(4000), '@'.repeat(4000), 'http://'.repeat(570), ('*x ' + '_y ').repeat(666)]) {
    const t0 = process.hrtime.bigint();
    const out = F.parseMessage(s);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.ok(ms < 500, s.slice(0, 12) + ' took ' + ms + ' ms');
    assert.ok(F.plainText(out).length <= s.length);
  }
  const huge = 'a**'.repeat(F.MAX_FORMAT_CHARS);
  assert.deepEqual(F.parseMessage(huge), [text(huge)]);
  // Out of steps: the whole text, plain.
  assert.deepEqual(F.parseMessage('**a** _b_ `c`', { maxSteps: 3 }), [text('**a** _b_ `c`')]);
});

test('long messages fold beyond 12 lines or 800 characters', () => {
  assert.equal(F.shouldFold('short'), false);
  assert.equal(F.shouldFold('a\n'.repeat(11) + 'a'), false);
  assert.equal(F.shouldFold('a\n'.repeat(12) + 'a'), true);
  assert.equal(F.shouldFold('x'.repeat(800)), false);
  assert.equal(F.shouldFold('x'.repeat(801)), true);
});

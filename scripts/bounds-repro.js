// Reproductions of issue 13's three memory figures against a running rabbitChat (Specs/bounds.md):
//   NODE_PATH=/usr/share/nodejs node scripts/bounds-repro.js PORT PID tells|roster|pipeline
// tells: 9,000 tells of 16 KB (4,000 emoji) from 100 senders to one offline nick; roster: a
// newcomer's welcome before and after 4,000 nicks are claimed; pipeline: 10 connections pipeline
// 200 GET /sockjs.min.js each and never read. Each prints the server's RSS (/proc/PID/status).
'use strict';
const WebSocket = require('faye-websocket');
const net = require('node:net');
const fs = require('node:fs');
const [port, pid, scenario] = process.argv.slice(2);
const url = `ws://127.0.0.1:${port}/chat/websocket`;
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nonce = () => require('node:crypto').randomBytes(16).toString('hex');

function client() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket.Client(url);
    const c = { ws, frames: [], waiters: [] };
    ws.on('open', () => resolve(c));
    ws.on('error', reject);
    ws.on('message', (e) => {
      const f = JSON.parse(e.data);
      c.frames.push(f);
      c.waiters = c.waiters.filter((w) => !w(f));
    });
    ws.on('close', () => { c.closed = true; });
  });
}
function waitFor(c, pred, ms = 30000) {
  const found = c.frames.find(pred);
  if (found) return Promise.resolve(found);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    c.waiters.push((f) => { if (pred(f)) { clearTimeout(t); resolve(f); return true; } return false; });
  });
}
async function join(nick) {
  const c = await client();
  c.ws.send(JSON.stringify({ type: 'join', nick, nonce: nonce() }));
  c.welcome = await waitFor(c, (f) => f.type === 'welcome' || f.type === 'error');
  return c;
}

async function tells() {
  const bob = await join('bob' + Date.now());
  const to = bob.welcome.nick;
  bob.ws.close();
  await sleep(500);
  const before = rss();
  const text = '\u{1F600}'.repeat(4000); // 4,000 scalars, 16,000 bytes of UTF-8
  const counts = { sent: 0, inbox_full: 0, other: 0 };
  const senders = 100, each = 90;
  await Promise.all([...Array(senders).keys()].map(async (i) => {
    const c = await join(`s${i}x${Date.now() % 100000}`);
    for (let k = 0; k < each; k++) {
      c.ws.send(JSON.stringify({ type: 'tell', id: `t${k}`, to, text }));
      await sleep(60); // under the 20/s rate
    }
    for (let k = 0; k < each; k++) {
      const f = await waitFor(c, (f) => (f.type === 'sent' || f.type === 'error') && f.id === `t${k}`, 60000).catch(() => ({ type: 'lost' }));
      if (f.type === 'sent') counts.sent++; else if (f.code === 'inbox_full') counts.inbox_full++; else { counts.other++; counts.last = f.code + ' ' + (f.message || f.type); }
    }
    c.ws.close();
  }));
  await sleep(1000);
  console.log(`tells: ${senders * each} tells of 16 KB to offline ${to}: ${JSON.stringify(counts)}; RSS ${before} -> ${rss()} KiB (+${((rss() - before) / 1024).toFixed(1)} MiB)`);
}

async function roster() {
  const first = await join('probe' + Date.now());
  const small = Buffer.byteLength(JSON.stringify(first.welcome));
  first.ws.close();
  const n = 4000, parallel = 40;
  let next = 0;
  const tag = Date.now() % 100000;
  await Promise.all([...Array(parallel).keys()].map(async () => {
    while (next < n) {
      const i = next++;
      const c = await join(`n${tag}x${i}`);
      c.ws.close();
    }
  }));
  await sleep(500);
  const newcomer = await join('newcomer' + Date.now());
  const size = Buffer.byteLength(JSON.stringify(newcomer.welcome));
  console.log(`roster: welcome ${small} B before, ${size} B after ${n} more claimed nicks (${newcomer.welcome.users.length} users listed)`);
  newcomer.ws.close();
}

async function pipeline() {
  const before = rss();
  const req = 'GET /sockjs.min.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(100);
  const sockets = [];
  for (let i = 0; i < 10; i++) {
    const s = net.connect(Number(port), '127.0.0.1');
    s.pause(); // never read
    await new Promise((r) => s.on('connect', r));
    for (let k = 0; k < 2; k++) s.write(req); // 200 requests each (18 MB of responses)
    sockets.push(s);
  }
  await sleep(5000);
  console.log(`pipeline: 10 connections x 200 pipelined GET /sockjs.min.js, not read: RSS ${before} -> ${rss()} KiB (+${((rss() - before) / 1024).toFixed(1)} MiB)`);
  for (const s of sockets) s.destroy();
}

({ tells, roster, pipeline })[scenario]().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });

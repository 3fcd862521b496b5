// The real sockjs-client (Debian node-sockjs-client 1.6.1) against sockjs-echo-server, on every
// transport it runs under Node: websocket, xhr-streaming, xhr-polling, eventsource.
//
//   NODE_PATH=/usr/share/nodejs node --test Tests/node/sockjs-client.test.js
//
// The test starts the echo server itself (SOCKJS_ECHO_SERVER, default .build/debug/sockjs-echo-server)
// with a 1 s heartbeat on a free port, and stops it by its PID at the end.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');

if (!(process.env.NODE_PATH || '').split(':').includes('/usr/share/nodejs')) {
  process.env.NODE_PATH = ['/usr/share/nodejs', process.env.NODE_PATH].filter(Boolean).join(':');
  require('node:module').Module._initPaths();
}
const SockJS = require('sockjs-client');

const ROOT = path.resolve(__dirname, '..', '..');
const SERVER_BIN = process.env.SOCKJS_ECHO_SERVER || path.join(ROOT, '.build', 'debug', 'sockjs-echo-server');
const HEARTBEAT_SECONDS = 1;
const TRANSPORTS = ['websocket', 'xhr-streaming', 'xhr-polling', 'eventsource'];

let server;
let baseURL;

before(async () => {
  server = spawn(SERVER_BIN, ['--port', '0', '--heartbeat', String(HEARTBEAT_SECONDS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  baseURL = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('sockjs-echo-server did not start within 10 s')), 10000);
    server.once('error', (e) => { clearTimeout(timer); reject(new Error(`cannot start ${SERVER_BIN}: ${e.message}; build it with swift build --product sockjs-echo-server`)); });
    server.once('exit', (code) => { clearTimeout(timer); reject(new Error(`sockjs-echo-server exited early with ${code}`)); });
    readline.createInterface({ input: server.stdout }).on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
});

after(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    process.kill(server.pid, 'SIGTERM');
    const timer = setTimeout(() => { if (server.exitCode === null) process.kill(server.pid, 'SIGKILL'); }, 5000);
    await exited;
    clearTimeout(timer);
  }
});

/** Opens a SockJS connection forced onto one transport and records what happens on it. */
function open(service, transport) {
  const sock = new SockJS(`${baseURL}/${service}`, null, { transports: [transport] });
  const events = { messages: [], heartbeats: 0, close: null, transport: null };
  const waiters = [];
  const settle = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].check()) { waiters[i].resolve(); waiters.splice(i, 1); }
    }
  };
  sock.onmessage = (e) => { events.messages.push(e.data); settle(); };
  sock.onclose = (e) => { events.close = { code: e.code, reason: e.reason }; settle(); };
  sock.addEventListener('heartbeat', () => { events.heartbeats += 1; settle(); });
  const opened = new Promise((resolve, reject) => {
    sock.onopen = () => { events.transport = sock.transport; resolve(); };
    const prevClose = sock.onclose;
    sock.onclose = (e) => { prevClose(e); reject(new Error(`closed before open: ${e.code} ${e.reason}`)); };
  });
  const until = (what, check, ms = 5000) => new Promise((resolve, reject) => {
    if (check()) return resolve();
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what} on ${transport}`)), ms);
    waiters.push({ check, resolve: () => { clearTimeout(timer); resolve(); } });
  });
  return { sock, events, opened, until };
}

for (const transport of TRANSPORTS) {
  test(`echo exchanges messages in order on ${transport}`, async () => {
    const c = open('echo', transport);
    await c.opened;
    assert.equal(c.events.transport, transport, 'sockjs-client fell back to another transport');
    const sent = ['hello', 'ünïcödé ✓ \u2028 "quoted" \\ back', 'x'.repeat(3000), '3'];
    for (const m of sent) c.sock.send(m);
    await c.until('4 echoes', () => c.events.messages.length >= sent.length);
    assert.deepEqual(c.events.messages, sent);
    c.sock.close();
    await c.until('close', () => c.events.close !== null);
  });

  test(`a session on ${transport} survives heartbeat periods and still echoes`, async () => {
    const c = open('echo', transport);
    await c.opened;
    assert.equal(c.events.transport, transport);
    await c.until('two heartbeats', () => c.events.heartbeats >= 2, HEARTBEAT_SECONDS * 5000);
    assert.equal(c.events.close, null, 'the session closed during the heartbeat period');
    c.sock.send('still here');
    await c.until('echo after heartbeats', () => c.events.messages.includes('still here'));
    c.sock.close();
    await c.until('close', () => c.events.close !== null);
  });

  test(`a server-initiated close reaches the client on ${transport}`, async () => {
    const c = open('close', transport);
    await c.opened;
    assert.equal(c.events.transport, transport);
    await c.until('server close', () => c.events.close !== null);
    assert.deepEqual(c.events.close, { code: 3000, reason: 'Go away!' });
  });
}

// Debian's sockjs-node (package node-sockjs) serving /echo and /close on 127.0.0.1:PORT, so the
// ChatClient tests can check every transport against an independent SockJS implementation.
// Usage: NODE_PATH=/usr/share/nodejs node sockjs-node-echo.js PORT
'use strict';
const http = require('http');
const sockjs = require('sockjs');

const port = parseInt(process.argv[2], 10);
const quiet = { log: () => {} };

const echo = sockjs.createServer(quiet);
echo.on('connection', (conn) => conn.on('data', (text) => conn.write(text)));
const close = sockjs.createServer(quiet);
close.on('connection', (conn) => conn.close(3000, 'Go away!'));

const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
echo.installHandlers(server, { prefix: '/echo', response_limit: 4096 });
close.installHandlers(server, { prefix: '/close' });
server.listen(port, '127.0.0.1');

// rabbitChat page: the SockJS connection to /chat, its reconnects (backoff with jitter and a
// countdown), and the join. What the frames mean is app.js's; what is shown is view.js's.
import { backoffDelay, joinFrame } from "./protocol.js";

// `hooks`:
// - status(stateName, text): the connection's state for the page ("connecting", "connected",
//   "reconnecting", "offline");
// - opened(transport): the socket is open (join from here);
// - frame(frame): one parsed server frame with a string `type`;
// - closed(code): the socket closed; returns true when it has dealt with the close itself
//   (no automatic reconnect);
// - connecting(): a new socket is about to open (not joined on it yet);
// - join(): the fields of the `join` frame to send ({ nick, token, nonce, rooms, pending, resume }), or null;
//   `token` may be the credential fields of protocol.js's joinCredentials (password, session, token or nonce).
export function createConnection({ url, transports, hooks }) {
  let sock = null;
  let transport = "";
  let attempt = 0;          // reconnect attempt, for the backoff
  let reconnectTimer = null;
  let reconnectAt = 0;
  let stopped = false;      // replaced or signed out: no automatic reconnect

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (sock) return;
    hooks.connecting();
    hooks.status("connecting", attempt === 0 ? "Connecting…" : "Reconnecting…");
    const options = transports.length ? { transports } : {};
    let s;
    try {
      s = new globalThis.SockJS(url, null, options);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    sock = s;
    s.onopen = () => {
      if (sock !== s) return;
      transport = s.transport || "";
      hooks.opened(transport);
    };
    s.onmessage = (e) => {
      if (sock !== s) return;
      let frame;
      try { frame = JSON.parse(e.data); } catch (_) { return; }
      if (frame && typeof frame.type === "string") hooks.frame(frame);
    };
    s.onclose = (e) => {
      if (sock !== s) return;
      sock = null;
      if (hooks.closed(e.code)) return;
      if (stopped) { hooks.status("offline", "Signed out"); return; }
      scheduleReconnect(e.code === 3000 ? "The server is restarting" : null);
    };
  }

  function scheduleReconnect(reason) {
    const delay = backoffDelay(attempt, Math.random());
    attempt++;
    reconnectAt = Date.now() + delay;
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, delay);
    updateCountdown(reason);
  }
  function updateCountdown(reason) {
    if (!reconnectTimer) return;
    const secs = Math.max(0, Math.ceil((reconnectAt - Date.now()) / 1000));
    hooks.status("reconnecting", (reason ? reason + ": " : "Disconnected: ") + "retrying in " + secs + " s");
    setTimeout(() => { if (reconnectTimer && !sock) updateCountdown(reason); }, 500);
  }
  function reconnectNow() {
    if (sock) return;
    stopped = false;
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    connect();
  }

  // Sends one frame; false when there is no open socket.
  function send(frame) {
    if (!sock || sock.readyState !== 1) return false;
    sock.send(JSON.stringify(frame));
    return true;
  }

  function sendJoin() {
    const j = hooks.join();
    if (j) send(joinFrame(j.nick, j.token, j.nonce, j.rooms, j.pending, j.resume));
  }

  // Closes the socket without the close reaching `hooks.closed` (a sign-out or a replacement).
  function drop() {
    if (sock) { const s = sock; sock = null; s.close(); }
  }

  return {
    connect, reconnectNow, send, sendJoin, drop,
    // Replaced elsewhere: closed, and no reconnect until asked.
    stop() {
      stopped = true;
      drop();
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
    },
    // Signed out: a fresh connection lets the next nick join cleanly.
    restart() {
      drop();
      stopped = false;
      attempt = 0;
      connect();
    },
    // Joined: the next disconnect starts the backoff from its first step.
    joined() { attempt = 0; },
    get active() { return sock !== null; },
    get open() { return sock !== null && sock.readyState === 1; },
    get stopped() { return stopped; },
    get transport() { return transport; },
  };
}

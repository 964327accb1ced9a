// The live runtime log of an app's container.
//
// ContainerLogStream speaks WS /ws/container/logs?appId=N&tail=T. The server sends the last T lines,
// then each new one as `{type: "log", data: {timestamp, line}}`, a `status` message when the
// container stops (`{state: "exited"}`), and goes on when it (or the next deployment's container)
// runs again: the stream never ends by itself, its owner closes it.
//
// Lines carry no sequence number, only the engine's timestamp (fixed width, so they sort as text).
// After a dropped connection the stream reconnects and the server sends the tail again: what is
// older than the last line already shown is skipped, and at that last timestamp only as many copies
// of a line as were shown (the engine may stamp two lines read together alike).
//
// The lines themselves are rendered by logviewer.js's LogView.

import { BACKOFF_MS } from "./logviewer.js";

export const DEFAULT_TAIL = 200;

export function containerWsUrl(appId, tail = DEFAULT_TAIL, loc = window.location) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/ws/container/logs?appId=${encodeURIComponent(appId)}&tail=${encodeURIComponent(tail)}`;
}

export class ContainerLogStream {
  /** handlers: onLine({timestamp, line}), onStatus(data), onError(message), onState(state, info). */
  constructor(appId, handlers = {}, { WebSocketImpl = window.WebSocket, backoff = BACKOFF_MS, tail = DEFAULT_TAIL, url = containerWsUrl } = {}) {
    this.appId = appId;
    this.h = handlers;
    this.WebSocketImpl = WebSocketImpl;
    this.backoff = backoff;
    this.tail = tail;
    this.urlFor = url;
    this.ws = null;
    this.timer = null;
    this.failures = 0;
    this.holdUntil = 0;
    this.closed = false;
    this.suspended = false;
    this.errors = new Set();
    // What was shown last: its timestamp and how often each line was shown at it.
    this.lastStamp = "";
    this.atLast = new Map();
    // While a reconnect's replay runs: what to skip.
    this.skipBefore = "";
    this.skipAt = new Map();
    this.stats = { connects: 0, drops: 0, duplicates: 0, received: 0 };
    this.onOnline = () => {
      if (this.timer !== null) this.reconnectNow();
    };
    window.addEventListener("online", this.onOnline);
  }

  start() {
    this.connect();
    return this;
  }

  connect() {
    if (this.closed || this.suspended) return;
    this.timer = null;
    this.state("connecting");
    this.skipBefore = this.lastStamp;
    this.skipAt = new Map(this.atLast);
    let ws;
    try {
      ws = new this.WebSocketImpl(this.urlFor(this.appId, this.tail));
    } catch (_) {
      this.failures += 1;
      this.scheduleReconnect(0);
      return;
    }
    this.ws = ws;
    let heard = false;
    ws.onopen = () => {
      this.stats.connects += 1;
      this.state("live");
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      if (!heard) {
        heard = true;
        this.failures = 0;
      }
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      this.handle(msg);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closed || this.suspended) return;
      this.stats.drops += 1;
      if (!heard) this.failures += 1;
      this.scheduleReconnect(event && event.code);
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  handle(msg) {
    if (!msg || typeof msg !== "object") return;
    const data = msg.data && typeof msg.data === "object" ? msg.data : {};
    if (msg.type === "log") {
      this.stats.received += 1;
      const line = typeof data.line === "string" ? data.line : "";
      const stamp = typeof data.timestamp === "string" ? data.timestamp : "";
      if (this.isReplayed(stamp, line)) {
        this.stats.duplicates += 1;
        return;
      }
      if (stamp !== this.lastStamp) {
        this.lastStamp = stamp;
        this.atLast = new Map();
      }
      this.atLast.set(line, (this.atLast.get(line) || 0) + 1);
      if (this.h.onLine) this.h.onLine({ timestamp: stamp, line });
    } else if (msg.type === "status") {
      this.skipBefore = ""; // whatever comes after a status is new
      if (this.h.onStatus) this.h.onStatus(data);
    } else if (msg.type === "error") {
      const text = String(data.message || "");
      if (!this.errors.has(text)) {
        this.errors.add(text);
        if (this.h.onError) this.h.onError(text);
      }
    }
  }

  /** During a reconnect's replay: was this line shown already? */
  isReplayed(stamp, line) {
    if (!this.skipBefore || !stamp) return false;
    if (stamp < this.skipBefore) return true;
    if (stamp === this.skipBefore) {
      const left = this.skipAt.get(line) || 0;
      if (left > 0) {
        this.skipAt.set(line, left - 1);
        return true;
      }
      return false;
    }
    this.skipBefore = ""; // past the last line shown: the replay is over
    return false;
  }

  scheduleReconnect(code) {
    const base = this.backoff[Math.min(this.failures, this.backoff.length - 1)];
    const delay = Math.max(base, this.holdUntil - Date.now());
    this.state("reconnecting", { code, delay, failures: this.failures });
    this.clearTimer();
    this.timer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    if (this.closed || this.suspended || this.ws) return;
    this.holdUntil = 0;
    this.clearTimer();
    this.connect();
  }

  /** No container to follow (the app is not deployed): stop trying until `resume`. */
  suspend() {
    if (this.suspended || this.closed) return;
    this.suspended = true;
    this.clearTimer();
    this.disconnect();
    this.state("waiting");
  }

  resume() {
    if (!this.suspended || this.closed) return;
    this.suspended = false;
    this.failures = 0;
    this.connect();
  }

  /** Test and debugging hook: cut the connection as a network failure would, stay away `holdMs`. */
  drop(holdMs = 0) {
    this.holdUntil = Date.now() + holdMs;
    if (this.ws) this.ws.close(4000, "dropped on purpose");
  }

  clearTimer() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  disconnect() {
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, "viewer closed");
    }
  }

  state(name, info = {}) {
    this.currentState = name;
    if (this.h.onState) this.h.onState(name, info);
  }

  close() {
    this.closed = true;
    this.clearTimer();
    window.removeEventListener("online", this.onOnline);
    this.disconnect();
  }
}

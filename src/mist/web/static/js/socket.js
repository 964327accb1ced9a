// The connection machinery both live logs share (logviewer.js's LogStream, containerlog.js's
// ContainerLogStream): open a WebSocket, parse its JSON messages, and after a dropped connection
// open it again with a growing back-off, as soon as the browser is back online.
//
// A subclass says where to connect (`socketUrl()`), what to reset before each (re)connect
// (`beforeConnect()`), what a message means (`handle(msg)`) and when to stop trying (`stopped()`;
// `closed` always stops). Everything else here is the same for both streams.

export const BACKOFF_MS = [300, 600, 1200, 2500, 5000, 8000];

export class ReconnectingSocket {
  /** handlers.onState(state, info) hears the connection state; the subclass reads the others. */
  constructor(handlers = {}, { WebSocketImpl = window.WebSocket, backoff = BACKOFF_MS } = {}) {
    this.h = handlers;
    this.WebSocketImpl = WebSocketImpl;
    this.backoff = backoff;
    this.closed = false;
    this.ws = null;
    this.timer = null;
    this.failures = 0;
    this.holdUntil = 0;
    this.stats = { connects: 0, drops: 0, duplicates: 0, received: 0 };
    this.onOnline = () => {
      if (this.timer !== null) this.reconnectNow();
    };
    window.addEventListener("online", this.onOnline);
  }

  /** The URL to open, asked on each (re)connect. */
  socketUrl() {
    throw new Error("socketUrl() is the subclass's");
  }

  /** Runs before each (re)connect, before the URL is asked for. */
  beforeConnect() {}

  /** One parsed message from the server. */
  handle(_msg) {}

  /** No connecting and no reconnecting while this holds. */
  stopped() {
    return this.closed;
  }

  start() {
    this.connect();
    return this;
  }

  connect() {
    if (this.stopped()) return;
    this.timer = null;
    this.state("connecting");
    this.beforeConnect();
    let ws;
    try {
      ws = new this.WebSocketImpl(this.socketUrl());
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
        this.failures = 0; // a connection that delivers resets the back-off
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
      if (this.stopped()) return;
      this.stats.drops += 1;
      if (!heard) this.failures += 1;
      this.scheduleReconnect(event && event.code);
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  scheduleReconnect(code) {
    const base = this.backoff[Math.min(this.failures, this.backoff.length - 1)];
    const delay = Math.max(base, this.holdUntil - Date.now());
    this.state("reconnecting", { code, delay, failures: this.failures });
    this.clearTimer();
    this.timer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    if (this.stopped() || this.ws) return;
    this.holdUntil = 0;
    this.clearTimer();
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

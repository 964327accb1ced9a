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
// The connection and its reconnects are socket.js's; the lines themselves are rendered by
// logviewer.js's LogView.

import { ReconnectingSocket } from "./socket.js";

export const DEFAULT_TAIL = 200;

export function containerWsUrl(appId, tail = DEFAULT_TAIL, loc = window.location) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/ws/container/logs?appId=${encodeURIComponent(appId)}&tail=${encodeURIComponent(tail)}`;
}

export class ContainerLogStream extends ReconnectingSocket {
  /** handlers: onLine({timestamp, line}), onStatus(data), onError(message), onState(state, info). */
  constructor(appId, handlers = {}, { tail = DEFAULT_TAIL, url = containerWsUrl, ...options } = {}) {
    super(handlers, options);
    this.appId = appId;
    this.tail = tail;
    this.urlFor = url;
    this.suspended = false;
    this.errors = new Set();
    // What was shown last: its timestamp and how often each line was shown at it.
    this.lastStamp = "";
    this.atLast = new Map();
    // While a reconnect's replay runs: what to skip.
    this.skipBefore = "";
    this.skipAt = new Map();
  }

  socketUrl() {
    return this.urlFor(this.appId, this.tail);
  }

  /** The server sends the tail again on each connect: skip what was shown already. */
  beforeConnect() {
    this.skipBefore = this.lastStamp;
    this.skipAt = new Map(this.atLast);
  }

  stopped() {
    return this.closed || this.suspended;
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
}

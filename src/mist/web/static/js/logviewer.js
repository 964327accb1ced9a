// The live log of one deployment.
//
// LogStream speaks WS /ws/deployment/logs?deploymentId=N. Every log message carries `seq`, the
// line's number in the stored log. The server replays the whole log on each connect, so after a
// dropped connection the stream reconnects and keeps only the lines it does not have yet: nothing
// is lost, nothing is shown twice. (It also sends `since=<next seq>` in case the server learns to
// skip the replay; the client-side check stays either way.) Lines that arrive ahead of a gap wait
// until the gap is filled; if the deployment ends with a gap, the stored log fills it. The socket,
// its back-off and reconnects are socket.js's ReconnectingSocket, shared with the runtime log.
//
// LogView renders the lines (ANSI colours as spans, text as text), follows the tail unless the
// reader scrolled up, and shows the connection state. The runtime log (containerlog.js) uses it
// too: with its own test id, marker lines for the container's state, and a cap on the lines kept.

import { newState, renderAnsi } from "./ansi.js";
import { h } from "./dom.js";
import { ReconnectingSocket } from "./socket.js";

export { BACKOFF_MS } from "./socket.js";
export const FINAL_STATUSES = new Set(["success", "failed", "stopped", "rolled_back"]);

export function wsUrl(deploymentId, since, loc = window.location) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  let url = `${scheme}//${loc.host}/ws/deployment/logs?deploymentId=${encodeURIComponent(deploymentId)}`;
  if (since > 0) url += `&since=${since}`;
  return url;
}

/** Splits a stored log (text/plain, one line per "\n") into its lines. */
export function splitLog(text) {
  if (!text) return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

export class LogStream extends ReconnectingSocket {
  /**
   * handlers: onLines([{seq, line}]), onStatus(data), onError(message), onState(state, info),
   *           fetchStored() -> Promise<string> (fills a gap left at the end).
   */
  constructor(deploymentId, handlers = {}, { url = wsUrl, ...options } = {}) {
    super(handlers, options);
    this.deploymentId = deploymentId;
    this.urlFor = url;
    this.nextSeq = 0;
    this.pending = new Map();
    this.errors = new Set();
    this.final = false;
  }

  /** Each (re)connect resumes from the next line this stream does not have. */
  socketUrl() {
    return this.urlFor(this.deploymentId, this.nextSeq);
  }

  stopped() {
    return this.closed || this.final;
  }

  handle(msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "log") {
      this.stats.received += 1;
      const line = msg.data && typeof msg.data.line === "string" ? msg.data.line : "";
      const seq = Number.isInteger(msg.seq) ? msg.seq : this.nextSeq;
      this.acceptLine(seq, line);
    } else if (msg.type === "status" && msg.data) {
      if (this.h.onStatus) this.h.onStatus(msg.data);
      if (FINAL_STATUSES.has(msg.data.status)) this.finish();
    } else if (msg.type === "error" && msg.data) {
      const text = String(msg.data.message || "");
      if (!this.errors.has(text)) {
        this.errors.add(text);
        if (this.h.onError) this.h.onError(text);
      }
    }
  }

  acceptLine(seq, line) {
    if (seq < this.nextSeq || this.pending.has(seq)) {
      this.stats.duplicates += 1;
      return;
    }
    if (seq > this.nextSeq) {
      this.pending.set(seq, line);
      return;
    }
    const batch = [{ seq, line }];
    this.nextSeq = seq + 1;
    while (this.pending.has(this.nextSeq)) {
      batch.push({ seq: this.nextSeq, line: this.pending.get(this.nextSeq) });
      this.pending.delete(this.nextSeq);
      this.nextSeq += 1;
    }
    if (this.h.onLines) this.h.onLines(batch);
  }

  async finish() {
    this.final = true;
    this.clearTimer();
    this.state("done");
    if (this.pending.size > 0 && this.h.fetchStored) {
      try {
        const lines = splitLog(await this.h.fetchStored());
        for (let seq = this.nextSeq; seq < lines.length; seq++) this.acceptLine(seq, lines[seq]);
      } catch (_) { /* the lines we have stay shown */ }
    }
  }
}

const STATE_LABELS = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "connection lost, reconnecting…",
  done: "finished",
  stored: "stored log",
  loading: "loading…",
  failed: "could not load the log",
  waiting: "no container yet",
};

export class LogView {
  /**
   * downloadUrl/downloadName: a Download link (none without a URL); label: the log's accessible
   * name; testid: the log box's data-testid (its state label gets `${testid}-connection`);
   * maxLines: how many lines to keep (0: all), the oldest go first.
   */
  constructor({ downloadUrl = null, downloadName = "", label = "Deployment log", testid = "log", maxLines = 0 } = {}) {
    this.ansi = newState();
    this.follow = true;
    this.scrollQueued = false;
    this.count = 0;
    this.maxLines = maxLines;
    this.stateLabel = h("span", { class: "conn conn-loading", "data-testid": `${testid}-connection` }, STATE_LABELS.loading);
    this.jump = h("button", { type: "button", class: "btn btn-small jump", hidden: true, onclick: () => this.resumeFollow() }, "↓ Follow");
    this.wrap = h("input", { type: "checkbox", checked: true, onchange: () => this.body.classList.toggle("nowrap", !this.wrap.checked) });
    this.body = h("div", { class: "log", role: "log", tabindex: "0", "aria-label": label, "data-testid": testid });
    this.empty = h("div", { class: "log-empty" }, "No output yet.");
    this.body.append(this.empty);
    this.body.addEventListener("scroll", () => this.onScroll(), { passive: true });
    this.element = h("section", { class: "logviewer" },
      h("div", { class: "log-toolbar" },
        this.stateLabel,
        h("span", { class: "spacer" }),
        h("label", { class: "check" }, this.wrap, " Wrap"),
        downloadUrl ? h("a", { class: "btn btn-small", href: downloadUrl, download: downloadName, "data-testid": "log-download" }, "Download") : null,
      ),
      h("div", { class: "log-wrap" }, this.body, this.jump),
    );
  }

  setState(name) {
    this.stateLabel.className = `conn conn-${name}`;
    this.stateLabel.textContent = STATE_LABELS[name] || name;
  }

  /** batch: [{seq, line, title?}]; `title` (a timestamp, say) shows on hover. */
  appendLines(batch) {
    if (!batch.length) return;
    this.removeEmpty();
    const frag = document.createDocumentFragment();
    for (const { seq, line, title } of batch) {
      const row = document.createElement("div");
      row.className = "log-line";
      row.dataset.seq = String(seq);
      row.dataset.n = String(seq + 1);
      if (title) row.title = title;
      row.append(...renderAnsi(line, this.ansi));
      if (!line) row.append(document.createTextNode("")); // keeps the empty line's height via CSS
      frag.append(row);
    }
    this.body.append(frag);
    this.count += batch.length;
    this.trim();
    if (this.follow) this.queueScroll();
  }

  /** A line that is not output: a dimmed note such as "container exited" (kind "error": in red). */
  appendMarker(text, kind = "info") {
    this.removeEmpty();
    this.ansi = newState(); // what follows is new output: no colour carries over
    this.body.append(h("div", { class: ["log-line", "log-marker", `log-marker-${kind}`], "data-marker": kind }, text));
    this.trim();
    if (this.follow) this.queueScroll();
  }

  removeEmpty() {
    if (this.empty) {
      this.empty.remove();
      this.empty = null;
    }
  }

  /** Keeps the newest `maxLines`; while the reader looks further up, up to twice as many. */
  trim() {
    if (!this.maxLines) return;
    const limit = this.follow ? this.maxLines : this.maxLines * 2;
    let extra = this.body.childElementCount - limit;
    while (extra-- > 0) this.body.firstElementChild.remove();
  }

  setText(text) {
    this.appendLines(splitLog(text).map((line, seq) => ({ seq, line })));
  }

  queueScroll() {
    if (this.scrollQueued) return;
    this.scrollQueued = true;
    const run = () => {
      if (!this.scrollQueued) return;
      this.scrollQueued = false;
      if (this.follow) this.scrollToEnd();
    };
    requestAnimationFrame(run);
    setTimeout(run, 100); // rAF does not run in a hidden tab
  }

  scrollToEnd() {
    this.body.scrollTop = this.body.scrollHeight;
    this.autoScrollTop = this.body.scrollTop;
  }

  onScroll() {
    const top = this.body.scrollTop;
    const gap = this.body.scrollHeight - top - this.body.clientHeight;
    if (gap < 24) {
      this.follow = true;
    } else if (this.autoScrollTop !== undefined && Math.abs(top - this.autoScrollTop) < 2) {
      // Our own scroll, reported after more lines made the log taller: still following.
      return;
    } else {
      this.follow = false;
    }
    this.jump.hidden = this.follow;
  }

  resumeFollow() {
    this.follow = true;
    this.jump.hidden = true;
    this.scrollToEnd();
  }

  lines() {
    return Array.from(this.body.querySelectorAll(".log-line"), (el) => el.textContent);
  }
}

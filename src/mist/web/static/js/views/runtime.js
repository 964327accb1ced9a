// The running app, on its page: the container's status (polled while the page is open), Start /
// Stop / Restart, its live runtime log; a database's connection details; and the notice shown
// after a change that the running app picks up only with a restart or a redeploy. In Swarm mode the
// status lists the app's replicas (node, state, health, restarts), shown as a table under the facts.

import { api } from "../api.js";
import { ContainerLogStream } from "../containerlog.js";
import { h, replace } from "../dom.js";
import { LogView } from "../logviewer.js";
import { busy, confirmButton, copyButton, formatDuration, timeAgo, toast } from "../ui.js";

const POLL_MS = 3000;
const MAX_LINES = 5000;

const STATE_LABELS = {
  running: "running",
  restarting: "restarting",
  paused: "paused",
  created: "created",
  exited: "exited",
  dead: "dead",
  removing: "removing",
  removed: "container removed",
  not_deployed: "not deployed",
};

// A replica's (Swarm task's) state, coloured as the container state it is closest to; the rest are on their way.
const REPLICA_STATE_STYLES = {
  running: "running", complete: "exited", shutdown: "exited", failed: "dead", rejected: "dead", orphaned: "dead",
};

/** A container exists to control and to follow (it may be stopped). */
const hasContainer = (s) => Boolean(s) && s.state !== "not_deployed" && s.state !== "removed";
const isUp = (s) => Boolean(s) && (s.state === "running" || s.state === "restarting" || s.state === "paused");

// Debugging and test hooks, as for the deployment log: cut the runtime log's socket, read its counters.
let liveRuntime = null;
window.__mistDropRuntimeSocket = (holdMs = 0) => {
  if (!liveRuntime || !liveRuntime.ws) return false;
  liveRuntime.drop(holdMs);
  return true;
};
window.__mistRuntimeStats = () => (liveRuntime ? { ...liveRuntime.stats, state: liveRuntime.currentState } : null);

export function stateBadge(state) {
  const known = Object.hasOwn(STATE_LABELS, state);
  return h("span", { class: ["badge", `state-${known ? state : "unknown"}`], "data-testid": "container-state", "data-state": state },
    known ? STATE_LABELS[state] : String(state));
}

/**
 * The Runtime card: status facts, the control buttons, the runtime log.
 * Returns {element, refresh, close}; `close` stops the polling and the log's socket.
 */
export function runtimePanel(app, initial) {
  let status = null;
  let closed = false;
  let timer = null;
  let epoch = 0; // a control action bumps it: a poll sent before the action must not undo its answer
  let stream = null;
  let lastMarker = "";
  let seq = 0;

  const badges = h("span", { class: "badges" });
  const facts = h("dl", { class: "facts", "data-testid": "runtime-facts" });
  const replicaBox = h("div", { class: "table-scroll", hidden: true });
  const view = new LogView({ label: "Runtime log", testid: "runtime-log", maxLines: MAX_LINES });
  view.element.classList.add("logviewer-runtime");
  view.setState("waiting");

  const start = h("button", { type: "button", class: "btn btn-small", "data-testid": "container-start" }, "Start");
  const restart = h("button", { type: "button", class: "btn btn-small", "data-testid": "container-restart" }, "Restart");
  const stop = confirmButton("Stop", "Confirm stop?", (btn) => control("stop", btn, "Stopping…", "Container stopped"),
    { class: "btn btn-small btn-danger", "data-testid": "container-stop" });
  start.addEventListener("click", () => control("start", start, "Starting…", "Container started"));
  restart.addEventListener("click", () => control("restart", restart, "Restarting…", "Container restarted"));

  const element = h("section", { class: "card runtime", "data-testid": "runtime" },
    h("div", { class: "detail-head" },
      h("div", {}, h("h2", {}, "Runtime"), badges),
      h("div", { class: "actions" }, start, restart, stop)),
    facts,
    replicaBox,
    view.element);

  async function control(action, btn, busyText, done) {
    epoch += 1;
    const mine = epoch;
    const result = await busy(btn, busyText, () => api.containerControl(app.id, action));
    if (closed) return;
    if (result) {
      toast(done, "success");
      if (mine === epoch) show(result);
    } else {
      show(status); // the buttons as the last known state has them
    }
    schedule();
  }

  function fact(name, label, ...value) {
    return h("div", { class: "fact" }, h("dt", {}, label), h("dd", { "data-fact": name }, ...value));
  }

  function show(s) {
    if (!s) return;
    status = s;
    element.dataset.state = s.state;
    element.dataset.health = s.health || "none";
    replace(badges,
      stateBadge(s.state),
      s.health && s.health !== "none" ? h("span", { class: ["badge", `health-${s.health}`], "data-testid": "container-health" }, s.health) : null);
    if (!hasContainer(s)) {
      replace(facts, h("div", { class: "muted small facts-empty" },
        s.state === "removed"
          ? "The active deployment's container is gone. Deploy again to run the app."
          : "No container yet: deploy the app to run it."));
    } else {
      const running = s.state === "running";
      replace(facts,
        fact("uptime", "Uptime", running && s.uptime !== null && s.uptime !== undefined ? formatDuration(s.uptime) : "—"),
        fact("startedAt", "Started", s.startedAt ? h("span", { title: s.startedAt }, timeAgo(s.startedAt)) : "—"),
        fact("deployment", "Deployment", s.deploymentNumber
          ? h("a", { href: `#/apps/${app.id}/deployments/${s.deploymentId}` }, `#${s.deploymentNumber}`) : "—"),
        fact("image", "Image", h("span", { class: "mono ellipsis block", title: s.image || "" }, s.image || "—")),
        fact("restarts", "Restarts", String(s.restarts ?? 0)),
        running ? null : fact("exitCode", "Exit code", s.exitCode === null || s.exitCode === undefined ? "—" : String(s.exitCode)),
        fact("cpuLimit", "CPU limit", s.cpuLimit ? `${s.cpuLimit} CPU${s.cpuLimit === 1 ? "" : "s"}` : "none"),
        fact("memoryLimit", "Memory limit", s.memoryLimit ? `${s.memoryLimit} MiB` : "none"),
        fact("restartPolicy", "Restart policy", s.restartPolicy || "—"),
        Array.isArray(s.replicas) ? fact("replicas", "Replicas",
          `${s.replicas.filter((r) => r.state === "running").length} of ${app.replicas ?? s.replicas.length} running`) : null);
    }
    showReplicas(hasContainer(s) && Array.isArray(s.replicas) ? s.replicas : []);
    const exists = hasContainer(s);
    view.element.hidden = !exists && view.count === 0; // no empty black box before the first deployment
    start.disabled = !exists || s.state === "running";
    restart.disabled = !exists;
    stop.disabled = !exists || !isUp(s);
    follow(exists);
  }

  /** Swarm mode: one row per replica, where it runs and how it is doing. */
  function showReplicas(replicas) {
    replicaBox.hidden = replicas.length === 0;
    replace(replicaBox, replicas.length === 0 ? null : h("table", { class: "replicas-table", "data-testid": "replicas" },
      h("thead", {}, h("tr", {}, ["Replica", "Node", "State", "Health", "Started", "Restarts", "Error"]
        .map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, replicas.map((r) => h("tr", { "data-testid": "replica-row", "data-task": r.task, "data-state": r.state },
        h("td", { class: "mono" }, r.task),
        h("td", { "data-testid": "replica-node" }, r.node || "—"),
        h("td", {}, h("span", { class: ["badge", `state-${REPLICA_STATE_STYLES[r.state] || "restarting"}`] }, r.state)),
        h("td", {}, r.health && r.health !== "none" ? h("span", { class: ["badge", `health-${r.health}`] }, r.health) : "—"),
        h("td", {}, r.startedAt ? h("span", { title: r.startedAt }, timeAgo(r.startedAt)) : "—"),
        h("td", { class: "num" }, String(r.restarts ?? 0)),
        h("td", { class: "small" }, r.error || ""))))));
  }

  /** The runtime log follows whenever there is a container, stopped ones included (they may start). */
  function follow(exists) {
    if (!exists) {
      if (stream) stream.suspend();
      else view.setState("waiting");
      return;
    }
    if (stream) {
      stream.resume();
      return;
    }
    stream = new ContainerLogStream(app.id, {
      onLine: ({ timestamp, line }) => {
        lastMarker = "";
        view.appendLines([{ seq: seq++, line, title: timestamp }]);
      },
      onStatus: (data) => {
        const text = `── container ${STATE_LABELS[data.state] || data.state || "stopped"} ──`;
        if (text !== lastMarker) view.appendMarker(text);
        lastMarker = text;
        refresh();
      },
      onError: (message) => view.appendMarker(`── ${message} ──`, "error"),
      onState: (state) => view.setState(state),
    }).start();
    liveRuntime = stream;
  }

  async function refresh() {
    if (closed) return;
    clearTimeout(timer);
    const mine = epoch;
    try {
      const s = await api.containerStatus(app.id);
      if (!closed && mine === epoch) show(s);
    } catch (err) {
      if (err.status !== 401) console.warn("container status:", err.message);
    } finally {
      schedule();
    }
  }

  function schedule() {
    clearTimeout(timer);
    if (!closed) timer = setTimeout(refresh, POLL_MS);
  }

  if (initial) show(initial);
  schedule();

  return {
    element,
    refresh,
    close() {
      closed = true;
      clearTimeout(timer);
      if (stream) stream.close();
      if (liveRuntime === stream) liveRuntime = null;
    },
  };
}

/** `action` is the API's `actionRequired`: "restart" or "redeploy" get a notice with the button that applies them. */
export function actionNotice(ctx, app, action) {
  if (action !== "restart" && action !== "redeploy") return null;
  const text = h("span", { "data-testid": "action-notice-text" });
  const buttons = h("span", { class: "actions" });
  const el = h("div", { class: "notice action-notice", role: "status", "data-testid": "action-notice", dataset: { action } }, text, buttons);

  const deploy = () => {
    const btn = h("button", { type: "button", class: "btn btn-small btn-primary", "data-testid": "notice-deploy" }, "Deploy");
    btn.addEventListener("click", async () => {
      const created = await busy(btn, "Queueing…", () => api.deploy(app.id));
      if (created) {
        toast(`Deployment #${created.deployment_number ?? created.id} queued`, "success");
        ctx.navigate(`#/apps/${app.id}/deployments/${created.id}`);
      }
    });
    return btn;
  };
  const restartButton = () => {
    const btn = h("button", { type: "button", class: "btn btn-small btn-primary", "data-testid": "notice-restart" }, "Restart");
    btn.addEventListener("click", async () => {
      const s = await busy(btn, "Restarting…", () => api.containerControl(app.id, "restart"));
      if (s) {
        toast("Container restarted", "success");
        el.dataset.action = "done";
        el.classList.add("notice-done");
        replace(text, "Restarted: the running container has the new settings.");
        replace(buttons);
      }
    });
    return btn;
  };

  if (action === "restart") {
    replace(text, "Restart the container to apply the changes.");
    replace(buttons, restartButton());
  } else {
    replace(text, "Redeploy to apply the changes.");
    replace(buttons, deploy());
  }
  // Never deployed: nothing runs yet, so the first deployment applies everything.
  api.containerStatus(app.id).then((s) => {
    if (s && s.state === "not_deployed" && el.dataset.action === action) {
      el.dataset.action = "deploy";
      replace(text, "Saved. The app is not deployed yet: its first deployment uses these settings.");
      replace(buttons, deploy());
    }
  }, () => { /* keep the notice as it is */ });
  return el;
}

/** A database app's connection details; the password (and the URL holding it) only on request. */
export function connectionCard(app) {
  const c = app.connection;
  if (!c) return null;
  const value = (name, text, attrs = {}) => h("input", {
    type: "text", class: "mono", readOnly: true, value: text ?? "", "aria-label": name,
    "data-testid": `connection-${name}`, spellcheck: "false", onfocus: (event) => event.target.select(), ...attrs,
  });
  const url = value("url", c.password ? maskUrl(c.url) : c.url);
  const rows = [
    h("div", { class: "row" },
      fieldOf("Host", value("host", c.host), "The app's name: other apps of the project reach it by it"),
      fieldOf("Port", value("port", String(c.port ?? "")))),
    h("div", { class: "row" },
      fieldOf("User", value("user", c.user || "")),
      fieldOf("Database", value("database", c.database || ""))),
  ];
  let password = null;
  if (c.password) {
    let shown = false;
    password = value("password", "••••••••", { "data-hidden": "true" });
    const toggle = h("button", { type: "button", class: "btn btn-small", "data-testid": "connection-show", "aria-pressed": "false" }, "Show");
    toggle.addEventListener("click", () => {
      shown = !shown;
      password.value = shown ? c.password : "••••••••";
      password.dataset.hidden = String(!shown);
      url.value = shown ? c.url : maskUrl(c.url);
      toggle.textContent = shown ? "Hide" : "Show";
      toggle.setAttribute("aria-pressed", String(shown));
    });
    rows.push(fieldOf("Password", h("div", { class: "input-with-button" }, password, toggle)));
  } else {
    rows.push(fieldOf("Password", h("p", { class: "muted small", "data-testid": "connection-password-hidden" },
      "Only the owner and admins can see the password.")));
  }
  rows.push(fieldOf("URL", h("div", { class: "input-with-button" }, url, copyButton(url, { "data-testid": "connection-copy" })),
    h("span", {}, "In another app of the project, set an env var to ", h("span", { class: "mono" }, `\${{${app.name}.URL}}`), " to have it filled in at deploy time.")));
  return h("section", { class: "card connection", "data-testid": "connection" }, h("h2", {}, "Connection"), ...rows);
}

function fieldOf(label, control, hint) {
  return h("div", { class: "field" },
    h("span", { class: "field-label" }, label),
    control,
    hint ? h("span", { class: "field-hint" }, hint) : null);
}

/** scheme://user:password@host… with the password as ********. */
export function maskUrl(url) {
  return String(url || "").replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, "$1********@");
}

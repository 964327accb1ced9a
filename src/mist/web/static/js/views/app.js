// An application's page: its running container (runtime.js: status, start / stop / restart, the
// runtime log; a database's connection details), its deployments (status, progress, commit,
// duration, which is active), deploy / stop / roll back, the selected deployment's log, live
// while it runs, and what the build uses (build.js); a database's backups (backups.js).

import { api, logUrl } from "../api.js";
import { h, replace } from "../dom.js";
import { FINAL_STATUSES, LogStream, LogView } from "../logviewer.js";
import { busy, confirmButton, formatDuration, progressBar, shortHash, showError, statusBadge, timeAgo, toast } from "../ui.js";
import { backupsPanel } from "./backups.js";
import { dockerfilePanel } from "./build.js";
import { connectionCard, runtimePanel } from "./runtime.js";

const POLL_BUSY_MS = 2000;
const POLL_IDLE_MS = 10000;

const isFinal = (d) => FINAL_STATUSES.has(d.status);
const canStop = (d) => !isFinal(d);
const canRollBack = (d) => (d.status === "success" || d.status === "rolled_back") && !d.is_active;

// Debugging and test hooks: the live viewer's connection can be cut on purpose to see it resume.
let liveStream = null;
window.__mistDropSocket = (holdMs = 0) => {
  if (!liveStream || !liveStream.ws) return false;
  liveStream.drop(holdMs);
  return true;
};
window.__mistLogStats = () => (liveStream
  ? { ...liveStream.stats, nextSeq: liveStream.nextSeq, state: liveStream.currentState, final: liveStream.final }
  : null);

export async function renderApp(ctx, appId, selectedId) {
  // The container's status is not worth failing the page over: the panel polls it again.
  const [app, deployments, containerStatus] = await Promise.all([
    api.app(appId), api.deployments(appId), api.containerStatus(appId).catch(() => null)]);
  const project = await api.project(app.projectId);
  if (!ctx.alive()) return;
  ctx.setCrumbs([["Projects", "#/"], [project.name, `#/projects/${project.id}`], [app.name, null]]);

  let list = deployments;
  let closed = false;
  let pollTimer = null;
  const rows = new Map();
  const finals = new Map(); // deployment id -> its final status, as the socket told it
  const listEl = h("ol", { class: "deployments", "data-testid": "deployments" });
  const detailBox = h("div", { class: "detail-box" });
  let detail = null;

  if (selectedId === null && list.length) selectedId = list[0].id;

  const actions = {
    stop: async (d, btn) => {
      await busy(btn, "Stopping…", async () => {
        await api.stop(d.id);
        toast(`Deployment #${d.deployment_number} stopped`, "success");
      });
      refresh();
    },
    rollback: async (d, btn) => {
      const created = await busy(btn, "Rolling back…", () => api.rollback(d.id));
      if (created) {
        toast(`Rolling back to #${d.deployment_number} as deployment #${created.deployment_number}`, "success");
        ctx.navigate(`#/apps/${app.id}/deployments/${created.id}`);
      }
    },
  };

  const deployButton = h("button", { type: "button", class: "btn btn-primary", "data-testid": "deploy" }, "Deploy");
  deployButton.addEventListener("click", async () => {
    const created = await busy(deployButton, "Queueing…", () => api.deploy(app.id));
    if (created) {
      toast(`Deployment #${created.deployment_number ?? created.id} queued: ${shortHash(created.commit_hash)} ${created.commit_message}`, "success");
      ctx.navigate(`#/apps/${app.id}/deployments/${created.id}`);
    }
  });

  // Refused (409) while the app deploys: the server's message says so in the toast.
  const deleteButton = confirmButton("Delete", "Confirm delete?", async (btn) => {
    const deleted = await busy(btn, "Deleting…", async () => {
      await api.deleteApp(app.id);
      return true;
    });
    if (deleted) {
      toast(`Application ${app.name} deleted`, "success");
      ctx.navigate(`#/projects/${project.id}`);
    }
  }, { class: "btn btn-danger", "data-testid": "delete-app" });

  const numberOf = (id) => list.find((d) => d.id === id)?.deployment_number;

  function renderList() {
    renderSummary();
    if (!list.length) {
      replace(listEl, h("li", { class: "muted empty" }, "No deployments yet. Deploy builds the latest commit of ", h("span", { class: "mono" }, app.gitBranch || "the template"), "."));
      rows.clear();
      return;
    }
    const seen = new Set();
    let previous = null;
    for (const d of list) {
      seen.add(d.id);
      const old = rows.get(d.id);
      let row = old;
      if (old && old.dataset.key === rowKey(d, d.id === selectedId, numberOf)) {
        // Unchanged but for the clock: keep the element (and any button armed for confirmation).
        old.querySelector(".dep-time").textContent = timeText(d);
      } else {
        row = deploymentRow(app, d, d.id === selectedId, actions, numberOf);
        if (old) old.replaceWith(row);
        else if (previous) previous.after(row);
        else listEl.prepend(row);
        rows.set(d.id, row);
      }
      previous = row;
    }
    for (const [id, row] of rows) {
      if (!seen.has(id)) {
        row.remove();
        rows.delete(id);
      }
    }
    listEl.querySelectorAll(".empty").forEach((el) => el.remove());
  }

  function updateOne(id, patch) {
    const i = list.findIndex((d) => d.id === id);
    if (i < 0) return;
    list[i] = { ...list[i], ...patch };
    renderList();
    if (detail && detail.id === id) detail.update(list[i]);
  }

  async function refresh() {
    if (closed) return;
    try {
      list = await api.deployments(app.id);
    } catch (err) {
      if (err.status !== 401) console.warn("deployments:", err.message);
      return;
    } finally {
      schedule();
    }
    if (closed) return;
    // A list fetched just before the socket's final status must not undo it.
    list = list.map((d) => (finals.has(d.id) && !isFinal(d) ? { ...d, ...finals.get(d.id) } : d));
    renderList();
    const current = list.find((d) => d.id === selectedId);
    if (detail && current) detail.update(current);
    if (!detail && selectedId !== null && current) showDetail(current);
  }

  function schedule() {
    clearTimeout(pollTimer);
    if (closed) return;
    pollTimer = setTimeout(refresh, list.some((d) => !isFinal(d)) ? POLL_BUSY_MS : POLL_IDLE_MS);
  }

  function showDetail(d) {
    if (detail) detail.close();
    detail = deploymentDetail(app, d, actions, numberOf, {
      onStatus: (data) => {
        const patch = { status: data.status, stage: data.stage, progress: data.progress, error_message: data.error_message };
        if (FINAL_STATUSES.has(data.status)) finals.set(d.id, patch);
        updateOne(d.id, patch);
      },
      onFinal: () => {
        refresh();
        runtime.refresh();
      },
    });
    replace(detailBox, detail.element);
  }

  const summary = h("p", { class: "small ellipsis", "data-testid": "app-summary" });
  function renderSummary() {
    const active = list.find((d) => d.is_active);
    if (active) {
      replace(summary, "Running ", h("a", { href: `#/apps/${app.id}/deployments/${active.id}` }, `#${active.deployment_number}`), " · ",
        h("span", { class: "mono" }, shortHash(active.commit_hash)), " ", active.commit_message || "");
    } else {
      replace(summary, h("span", { class: "muted" }, "Not running: nothing deployed successfully yet."));
    }
  }
  const header = h("div", { class: "page-head app-head" },
    h("div", { class: "app-title" },
      h("h1", {}, app.name, " ", h("span", { class: "badge type" }, app.appType),
        app.replicas > 1 ? [" ", h("span", { class: "badge type", "data-testid": "app-replicas" }, `${app.replicas} replicas`)] : null),
      h("p", { class: "muted mono small ellipsis" },
        app.appType === "database" ? `template ${app.templateName}` : `${app.gitRepository} @ ${app.gitBranch}`),
      summary),
    h("div", { class: "actions" },
      h("a", { class: "btn", href: `#/apps/${app.id}/settings`, "data-testid": "settings" }, "Settings"),
      deployButton,
      deleteButton));

  const runtime = runtimePanel(app, containerStatus);
  const backups = app.appType === "database" ? backupsPanel(ctx, app) : null;
  replace(ctx.view, header,
    runtime.element,
    app.appType === "database" ? connectionCard(app) : null,
    backups ? backups.element : null,
    h("div", { class: "app-grid" },
      h("section", { class: "card deployments-card" }, h("h2", {}, "Deployments"), listEl),
      detailBox),
    app.appType === "database" ? null : dockerfilePanel(app));
  renderList();
  const selected = list.find((d) => d.id === selectedId);
  if (selected) showDetail(selected);
  else if (selectedId !== null) replace(detailBox, h("div", { class: "card" }, h("p", { class: "muted" }, "That deployment is not in this application's history.")));
  schedule();

  return () => {
    closed = true;
    clearTimeout(pollTimer);
    if (detail) detail.close();
    runtime.close();
    if (backups) backups.close();
  };
}

/** "rollback · replaced #2": a rollback names the deployment that was active until it ran. */
function rollbackLabel(d, numberOf) {
  const n = numberOf(d.rolled_back_from);
  return n ? `rollback · replaced #${n}` : "rollback";
}

function timeText(d) {
  return `${formatDuration(d.duration)} · ${timeAgo(d.created_at)}`;
}

function rowKey(d, selected, numberOf) {
  return JSON.stringify([d.status, d.stage, d.progress, d.is_active, d.commit_hash, d.commit_message,
    d.error_message, d.rolled_back_from && numberOf(d.rolled_back_from), selected]);
}

function deploymentRow(app, d, selected, actions, numberOf) {
  const href = `#/apps/${app.id}/deployments/${d.id}`;
  const buttons = [];
  if (canStop(d)) buttons.push(confirmButton("Stop", "Confirm stop?", (btn) => actions.stop(d, btn), { "data-testid": "stop" }));
  if (canRollBack(d)) buttons.push(confirmButton("Roll back", "Confirm roll back?", (btn) => actions.rollback(d, btn), { "data-testid": "rollback" }));
  const li = h("li", {
    class: ["deployment", selected && "selected", d.is_active && "is-active"],
    "data-testid": "deployment-row",
    dataset: { id: String(d.id), number: String(d.deployment_number), status: d.status, active: String(Boolean(d.is_active)), key: rowKey(d, selected, numberOf) },
  },
    h("div", { class: "dep-line" },
      h("a", { class: "dep-number", href, "aria-current": selected ? "true" : null }, `#${d.deployment_number}`),
      statusBadge(d.status),
      d.is_active ? h("span", { class: "badge active", "data-testid": "active" }, "active") : null,
      d.rolled_back_from ? h("span", { class: "badge note", title: "A rollback: it replaced the deployment active until then" }, rollbackLabel(d, numberOf)) : null,
      h("span", { class: "spacer" }),
      h("span", { class: "dep-time muted small nowrap", title: d.created_at }, timeText(d))),
    h("div", { class: "dep-commit ellipsis" },
      h("span", { class: "mono hash", title: d.commit_hash || "" }, shortHash(d.commit_hash) || "—"), " ",
      h("span", { class: "commit-message", "data-testid": "commit-message" }, d.commit_message || "")),
    isFinal(d) ? null : progressBar(d).el,
    d.status === "failed" && d.error_message ? h("div", { class: "dep-error small ellipsis" }, d.error_message) : null,
    buttons.length ? h("div", { class: "dep-actions" }, buttons) : null);
  li.addEventListener("click", (event) => {
    if (event.target.closest("button, a")) return;
    window.location.hash = href;
  });
  return li;
}

/** The selected deployment: summary, actions, and its log (live over the WebSocket until it ends). */
function deploymentDetail(app, initial, actions, numberOf, { onStatus, onFinal }) {
  let d = initial;
  const title = h("h2", {});
  const badges = h("span", { class: "badges" });
  const commit = h("p", { class: "dep-commit" });
  const progress = progressBar(d);
  const meta = h("p", { class: "muted small" });
  const error = h("p", { class: "dep-error", role: "alert", "data-testid": "deployment-error", hidden: true });
  const actionBox = h("div", { class: "actions" });
  const view = new LogView({ downloadUrl: logUrl(d.id), downloadName: `${app.name}-deployment-${d.deployment_number}.log` });
  let stream = null;
  let lastActions = "";

  const element = h("section", { class: "card detail", "data-testid": "deployment-detail", dataset: { id: String(d.id) } },
    h("div", { class: "detail-head" }, h("div", {}, title, badges), actionBox),
    commit, progress.el, meta, error, view.element);

  function update(next) {
    d = { ...d, ...next };
    element.dataset.status = d.status;
    title.textContent = `Deployment #${d.deployment_number}`;
    replace(badges, statusBadge(d.status), d.is_active ? h("span", { class: "badge active" }, "active") : null);
    replace(commit,
      h("span", { class: "mono hash", title: d.commit_hash || "" }, shortHash(d.commit_hash) || "—"), " ",
      h("span", { class: "commit-message" }, d.commit_message || ""));
    progress.update(d);
    meta.textContent = [
      `Duration ${formatDuration(d.duration)}`,
      d.created_at ? `created ${timeAgo(d.created_at)}` : "",
      d.rolled_back_from ? rollbackLabel(d, numberOf) : "",
    ].filter(Boolean).join(" · ");
    error.hidden = !(d.status === "failed" && d.error_message);
    error.textContent = d.error_message || "";
    const key = `${canStop(d)}:${canRollBack(d)}`;
    if (key !== lastActions) {
      lastActions = key;
      replace(actionBox,
        canStop(d) ? confirmButton("Stop", "Confirm stop?", (btn) => actions.stop(d, btn), { "data-testid": "stop", class: "btn btn-small btn-danger" }) : null,
        canRollBack(d) ? confirmButton("Roll back here", "Confirm roll back?", (btn) => actions.rollback(d, btn), { "data-testid": "rollback" }) : null);
    }
  }
  update(d);

  if (isFinal(d)) {
    view.setState("loading");
    api.logText(d.id).then(
      (text) => { view.setText(text); view.setState("stored"); },
      (err) => { view.setState("failed"); showError(err); });
  } else {
    stream = new LogStream(d.id, {
      onLines: (batch) => view.appendLines(batch),
      onStatus: (data) => {
        update({ status: data.status, stage: data.stage, progress: data.progress, error_message: data.error_message });
        onStatus(data);
        if (FINAL_STATUSES.has(data.status)) onFinal();
      },
      onError: (message) => update({ error_message: message }),
      onState: (state, info) => {
        view.setState(state);
        // Repeated failures to even connect: maybe the session ended or the deployment is gone.
        // (A 401 signs the dashboard out by itself; a deployment that is gone stops the retries.)
        if (state === "reconnecting" && info.failures >= 3) {
          api.deployments(app.id).then(
            (list) => { if (!list.some((x) => x.id === d.id)) giveUp(); },
            (err) => { if (err.status === 404 || err.status === 403) giveUp(); });
        }
      },
      fetchStored: () => api.logText(d.id),
    }).start();
    liveStream = stream;
  }

  function giveUp() {
    if (stream) stream.close();
    view.setState("failed");
  }

  return {
    id: d.id,
    element,
    update,
    close() {
      if (stream) stream.close();
      if (liveStream === stream) liveStream = null;
    },
  };
}

// A database app's Backups panel: its backups (status, verified, trigger, size, time), "Back up now",
// a restore (into this app or another database app of the same engine in the project) after a
// confirmation dialog, with the restore's log followed live, the schedule / retention / destination
// form, downloads (owner and admins), and a red banner when the last scheduled backup failed or was
// missed. Everything from the server (errors, log lines, names) goes in as text.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { busy, field, showError, timeAgo, toast } from "../ui.js";

const POLL_BUSY_MS = 2000; // a backup is pending or running
const POLL_IDLE_MS = 15000;
const RESTORE_POLL_MS = 1000;
const FINAL = new Set(["success", "failed"]);
const STATUSES = new Set(["pending", "running", "success", "failed"]);
const TRIGGERS = { manual: "manual", schedule: "scheduled", before_restore: "before restore" };

export function backupBadge(status, testid = "backup-status") {
  const known = STATUSES.has(status);
  return h("span", { class: ["badge", `backup-${known ? status : "unknown"}`], "data-testid": testid, "data-status": status },
    String(status));
}

export function formatSize(bytes) {
  const n = Number(bytes) || 0;
  if (n <= 0) return "—";
  if (n < 1000) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = n / 1000;
  let i = 0;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i += 1;
  }
  return `${value.toFixed(1)} ${units[i]}`;
}

function when(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const t = Date.parse(iso);
  return h("time", { datetime: iso, title: Number.isNaN(t) ? String(iso) : new Date(t).toLocaleString() }, timeAgo(iso) || String(iso));
}

/** "in 5 h" for a time to come (the next scheduled run), the exact time on hover. */
function ahead(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return h("span", {}, String(iso));
  const s = Math.max(0, Math.round((t - Date.now()) / 1000));
  const text = s < 60 ? "in less than a minute" : s < 3600 ? `in ${Math.round(s / 60)} min` : s < 86400 ? `in ${Math.round(s / 3600)} h` : `in ${Math.round(s / 86400)} d`;
  return h("time", { datetime: iso, title: new Date(t).toLocaleString() }, text);
}

/**
 * The panel for `app` (a database app). `ctx.isAdmin` shows downloads and the destinations the
 * owner and admins created. `close()` stops its polling.
 */
export function backupsPanel(ctx, app) {
  let closed = false;
  let timer = null;
  let restoreTimer = null;
  let backups = [];
  let status = null;
  let destinations = [];

  const alert = h("p", { class: "backup-alert", role: "alert", "data-testid": "backup-alert", hidden: true });
  const summary = h("p", { class: "small muted", "data-testid": "backup-schedule-summary" });
  const listBox = h("div", { "data-testid": "backups" });
  const restoreBox = h("div", { class: "restore-box", "data-testid": "restore-box", hidden: true });
  const dialog = h("dialog", { class: "restore-dialog", "data-testid": "restore-dialog", "aria-labelledby": "restore-dialog-title" });

  const create = h("button", { type: "button", class: "btn btn-primary btn-small", "data-testid": "backup-create" }, "Back up now");
  create.addEventListener("click", async () => {
    const created = await busy(create, "Queueing…", () => api.createBackup(app.id));
    if (!created || closed) return;
    toast(`Backup #${created.id} queued`, "success");
    await refresh();
  });

  // --- The list --------------------------------------------------------------------------------
  function row(b) {
    const restorable = b.status === "success";
    const buttons = [];
    if (restorable) {
      buttons.push(h("button", { type: "button", class: "btn btn-small", "data-testid": "backup-restore", onclick: () => openRestore(b) }, "Restore"));
      if (ctx.isAdmin) {
        buttons.push(h("a", { class: "btn btn-small", href: `/api/backups/download/${encodeURIComponent(b.id)}`, download: "",
          "data-testid": "backup-download", title: "The dump, decrypted: it holds the whole database" }, "Download"));
      }
    }
    return h("tr", { "data-testid": "backup-row", "data-id": String(b.id), "data-status": b.status },
      h("td", { class: "mono", "data-label": "Backup" }, `#${b.id}`),
      h("td", { "data-label": "Status" }, backupBadge(b.status)),
      h("td", { "data-label": "Verified", "data-testid": "backup-verified", "data-verified": String(Boolean(b.verified)) },
        b.verified
          ? h("span", { class: "verified", title: "Restored into a throwaway container and checked" }, "✓ verified")
          : h("span", { class: "muted" }, "—")),
      h("td", { "data-label": "Trigger", "data-testid": "backup-trigger" }, TRIGGERS[b.trigger] || String(b.trigger)),
      h("td", { class: "nowrap", "data-label": "Size" }, formatSize(b.sizeBytes)),
      h("td", { class: "nowrap small", "data-label": "Time" }, when(b.finishedAt || b.createdAt),
        b.destinationId ? h("span", { class: "muted" }, ` · destination ${b.destinationId}`) : null),
      h("td", {},
        buttons.length ? h("div", { class: "actions" }, buttons) : null,
        b.status === "failed" && b.error ? h("div", { class: "dep-error small backup-error", "data-testid": "backup-error" }, b.error) : null));
  }

  function renderList() {
    replace(listBox, backups.length
      ? h("div", { class: "table-scroll" },
        h("table", { class: "audit-table backups-table stacked" },
          h("thead", {}, h("tr", {}, ["Backup", "Status", "Verified", "Trigger", "Size", "Time", ""].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, backups.map(row))))
      : h("p", { class: "muted empty", "data-testid": "backups-empty" }, "No backups yet: Back up now takes one, or set a schedule below."));
  }

  function destinationName(id) {
    if (id === null || id === undefined) return "the local backup directory";
    const d = destinations.find((x) => x.id === id);
    return d ? d.name : `destination ${id}`;
  }

  function renderStatus() {
    alert.hidden = !(status && status.alert);
    alert.textContent = status && status.alert ? status.alert : "";
    if (!status) return;
    replace(summary, status.schedule
      ? ["Scheduled ", h("span", { class: "mono" }, status.schedule), " (UTC) · next run ", status.nextRunAt ? ahead(status.nextRunAt) : "—",
        ` · keeps the last ${status.retention} · in ${destinationName(status.destinationId)}`]
      : `No schedule: backups are taken only when asked · kept in ${destinationName(status.destinationId)}`);
  }

  async function refresh() {
    if (closed) return;
    clearTimeout(timer);
    try {
      [backups, status] = await Promise.all([api.backups(app.id), api.backupStatus(app.id)]);
      if (closed) return;
      renderList();
      renderStatus();
    } catch (err) {
      if (err.status !== 401) console.warn("backups:", err.message);
    } finally {
      if (!closed) timer = setTimeout(refresh, backups.some((b) => !FINAL.has(b.status)) ? POLL_BUSY_MS : POLL_IDLE_MS);
    }
  }

  // --- Restore: a confirmation dialog, then the restore's log, live ----------------------------
  async function openRestore(backup) {
    let apps;
    try {
      apps = await api.apps(app.projectId);
    } catch (err) {
      showError(err);
      return;
    }
    // Another database app of the same engine (a staging copy, say); this app first.
    const targets = [app, ...apps.filter((a) => a.id !== app.id && a.appType === "database" && a.templateName === backup.engine)];
    const target = h("select", { name: "target", "data-testid": "restore-target" },
      targets.map((a) => h("option", { value: String(a.id) }, a.id === app.id ? `${a.name} (this app)` : a.name)));
    const question = h("p", { "data-testid": "restore-question" });
    const say = () => {
      const chosen = targets.find((a) => String(a.id) === target.value) || app;
      replace(question, "Restore backup ", h("strong", {}, `#${backup.id}`), ` of ${backup.appName} (${formatSize(backup.sizeBytes)}, `,
        when(backup.finishedAt || backup.createdAt), ") into ", h("strong", {}, chosen.name), "? Its current data is backed up first, then replaced.");
    };
    target.addEventListener("change", say);
    say();
    const confirm = h("button", { type: "submit", class: "btn btn-danger", "data-testid": "restore-confirm" }, "Restore");
    const cancel = h("button", { type: "button", class: "btn", "data-testid": "restore-cancel", onclick: () => dialog.close() }, "Cancel");
    // A refusal (a backup that is no longer restorable, say) is said in the dialog, above its backdrop.
    const message = h("p", { class: "form-message", role: "alert", "data-testid": "restore-message" });
    const form = h("form", { method: "dialog" },
      h("h2", { id: "restore-dialog-title" }, "Restore a backup"),
      question,
      field("Restore into", target, targets.length > 1
        ? `This app, or another ${backup.engine} database of the project.`
        : `No other ${backup.engine} database in this project: create one to restore a copy beside this one.`),
      message,
      h("div", { class: "form-actions" }, cancel, confirm));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      message.textContent = "";
      const targetId = Number(target.value);
      confirm.disabled = true;
      let restore;
      try {
        restore = await api.restoreBackup(backup.id, targetId === app.id ? undefined : targetId);
      } catch (err) {
        message.textContent = err && err.message ? err.message : String(err);
        refresh(); // the backup may be gone, or no longer restorable: the list shows it
        return;
      } finally {
        confirm.disabled = false;
      }
      if (closed) return;
      dialog.close();
      toast(`Restore #${restore.id} queued`, "success");
      followRestore(restore, targets.find((a) => a.id === targetId) || app);
    });
    replace(dialog, form);
    dialog.showModal();
    target.focus();
  }

  function followRestore(restore, target) {
    clearTimeout(restoreTimer);
    const badge = h("span", { "data-testid": "restore-status" });
    const log = h("pre", { class: "restore-log", "data-testid": "restore-log", "aria-live": "polite" });
    const outcome = h("p", { class: "small", "data-testid": "restore-outcome" });
    const dismiss = h("button", { type: "button", class: "btn btn-small", "data-testid": "restore-dismiss", hidden: true,
      onclick: () => { restoreBox.hidden = true; replace(restoreBox); } }, "Dismiss");
    replace(restoreBox,
      h("div", { class: "section-head" },
        h("h3", {}, `Restore #${restore.id} of backup #${restore.backupId} into ${target.name} `, badge), dismiss),
      log, outcome);
    restoreBox.hidden = false;
    let shown = 0;

    const show = (r) => {
      restoreBox.dataset.status = r.status;
      replace(badge, backupBadge(r.status, "restore-badge"));
      const lines = r.log || [];
      if (lines.length > shown) {
        log.append(lines.slice(shown).map((line) => `${line}\n`).join(""));
        shown = lines.length;
        log.scrollTop = log.scrollHeight;
      }
      if (r.status === "success") {
        outcome.className = "small test-ok";
        outcome.textContent = r.beforeBackupId
          ? `Restored. The data it replaced is in backup #${r.beforeBackupId}.` : "Restored.";
      } else if (r.status === "failed") {
        outcome.className = "small dep-error";
        outcome.textContent = `The restore failed: ${r.error || "no reason given"}`;
      }
    };
    const poll = async () => {
      if (closed) return;
      let r;
      try {
        r = await api.restoreById(restore.id);
      } catch (err) {
        if (err.status === 401 || closed) return;
        restoreTimer = setTimeout(poll, RESTORE_POLL_MS); // a server restart: the job goes on
        return;
      }
      if (closed) return;
      show(r);
      if (FINAL.has(r.status)) {
        dismiss.hidden = false;
        toast(`Restore #${r.id} ${r.status === "success" ? "finished" : "failed"}`, r.status === "success" ? "success" : "error");
        refresh(); // the before-restore backup
        return;
      }
      restoreTimer = setTimeout(poll, RESTORE_POLL_MS);
    };
    show(restore);
    poll();
  }

  // --- Schedule, retention, destination (saved on the app) -------------------------------------
  const cron = h("input", { type: "text", class: "mono", name: "backupSchedule", value: app.backupSchedule || "",
    placeholder: "0 3 * * *", maxlength: "100", autocapitalize: "off", spellcheck: "false", "data-testid": "backup-schedule" });
  const retention = h("input", { type: "number", name: "backupRetention", min: "1", max: "1000", step: "1", required: true,
    value: String(app.backupRetention ?? 7), "data-testid": "backup-retention" });
  const destination = h("select", { name: "backupDestinationId", "data-testid": "backup-destination" });
  const renderDestinations = (current) => {
    const options = [h("option", { value: "" }, "Local backup directory")];
    for (const d of destinations) options.push(h("option", { value: String(d.id) }, `${d.name} (${d.bucket})`));
    if (current !== null && current !== undefined && !destinations.some((d) => d.id === current)) {
      options.push(h("option", { value: String(current) }, `Destination ${current}`));
    }
    replace(destination, options);
    destination.value = current === null || current === undefined ? "" : String(current);
  };
  renderDestinations(app.backupDestinationId);
  const formMessage = h("p", { class: "form-message", role: "alert", "data-testid": "backup-schedule-message" });
  const save = h("button", { type: "submit", class: "btn btn-small", "data-testid": "backup-schedule-save" }, "Save schedule");
  const scheduleForm = h("form", { class: "backup-schedule-form", "data-testid": "backup-schedule-form" },
    h("div", { class: "row" },
      field("Schedule (cron, UTC)", cron, "Five fields, e.g. 0 3 * * * for 03:00 every day. Empty: no schedule."),
      field("Keep", retention, "The last N successful backups (the newest verified one is always kept)."),
      field("Destination", destination, ctx.isAdmin ? "S3-compatible destinations are added through the API." : null)),
    formMessage,
    h("div", { class: "form-actions" }, save));
  scheduleForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    formMessage.textContent = "";
    const fields = {
      backupSchedule: cron.value.trim(),
      backupRetention: Number(retention.value),
      backupDestinationId: destination.value ? Number(destination.value) : null,
    };
    const text = save.textContent;
    save.disabled = true;
    save.textContent = "Saving…";
    try {
      const updated = await api.updateApp(app.id, fields);
      if (closed) return;
      Object.assign(app, { backupSchedule: updated.backupSchedule, backupRetention: updated.backupRetention,
        backupDestinationId: updated.backupDestinationId });
      cron.value = updated.backupSchedule || "";
      toast(updated.backupSchedule ? `Backups scheduled: ${updated.backupSchedule}` : "Backup schedule cleared", "success");
      await refresh();
    } catch (err) {
      // The server names the field it refused (an invalid cron expression, say): shown by the form.
      formMessage.textContent = err && err.message ? err.message : String(err);
    } finally {
      save.disabled = false;
      save.textContent = text;
    }
  });

  const element = h("section", { class: "card backups-card", "data-testid": "backups-panel" },
    h("div", { class: "section-head" }, h("h2", {}, "Backups"), h("div", { class: "actions" }, create)),
    alert,
    summary,
    listBox,
    restoreBox,
    h("details", { class: "backup-settings", "data-testid": "backup-settings", open: !app.backupSchedule },
      h("summary", {}, "Schedule, retention and destination"),
      scheduleForm),
    dialog);

  renderList();
  refresh();
  if (ctx.isAdmin) {
    api.backupDestinations().then((rows) => {
      if (closed) return;
      destinations = rows;
      renderDestinations(destination.value ? Number(destination.value) : null);
      renderStatus();
    }, (err) => { if (err.status !== 401) console.warn("backup destinations:", err.message); });
  }
  // A restore still running (started in another tab, or before a reload) is followed here too.
  api.restoresOfApp(app.id).then((restores) => {
    const running = restores.find((r) => !FINAL.has(r.status));
    if (running && !closed) followRestore(running, app);
  }, () => {});

  return {
    element,
    close() {
      closed = true;
      clearTimeout(timer);
      clearTimeout(restoreTimer);
      if (dialog.open) dialog.close();
    },
  };
}

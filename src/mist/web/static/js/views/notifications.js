// Notifications (owner and admins): where deployment outcomes are told, a test of each, and every
// delivery with its attempts. A webhook's secret is answered only by create and by a rotation, so
// it is shown here once, with a warning, and never fetched again.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { busy, confirmButton, copyButton, field, timeAgo, toast } from "../ui.js";

export const DELIVERY_LIMIT = 50;

const KINDS = {
  webhook: { label: "Webhook", placeholder: "https://example.com/hooks/mist",
    hint: "Receives a JSON POST signed with X-Mist-Signature-256: sha256=<HMAC-SHA256 of the body>; the secret is shown once, after saving." },
  slack: { label: "Slack", placeholder: "https://hooks.slack.com/services/T…/B…/…",
    hint: "A Slack incoming-webhook URL. It is a credential: only its first parts are shown again." },
  discord: { label: "Discord", placeholder: "https://discord.com/api/webhooks/ID/TOKEN",
    hint: "A Discord webhook URL. Its token is never shown again." },
  email: { label: "E-mail", placeholder: "ops@example.com, dev@example.com",
    hint: "One or more addresses, separated by commas; sent through the server's MIST_SMTP_URL." },
};

const EVENTS = [
  ["deployment.failed", "Deployment failed"],
  ["deployment.succeeded", "Deployment succeeded"],
  ["deployment.stopped", "Deployment stopped"],
  ["container.crashed", "Container crashed"],
  ["backup.failed", "Backup failed"],
  ["backup.missed", "Scheduled backup missed"],
  ["backup.succeeded", "Backup succeeded"],
];

const DELIVERY_STATUSES = new Set(["pending", "delivered", "failed"]);

function deliveryBadge(status, testid = "delivery-status") {
  const known = DELIVERY_STATUSES.has(status);
  return h("span", { class: ["badge", `delivery-${known ? status : "unknown"}`], "data-testid": testid, "data-status": status },
    String(status));
}

/** A time as "3 min ago", or for one still to come (a retry) "in 40 s"; the exact time on hover. */
function when(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const t = Date.parse(iso);
  const exact = Number.isNaN(t) ? String(iso) : new Date(t).toLocaleString();
  const ahead = Math.round((t - Date.now()) / 1000);
  let text = timeAgo(iso) || exact;
  if (ahead > 0) text = ahead < 60 ? `in ${ahead} s` : ahead < 3600 ? `in ${Math.round(ahead / 60)} min` : `in ${Math.round(ahead / 3600)} h`;
  return h("time", { datetime: iso, title: exact }, text);
}

/** The answer of a test, as one line: "Delivered (HTTP 200)" or "Not delivered: <error> (HTTP 500)". */
function testOutcome(result) {
  const code = result.statusCode ? ` (HTTP ${result.statusCode})` : "";
  if (result.delivered) return h("span", { class: "test-ok", "data-testid": "test-result", "data-delivered": "true" }, `Delivered${code}`);
  return h("span", { class: "test-failed", "data-testid": "test-result", "data-delivered": "false" },
    `Not delivered${code}${result.error ? `: ${result.error}` : ""}`);
}

export async function renderNotifications(ctx) {
  ctx.setCrumbs([["Projects", "#/"], ["Notifications", null]]);
  const [initial, initialDeliveries] = await Promise.all([api.notifications(), api.deliveries(DELIVERY_LIMIT)]);
  if (!ctx.alive()) return;

  let notifications = initial;
  let filter = "";
  const testResults = new Map(); // id → the last Test answer, kept across re-renders of the list

  const secretBox = h("section", { class: "card secret-once", "data-testid": "notification-secret-box", hidden: true });
  const listBox = h("div", { "data-testid": "notifications" });
  const deliveriesBox = h("div", { "data-testid": "deliveries" });
  const filterSelect = h("select", { "aria-label": "Deliveries of", "data-testid": "deliveries-filter" });

  /** The secret, shown once: Copy, a warning, and Dismiss (after which only a rotation gives one). */
  function showSecret(notification, secret, rotated) {
    const input = h("input", {
      type: "text", class: "mono", readOnly: true, value: secret, spellcheck: "false", "aria-label": "Webhook secret",
      "data-testid": "notification-secret", onfocus: (event) => event.target.select(),
    });
    replace(secretBox,
      h("h2", {}, `${rotated ? "New secret" : "Secret"} of ${notification.name}`),
      h("p", { class: "secret-warning", "data-testid": "secret-warning" },
        "Shown only this once: copy it now into your receiver. Mist never shows it again; rotate it to get a new one."),
      field("Webhook secret", h("div", { class: "input-with-button" }, input, copyButton(input, { "data-testid": "notification-secret-copy" })),
        "Check each request: X-Mist-Signature-256 must equal sha256= and the hex HMAC-SHA256 of the raw body with this secret."),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "btn btn-small", "data-testid": "notification-secret-dismiss",
          onclick: () => { secretBox.hidden = true; replace(secretBox); } }, "I have copied it")));
    secretBox.hidden = false;
    secretBox.scrollIntoView({ block: "nearest" });
  }

  async function reloadList() {
    notifications = await api.notifications();
    if (!ctx.alive()) return;
    renderList();
    renderFilter();
  }

  async function reloadDeliveries() {
    const rows = await api.deliveries(DELIVERY_LIMIT, filter || undefined);
    if (ctx.alive()) renderDeliveries(rows);
  }

  function row(n) {
    const enabled = h("input", { type: "checkbox", checked: n.enabled, "aria-label": `${n.name} enabled`, "data-testid": "notification-enabled" });
    enabled.addEventListener("change", async () => {
      const wanted = enabled.checked;
      enabled.disabled = true;
      try {
        await api.updateNotification(n.id, { enabled: wanted });
        toast(`${n.name} ${wanted ? "enabled" : "disabled"}`, "success", 2500);
        await reloadList();
      } catch (err) {
        enabled.checked = !wanted;
        toast(err && err.message ? err.message : String(err), "error", 8000);
      } finally {
        enabled.disabled = false;
      }
    });
    const test = h("button", { type: "button", class: "btn btn-small", "data-testid": "notification-test" }, "Test");
    test.addEventListener("click", async () => {
      const result = await busy(test, "Sending…", () => api.testNotification(n.id));
      if (!result || !ctx.alive()) return;
      testResults.set(n.id, result);
      await Promise.all([reloadList(), reloadDeliveries()]);
    });
    const rotate = n.kind === "webhook"
      ? confirmButton("Rotate secret", "Confirm rotate? The old secret stops working", async (btn) => {
        const updated = await busy(btn, "Rotating…", () => api.updateNotification(n.id, { rotateSecret: true }));
        if (updated && updated.secret) {
          showSecret(updated, updated.secret, true);
          toast("Secret rotated: update it in your receiver", "success");
        }
      }, { "data-testid": "notification-rotate" })
      : null;
    const remove = confirmButton("Delete", "Confirm delete?", async (btn) => {
      const done = await busy(btn, "Deleting…", async () => {
        await api.deleteNotification(n.id);
        return true;
      });
      if (!done) return;
      toast(`Notification ${n.name} deleted`, "success");
      testResults.delete(n.id);
      if (filter === String(n.id)) filter = "";
      await Promise.all([reloadList(), reloadDeliveries()]);
    }, { class: "btn btn-small btn-danger", "data-testid": "notification-delete" });
    const last = n.lastDelivery;
    return h("tr", { "data-testid": "notification-row", "data-id": String(n.id), "data-name": n.name },
      h("td", { class: "notification-name" }, n.name),
      h("td", { "data-label": "Kind" }, h("span", { class: "badge type" }, KINDS[n.kind] ? KINDS[n.kind].label : String(n.kind))),
      h("td", { class: "mono small notification-target", "data-testid": "notification-target", "data-label": "Target" }, n.target),
      h("td", { class: "small", "data-label": "Events" }, h("ul", { class: "event-list" }, (n.events || []).map((e) => h("li", { class: "mono" }, e)))),
      h("td", { "data-label": "Enabled" }, h("label", { class: "check" }, enabled, n.enabled ? "on" : "off")),
      h("td", { class: "nowrap", "data-testid": "notification-last", "data-label": "Last delivery" },
        last ? [deliveryBadge(last.status, "last-delivery"), " ", h("span", { class: "muted small" }, when(last.at))]
          : h("span", { class: "muted small" }, "never")),
      h("td", {},
        h("div", { class: "actions" }, test, rotate, remove),
        testResults.has(n.id) ? h("div", { class: "small test-outcome" }, testOutcome(testResults.get(n.id))) : null));
  }

  function renderList() {
    replace(listBox, notifications.length
      ? h("div", { class: "table-scroll" },
        h("table", { class: "audit-table notifications-table stacked" },
          h("thead", {}, h("tr", {}, ["Name", "Kind", "Target", "Events", "Enabled", "Last delivery", ""].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, notifications.map(row))))
      : h("p", { class: "muted empty", "data-testid": "notifications-empty" },
        "No notifications yet: add one below to hear of failed deployments."));
  }

  function renderFilter() {
    if (filter && !notifications.some((n) => String(n.id) === filter)) filter = "";
    replace(filterSelect,
      h("option", { value: "" }, "All notifications"),
      notifications.map((n) => h("option", { value: String(n.id), selected: String(n.id) === filter }, n.name)));
    filterSelect.value = filter;
  }

  function attemptLine(a) {
    const code = a.statusCode ? `HTTP ${a.statusCode}` : "";
    return h("li", { class: ["attempt", a.ok ? "attempt-ok" : "attempt-failed"], "data-testid": "attempt", "data-ok": String(Boolean(a.ok)) },
      h("span", { class: "nowrap" }, a.ok ? "✓ " : "✗ ", when(a.at)),
      code ? h("span", { class: "mono" }, ` · ${code}`) : null,
      a.answer ? h("span", { class: "mono attempt-answer" }, ` · ${a.answer}`) : null);
  }

  function renderDeliveries(rows) {
    const names = new Map(notifications.map((n) => [n.id, n.name]));
    replace(deliveriesBox, rows.length
      ? h("div", { class: "table-scroll" },
        h("table", { class: "audit-table deliveries-table stacked" },
          h("thead", {}, h("tr", {}, ["When", "Notification", "Event", "Status", "Attempts", "Next attempt"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, rows.map((d) => h("tr", { "data-testid": "delivery-row", "data-id": String(d.id), "data-event": d.event, "data-status": d.status },
            h("td", { class: "nowrap", "data-label": "When" }, when(d.createdAt)),
            h("td", { "data-label": "Notification" }, names.get(d.notificationId) ?? `#${d.notificationId}`),
            h("td", { class: "mono small", "data-label": "Event" }, d.event),
            h("td", { "data-label": "Status" }, deliveryBadge(d.status)),
            h("td", { class: "small", "data-label": "Attempts" }, (d.attempts || []).length
              ? h("ol", { class: "attempts" }, d.attempts.map(attemptLine))
              : h("span", { class: "muted" }, "none yet")),
            h("td", { class: "nowrap small", "data-label": "Next attempt" }, d.nextAttemptAt ? when(d.nextAttemptAt) : h("span", { class: "muted" }, "—")))))))
      : h("p", { class: "muted empty", "data-testid": "deliveries-empty" }, "No deliveries yet."));
  }

  // --- The form: kind, name, target (its hint follows the kind), events ----------------------
  const kind = h("select", { name: "kind", "data-testid": "notification-kind" },
    Object.entries(KINDS).map(([value, k]) => h("option", { value }, k.label)));
  const name = h("input", { type: "text", name: "name", required: true, maxlength: "100", placeholder: "ops webhook" });
  const target = h("input", { type: "text", name: "target", required: true, maxlength: "4000", autocomplete: "off",
    autocapitalize: "off", spellcheck: "false", class: "mono" });
  const targetHint = h("span", { class: "field-hint" });
  const showKind = () => {
    const k = KINDS[kind.value];
    target.placeholder = k.placeholder;
    targetHint.textContent = k.hint;
  };
  kind.addEventListener("change", showKind);
  showKind();
  const boxes = EVENTS.map(([value, label]) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: "events", value, checked: value === "deployment.failed", "data-testid": `event-${value}` }),
    label));
  const formMessage = h("p", { class: "form-message", role: "alert", "data-testid": "notification-form-message" });
  const create = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "notification-create" }, "Add notification");
  const form = h("form", { class: "card inline-form", "data-testid": "notification-form" },
    h("h2", {}, "New notification"),
    h("div", { class: "row" }, field("Kind", kind), field("Name", name)),
    h("label", { class: "field" }, h("span", { class: "field-label" }, "Target"), target, targetHint),
    h("fieldset", { class: "event-boxes" }, h("legend", { class: "field-label" }, "Events"), boxes),
    formMessage,
    h("div", { class: "form-actions" }, create));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formMessage.textContent = "";
    const events = [...form.querySelectorAll("input[name=events]:checked")].map((el) => el.value);
    if (!events.length) {
      formMessage.textContent = "Choose at least one event.";
      return;
    }
    const created = await busy(create, "Adding…", () => api.createNotification({
      name: name.value.trim(), kind: kind.value, target: target.value.trim(), events }));
    if (!created || !ctx.alive()) return;
    toast(`Notification ${created.name} added`, "success");
    name.value = "";
    target.value = "";
    if (created.secret) showSecret(created, created.secret, false);
    await reloadList();
  });

  filterSelect.addEventListener("change", () => {
    filter = filterSelect.value;
    reloadDeliveries().catch((err) => toast(err.message || String(err), "error", 8000));
  });
  const refresh = h("button", { type: "button", class: "btn btn-small", "data-testid": "deliveries-refresh" }, "Refresh");
  refresh.addEventListener("click", () => busy(refresh, "Refreshing…", () => Promise.all([reloadList(), reloadDeliveries()])));

  renderList();
  renderFilter();
  renderDeliveries(initialDeliveries);
  replace(ctx.view,
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Notifications"),
        h("p", { class: "muted" }, "Who hears of deployments that succeed, fail or stop. Failed deliveries are retried with backoff."))),
    secretBox,
    h("section", { class: "card" }, listBox),
    form,
    h("section", { class: "card" },
      h("div", { class: "section-head" }, h("h2", {}, "Deliveries"),
        h("div", { class: "actions" }, filterSelect, refresh)),
      deliveriesBox));
}

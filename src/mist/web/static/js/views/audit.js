// The audit log (owner and admins): who did what, when and from where, newest first, a page at a time.
// The page's offset lives in the hash (#/audit?offset=50), so back and forward move between pages.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { timeAgo } from "../ui.js";

export const PAGE_SIZE = 50;

function detailsText(details) {
  if (!details || typeof details !== "object") return details ? String(details) : "";
  return Object.entries(details)
    .filter(([, value]) => value !== null && value !== undefined && value !== "")
    .map(([key, value]) => `${key}=${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join(", ");
}

function whenCell(iso) {
  const t = Date.parse(iso);
  const exact = Number.isNaN(t) ? String(iso || "") : new Date(t).toLocaleString();
  return h("td", { class: "nowrap" }, h("time", { datetime: iso || "", title: exact }, exact),
    h("span", { class: "muted small block" }, timeAgo(iso)));
}

export async function renderAudit(ctx) {
  ctx.setCrumbs([["Projects", "#/"], ["Audit log", null]]);
  const requested = Number.parseInt(ctx.query.get("offset") || "0", 10);
  const offset = Number.isFinite(requested) && requested > 0 ? requested : 0;
  const page = await api.auditLogs(PAGE_SIZE, offset);
  if (!ctx.alive()) return;
  const logs = page.logs || [];
  const total = Number(page.total) || 0;
  const start = page.offset ?? offset;
  const limit = page.limit || PAGE_SIZE;

  const rows = logs.map((log) => h("tr", { "data-testid": "audit-row", "data-action": log.action, "data-id": String(log.id) },
    whenCell(log.createdAt),
    h("td", {}, log.username || h("span", { class: "muted" }, "—")),
    h("td", { class: "mono" }, log.action),
    h("td", { class: "mono" }, log.target || ""),
    h("td", { class: "mono small audit-details" }, detailsText(log.details)),
    h("td", { class: "mono small" }, log.ip || "")));

  const go = (to) => ctx.navigate(to > 0 ? `#/audit?offset=${to}` : "#/audit");
  const previous = h("button", { type: "button", class: "btn btn-small", "data-testid": "audit-previous", disabled: start <= 0,
    onclick: () => go(Math.max(0, start - limit)) }, "‹ Newer");
  const next = h("button", { type: "button", class: "btn btn-small", "data-testid": "audit-next", disabled: start + logs.length >= total,
    onclick: () => go(start + limit) }, "Older ›");
  const range = logs.length
    ? `${start + 1}–${start + logs.length} of ${total}`
    : `0 of ${total}`;

  replace(ctx.view,
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Audit log"),
        h("p", { class: "muted" }, "Sign-ins, deploys, stops, rollbacks, token and webhook events.")),
      h("div", { class: "actions" }, previous, h("span", { class: "muted small", "data-testid": "audit-range" }, range), next)),
    h("section", { class: "card" },
      logs.length
        ? h("div", { class: "table-scroll" },
          h("table", { class: "audit-table", "data-testid": "audit-log" },
            h("thead", {}, h("tr", {}, ["When", "User", "Action", "Target", "Details", "Address"].map((c) => h("th", { scope: "col" }, c)))),
            h("tbody", {}, rows)))
        : h("p", { class: "muted empty", "data-testid": "audit-empty" }, start > 0 ? "No entries on this page." : "No entries yet.")));
}

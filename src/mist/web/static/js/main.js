// The dashboard's entry point: who is signed in, the hash router, the layout around the views.

import { api, setUnauthorizedHandler } from "./api.js";
import { byId, h, replace } from "./dom.js";
import { renderAuth } from "./views/auth.js";
import { renderProjects, renderProject } from "./views/projects.js";
import { renderApp } from "./views/app.js";
import { renderAppForm } from "./views/appform.js";
import { renderAudit } from "./views/audit.js";
import { renderNotifications } from "./views/notifications.js";
import { renderNodes } from "./views/nodes.js";

const view = byId("view");
let user = null;
let cleanup = null;
let navigation = 0;

const ROUTES = [
  [/^\/?$/, (ctx) => renderProjects(ctx)],
  [/^\/projects\/(\d+)$/, (ctx, id) => renderProject(ctx, Number(id))],
  [/^\/projects\/(\d+)\/new$/, (ctx, id) => renderAppForm(ctx, { projectId: Number(id) })],
  [/^\/apps\/(\d+)$/, (ctx, id) => renderApp(ctx, Number(id), null)],
  [/^\/apps\/(\d+)\/deployments\/(\d+)$/, (ctx, id, did) => renderApp(ctx, Number(id), Number(did))],
  [/^\/apps\/(\d+)\/settings$/, (ctx, id) => renderAppForm(ctx, { appId: Number(id) })],
  [/^\/audit$/, (ctx) => renderAudit(ctx)],
  [/^\/notifications$/, (ctx) => renderNotifications(ctx)],
  [/^\/nodes$/, (ctx) => renderNodes(ctx)],
];

function setCrumbs(items) {
  const nav = byId("crumbs");
  const parts = [];
  items.forEach(([label, href], i) => {
    if (i > 0) parts.push(h("span", { class: "sep", "aria-hidden": "true" }, "›"));
    parts.push(href ? h("a", { href }, label) : h("span", { class: "here" }, label));
  });
  replace(nav, parts);
}

function teardown() {
  if (typeof cleanup === "function") {
    try {
      cleanup();
    } catch (err) {
      console.error(err);
    }
  }
  cleanup = null;
}

async function route() {
  teardown();
  const token = ++navigation;
  if (!user) return showAuth();
  const [rawPath, rawQuery] = window.location.hash.replace(/^#/, "").split("?");
  const path = rawPath || "/";
  const ctx = {
    view,
    user,
    isAdmin: isAdmin(user),
    query: new URLSearchParams(rawQuery || ""),
    setCrumbs,
    alive: () => token === navigation,
    navigate: (hash) => {
      if (window.location.hash === hash) route();
      else window.location.hash = hash;
    },
  };
  for (const [pattern, render] of ROUTES) {
    const m = pattern.exec(path);
    if (m) {
      // The old page stays until the new one is ready; "Loading…" only if that takes a while.
      const slow = setTimeout(() => {
        if (token === navigation) replace(view, h("p", { class: "muted loading" }, "Loading…"));
      }, 300);
      try {
        const result = await render(ctx, ...m.slice(1));
        if (token === navigation) cleanup = result;
        else if (typeof result === "function") result();
      } catch (err) {
        if (token !== navigation) return;
        if (err && err.status === 401) return;
        replace(view, h("div", { class: "card error-card" },
          h("h2", {}, err && err.status === 404 ? "Not found" : "Something went wrong"),
          h("p", {}, err && err.message ? err.message : String(err)),
          h("p", {}, h("a", { href: "#/" }, "Back to projects"))));
      } finally {
        clearTimeout(slow);
      }
      return;
    }
  }
  setCrumbs([["Projects", "#/"]]);
  replace(view, h("div", { class: "card" }, h("h2", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back to projects"))));
}

function isAdmin(u) {
  return Boolean(u) && (u.role === "owner" || u.role === "admin");
}

function showUser() {
  const box = byId("user");
  box.hidden = !user;
  byId("user-name").textContent = user ? user.username : "";
  byId("nav-audit").hidden = !isAdmin(user);
  byId("nav-notifications").hidden = !isAdmin(user);
}

function showAuth(notice) {
  teardown();
  navigation += 1;
  user = null;
  showUser();
  setCrumbs([]);
  renderAuth({ view, notice }, (signedIn) => {
    user = signedIn;
    showUser();
    route();
  });
}

setUnauthorizedHandler(() => {
  if (user) showAuth("Your session has ended. Sign in again.");
});

byId("logout").addEventListener("click", async () => {
  try {
    await api.logout();
  } catch (_) { /* signed out either way */ }
  window.location.hash = "#/";
  showAuth("Signed out.");
});

window.addEventListener("hashchange", () => route());

async function boot() {
  try {
    user = await api.me();
  } catch (err) {
    user = null;
    if (err.status !== 401) {
      showAuth(err.message);
      return;
    }
  }
  showUser();
  route();
}

boot();

// Creating and editing an application: source, build (build.js), runtime, resources, health check,
// env vars, domains, deploy key and volumes (the last two in appsettings.js).
//
// Secret env vars come back from the API with `value: null`. The editor shows them masked and
// empty; saving sends such an entry without `value`, which keeps the stored secret. Typing a new
// value replaces it. The git access token is write-only the same way: the app says only whether
// it has one; left empty it is kept, "Remove token" sends "" to drop it.
//
// Saving answers `actionRequired`: the page comes back with a notice to restart or redeploy.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { busy, confirmButton, field, toast } from "../ui.js";
import { deployKeySection, volumeSection } from "./appsettings.js";
import { buildFieldset } from "./build.js";
import { actionNotice } from "./runtime.js";

const TEMPLATES = ["postgres", "mysql", "mariadb", "redis", "mongodb"];
const HEALTH_FIELDS = [
  ["healthcheckInterval", "Interval (s)", 1, 300],
  ["healthcheckTimeout", "Timeout (s)", 1, 300],
  ["healthcheckRetries", "Retries", 1, 1000],
  ["healthcheckStartPeriod", "Start period (s)", 0, 3600],
];
const SOURCE_FIELDS = ["gitRepository", "gitBranch", "rootDirectory", "dockerfilePath"];
const RESTART_POLICIES = [
  ["", "default (the server's setting)"],
  ["no", "no — never restart"],
  ["always", "always"],
  ["unless-stopped", "unless-stopped — unless stopped by hand"],
  ["on-failure", "on-failure — after a non-zero exit"],
];

// What the last save needs to be applied, shown once by the settings page it reloads.
let pendingNotice = null;

function input(name, value, attrs = {}) {
  return h("input", { type: "text", name, value: value ?? "", ...attrs });
}

function select(name, options, value, attrs = {}) {
  return h("select", { name, ...attrs },
    options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
}

export async function renderAppForm(ctx, { projectId = null, appId = null }) {
  const editing = appId !== null;
  const app = editing ? await api.app(appId) : null;
  const project = await api.project(editing ? app.projectId : projectId);
  if (!ctx.alive()) return;
  const [domains, volumes] = editing
    ? await Promise.all([app.appType === "web" ? api.domains(appId) : [], api.volumes(appId)])
    : [[], []];
  if (!ctx.alive()) return;
  const notice = editing && pendingNotice && pendingNotice.appId === app.id ? pendingNotice.action : null;
  pendingNotice = null;

  ctx.setCrumbs(editing
    ? [["Projects", "#/"], [project.name, `#/projects/${project.id}`], [app.name, `#/apps/${app.id}`], ["Settings", null]]
    : [["Projects", "#/"], [project.name, `#/projects/${project.id}`], ["New application", null]]);

  const v = app || {
    name: "", appType: "web", gitRepository: "", gitBranch: "main", dockerfilePath: "Dockerfile",
    rootDirectory: "", port: null, templateName: "postgres", updateStrategy: "rolling", healthcheckPath: "",
    healthcheckInterval: 2, healthcheckTimeout: 5, healthcheckRetries: 15, healthcheckStartPeriod: 0, envVars: [],
    cpuLimit: null, memoryLimit: null, restartPolicy: null, replicas: 1, hasGitToken: false,
    builder: "auto", buildCommand: "", startCommand: "", releaseCommand: "",
  };

  const f = {
    name: input("name", v.name, { required: true, maxlength: "63", pattern: "[a-z0-9]([a-z0-9\\-]*[a-z0-9])?", readOnly: editing, autocapitalize: "off" }),
    appType: select("appType", [["web", "web — serves HTTP on a port"], ["service", "service — runs without a port"], ["database", "database — from a template"]], v.appType, { disabled: editing }),
    templateName: select("templateName", TEMPLATES.map((t) => [t, t]), v.templateName || "postgres", { disabled: editing }),
    gitRepository: input("gitRepository", v.gitRepository, { placeholder: "https://git.example.com/acme/shop.git", autocapitalize: "off", spellcheck: "false" }),
    gitBranch: input("gitBranch", v.gitBranch, { placeholder: "main", autocapitalize: "off" }),
    rootDirectory: input("rootDirectory", v.rootDirectory, { placeholder: "(repository root)", autocapitalize: "off" }),
    dockerfilePath: input("dockerfilePath", v.dockerfilePath, { placeholder: "Dockerfile", autocapitalize: "off" }),
    port: input("port", v.port ?? "", { type: "number", min: "1", max: "65535", inputmode: "numeric", placeholder: "8000" }),
    updateStrategy: select("updateStrategy", [["rolling", "rolling — zero downtime"], ["recreate", "recreate — stop, then start"]], v.updateStrategy),
    healthcheckPath: input("healthcheckPath", v.healthcheckPath, { placeholder: "/health (empty: the port must accept connections)", autocapitalize: "off" }),
    deploymentStrategy: select("deploymentStrategy", [["auto", "auto — a push to the branch deploys"], ["manual", "manual — only the Deploy button"]], v.deploymentStrategy || "auto"),
    cpuLimit: input("cpuLimit", v.cpuLimit ?? "", { type: "number", min: "0.01", max: "1024", step: "0.01", inputmode: "decimal", placeholder: "no limit" }),
    memoryLimit: input("memoryLimit", v.memoryLimit ?? "", { type: "number", min: "6", max: "4194304", step: "1", inputmode: "numeric", placeholder: "no limit" }),
    restartPolicy: select("restartPolicy", RESTART_POLICIES, v.restartPolicy || ""),
    replicas: input("replicas", v.replicas ?? 1, { type: "number", min: "1", max: "20", step: "1", inputmode: "numeric", "data-testid": "replicas-input" }),
    gitToken: input("gitToken", "", {
      type: "password", autocomplete: "new-password", spellcheck: "false", autocapitalize: "off", "data-testid": "git-token",
      placeholder: v.hasGitToken ? "•••••••• kept (type to replace)" : "none (public repository or deploy key)",
    }),
    removeGitToken: h("input", { type: "checkbox", name: "removeGitToken", "data-testid": "git-token-remove" }),
  };
  f.removeGitToken.addEventListener("change", () => {
    f.gitToken.disabled = f.removeGitToken.checked;
    if (f.removeGitToken.checked) f.gitToken.value = "";
  });
  // Push-to-deploy: the webhook and its on/off switch, for the owner and admins, on git-built apps.
  const pushSet = editing && ctx.isAdmin && app.appType !== "database" ? pushSection(app, f.deploymentStrategy) : null;
  for (const [name, , min, max] of HEALTH_FIELDS) {
    f[name] = input(name, v[name] ?? "", { type: "number", min: String(min), max: String(max), inputmode: "numeric" });
  }

  const env = envEditor(v.envVars || []);
  const build = buildFieldset(v);
  const message = h("p", { class: "form-message", role: "alert", "data-testid": "form-message" });
  const save = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "save-app" }, editing ? "Save changes" : "Create application");

  const sourceSet = h("fieldset", { class: "card" },
    h("legend", {}, "Source"),
    field("Git repository", f.gitRepository, "https://, ssh://, git:// or user@host:path"),
    h("div", { class: "row" }, field("Branch", f.gitBranch), field("Root directory", f.rootDirectory, "Relative to the repository root")),
    field("Dockerfile path", f.dockerfilePath, "Relative to the root directory"),
    field("Access token", f.gitToken, v.hasGitToken
      ? "A token is stored (never shown again). Leave empty to keep it; type a new one to replace it."
      : "For a private repository over https: a token with read access (GitHub, GitLab, Gitea). For ssh remotes, use the deploy key."),
    v.hasGitToken ? h("label", { class: "check", "data-testid": "git-token-remove-label" }, f.removeGitToken, " Remove the stored token") : null);
  const templateField = field("Template", f.templateName);
  const portField = field("Port", f.port, "The port the container listens on; a database may leave it empty for its template's port");
  const replicasField = field("Replicas", f.replicas, "Copies of the app (1 to 20); more than one needs a Mist running on Docker Swarm (MIST_RUNTIME=swarm)");

  const form = h("form", { class: "app-form", "data-testid": "app-form", novalidate: false },
    h("fieldset", { class: "card" },
      h("legend", {}, "Application"),
      h("div", { class: "row" }, field("Name", f.name, editing ? "Cannot change after creation" : "Lowercase letters, digits and dashes"), field("Type", f.appType)),
      templateField,
      h("div", { class: "row" }, portField, field("Update strategy", f.updateStrategy))),
    sourceSet,
    build.element,
    pushSet,
    h("fieldset", { class: "card", "data-testid": "resources" },
      h("legend", {}, "Resources"),
      h("div", { class: "row" },
        field("CPU limit", f.cpuLimit, "CPUs, e.g. 0.5; empty: no limit"),
        field("Memory limit", f.memoryLimit, "MiB, 6 at least; empty: no limit"),
        field("Restart policy", f.restartPolicy, "When the engine restarts the container")),
      replicasField),
    h("fieldset", { class: "card" },
      h("legend", {}, "Health check"),
      field("Path", f.healthcheckPath),
      h("div", { class: "row row-4" }, HEALTH_FIELDS.map(([name, label]) => field(label, f[name])))),
    h("fieldset", { class: "card" },
      h("legend", {}, "Environment variables"),
      h("p", { class: "field-hint env-hint", "data-testid": "env-hint" },
        "A value may use another app of this project: ",
        h("span", { class: "mono" }, "${{<app>.HOST}}"), " and ", h("span", { class: "mono" }, "${{<app>.PORT}}"),
        " for any app; ",
        ["USER", "PASSWORD", "DATABASE", "URL"].map((k, i) => [i ? ", " : "", h("span", { class: "mono" }, `\${{<app>.${k}}}`)]),
        " for a database, e.g. ", h("span", { class: "mono" }, "DATABASE_URL = ${{db.URL}}"), ". They are filled in at deploy time."),
      env.element),
    message,
    notice ? actionNotice(ctx, app, notice) : null,
    h("div", { class: "form-actions" }, save, editing ? h("a", { class: "btn", href: `#/apps/${app.id}` }, "Cancel") : null));

  const syncType = () => {
    const type = f.appType.value;
    sourceSet.hidden = type === "database";
    build.element.hidden = type === "database";
    templateField.hidden = type !== "database";
    portField.hidden = type === "service";
    replicasField.hidden = type === "database"; // a database runs one replica, which owns its volume
    f.port.required = type === "web";
    // A database holds its volume alone: it always deploys with recreate.
    const rolling = f.updateStrategy.querySelector('option[value="rolling"]');
    rolling.disabled = type === "database";
    if (type === "database") f.updateStrategy.value = "recreate";
  };
  f.appType.addEventListener("change", syncType);
  syncType();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    let payload;
    try {
      payload = editing ? changedFields(app, f, env, build, pushSet !== null) : createFields(projectId, f, env, build);
    } catch (err) {
      message.textContent = err.message;
      return;
    }
    if (editing && Object.keys(payload).length === 0) {
      toast("Nothing changed", "info");
      return;
    }
    const saved = await busy(save, editing ? "Saving…" : "Creating…", async () => {
      try {
        return editing ? await api.updateApp(app.id, payload) : await api.createApp(payload);
      } catch (err) {
        message.textContent = err.message;
        throw err;
      }
    });
    if (!saved) return;
    toast(editing ? "Application saved" : `Application ${saved.name} created`, "success");
    if (editing) pendingNotice = { appId: saved.id, action: saved.actionRequired || "none" };
    ctx.navigate(editing ? `#/apps/${saved.id}/settings` : `#/apps/${saved.id}`);
  });

  replace(ctx.view,
    h("div", { class: "page-head" }, h("h1", {}, editing ? `${app.name} · settings` : "New application")),
    form,
    editing && app.appType === "web" ? domainSection(ctx, app, domains) : null,
    editing && app.appType !== "database" ? deployKeySection(app) : null,
    editing ? volumeSection(ctx, app, volumes) : null);
  const shown = form.querySelector("[data-testid=action-notice]");
  if (shown) shown.scrollIntoView({ block: "nearest" });
}

function limit(inputEl, label, integer) {
  // A number input holding something that is not a number reads as "": that must not clear the limit.
  if (inputEl.validity && inputEl.validity.badInput) throw new Error(`${label}: not a number`);
  const raw = inputEl.value.trim();
  if (raw === "") return null;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${label}: a positive number, or empty for no limit`);
  if (integer && !Number.isInteger(n)) throw new Error(`${label}: a whole number of MiB`);
  return n;
}

/** Limits and restart policy: null clears them. Only what differs from `app` (all of them when creating). */
function resourceFields(app, f) {
  const out = {};
  const cpu = limit(f.cpuLimit, "CPU limit", false);
  const memory = limit(f.memoryLimit, "Memory limit", true);
  const policy = f.restartPolicy.value || null;
  if (cpu !== (app ? app.cpuLimit ?? null : null)) out.cpuLimit = cpu;
  if (memory !== (app ? app.memoryLimit ?? null : null)) out.memoryLimit = memory;
  if (policy !== (app ? app.restartPolicy || null : null)) out.restartPolicy = policy;
  if (f.appType.value !== "database") {
    const replicas = number(f.replicas, "Replicas") ?? 1;
    if (replicas !== (app ? app.replicas ?? 1 : 1)) out.replicas = replicas;
  }
  return out;
}

/** The token is sent only when typed (replace) or removed (""); otherwise the stored one stays. */
function tokenField(f) {
  if (f.removeGitToken.checked) return { gitToken: "" };
  const token = f.gitToken.value.trim();
  return token ? { gitToken: token } : {};
}

function number(inputEl, label) {
  const raw = inputEl.value.trim();
  if (raw === "") return null;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`${label}: a whole number`);
  return n;
}

function createFields(projectId, f, env, build) {
  const type = f.appType.value;
  const out = { name: f.name.value.trim().toLowerCase(), projectId, appType: type };
  if (type === "database") out.templateName = f.templateName.value;
  else {
    for (const name of SOURCE_FIELDS) out[name] = f[name].value.trim();
    Object.assign(out, build.values());
  }
  const port = number(f.port, "Port");
  if (type !== "service" && port !== null) out.port = port;
  out.updateStrategy = f.updateStrategy.value;
  out.healthcheckPath = f.healthcheckPath.value.trim();
  for (const [name, label] of HEALTH_FIELDS) {
    const n = number(f[name], label);
    if (n !== null) out[name] = n;
  }
  Object.assign(out, resourceFields(null, f));
  if (type !== "database") Object.assign(out, tokenField(f));
  out.envVars = env.value();
  return out;
}

/** Only what changed: the server keeps every field it is not sent. */
function changedFields(app, f, env, build, pushShown) {
  const out = {};
  if (app.appType !== "database") {
    for (const name of SOURCE_FIELDS) {
      const value = f[name].value.trim();
      if (value !== (app[name] ?? "")) out[name] = value;
    }
    Object.assign(out, build.changed(app));
    if (pushShown && f.deploymentStrategy.value !== (app.deploymentStrategy || "auto")) out.deploymentStrategy = f.deploymentStrategy.value;
  }
  if (app.appType !== "service") {
    const port = number(f.port, "Port");
    if (port !== (app.port ?? null)) out.port = port;
  }
  if (f.updateStrategy.value !== app.updateStrategy) out.updateStrategy = f.updateStrategy.value;
  if (f.healthcheckPath.value.trim() !== (app.healthcheckPath ?? "")) out.healthcheckPath = f.healthcheckPath.value.trim();
  for (const [name, label] of HEALTH_FIELDS) {
    const n = number(f[name], label);
    if (n !== null && n !== app[name]) out[name] = n;
  }
  Object.assign(out, resourceFields(app, f));
  if (app.appType !== "database") Object.assign(out, tokenField(f));
  const envVars = env.value();
  if (env.changed()) out.envVars = envVars;
  return out;
}

/**
 * Rows of key / value / secret / build time / runtime. A stored secret shows no value (the API
 * never returns it) and is sent back without one unless a new value was typed.
 */
function envEditor(initial) {
  const rows = [];
  const list = h("div", { class: "env-list", "data-testid": "env-list" });
  const initialJson = JSON.stringify(initial.map(normalise));

  function addRow(item = { key: "", value: "", secret: false, buildTime: false, runtime: true }) {
    const storedSecret = item.secret && item.value === null;
    const key = h("input", { type: "text", class: "mono", placeholder: "KEY", value: item.key, "aria-label": "Key", autocapitalize: "off", spellcheck: "false", "data-testid": "env-key" });
    const value = h("input", {
      type: item.secret ? "password" : "text", class: "mono", value: item.value ?? "", "aria-label": "Value",
      placeholder: storedSecret ? "•••••••• kept (type to replace)" : "value", autocomplete: "off", spellcheck: "false", "data-testid": "env-value",
    });
    const secret = h("input", { type: "checkbox", checked: item.secret, "data-testid": "env-secret" });
    const buildTime = h("input", { type: "checkbox", checked: item.buildTime });
    const runtime = h("input", { type: "checkbox", checked: item.runtime });
    secret.addEventListener("change", () => { value.type = secret.checked ? "password" : "text"; });
    const row = {
      storedSecret, originalKey: item.key,
      read() {
        const out = { key: key.value.trim(), secret: secret.checked, buildTime: buildTime.checked, runtime: runtime.checked };
        // A stored secret with nothing typed keeps its value: send it without one.
        if (!(row.storedSecret && value.value === "" && out.key === row.originalKey)) out.value = value.value;
        return out;
      },
    };
    row.el = h("div", { class: "env-row", "data-testid": "env-row" },
      key, value,
      h("div", { class: "env-flags" },
        h("label", { class: "check", title: "Never shown again; masked in logs" }, secret, " secret"),
        h("label", { class: "check", title: "Passed to docker build as a build arg" }, buildTime, " build"),
        h("label", { class: "check", title: "Set in the running container" }, runtime, " runtime"),
        h("button", { type: "button", class: "btn btn-small btn-quiet", "aria-label": "Remove variable", onclick: () => {
          rows.splice(rows.indexOf(row), 1);
          row.el.remove();
        } }, "✕")));
    rows.push(row);
    list.append(row.el);
    return row;
  }

  initial.forEach((item) => addRow(item));
  const element = h("div", {},
    list,
    h("button", { type: "button", class: "btn btn-small", "data-testid": "env-add", onclick: () => addRow().el.querySelector("input").focus() }, "+ Add variable"));

  function value() {
    const items = rows.map((r) => r.read()).filter((item) => item.key !== "");
    const seen = new Set();
    for (const item of items) {
      if (seen.has(item.key)) throw new Error(`Environment variable ${item.key} is set twice`);
      seen.add(item.key);
    }
    for (const r of rows) {
      const item = r.read();
      if (r.storedSecret && item.key !== "" && item.key !== r.originalKey && item.value === "") {
        throw new Error(`Secret ${r.originalKey} was renamed to ${item.key}: type its value again`);
      }
    }
    return items;
  }

  function changed() {
    return JSON.stringify(value().map(normalise)) !== initialJson;
  }

  return { element, value, changed };
}

function normalise(item) {
  return { key: item.key, value: item.value ?? null, secret: !!item.secret, buildTime: !!item.buildTime, runtime: item.runtime !== false };
}

/**
 * The deployment strategy (saved with the form) and the webhook: its URL and secret are fetched
 * only when asked for, and the secret can be rotated (the old one stops working at once).
 */
function pushSection(app, strategySelect) {
  const info = h("div", { class: "webhook-info", "data-testid": "webhook-info", hidden: true });
  const readonly = (value, testid, label) => h("input", {
    type: "text", class: "mono", readOnly: true, value, "aria-label": label, "data-testid": testid,
    spellcheck: "false", onfocus: (event) => event.target.select(),
  });
  const show = (data) => {
    replace(info,
      field("Payload URL", readonly(data.url, "webhook-url", "Webhook URL")),
      field("Secret", readonly(data.secret, "webhook-secret", "Webhook secret"),
        "GitHub and Gitea: the webhook secret (HMAC-SHA256); GitLab: the secret token. Content type application/json."),
      h("div", { class: "actions" }, rotate));
    info.hidden = false;
  };
  const reveal = h("button", { type: "button", class: "btn", "data-testid": "webhook-show" }, "Show webhook URL and secret");
  reveal.addEventListener("click", async () => {
    const data = await busy(reveal, "Loading…", () => api.webhook(app.id));
    if (data) {
      show(data);
      reveal.hidden = true;
    }
  });
  const rotate = confirmButton("Rotate secret", "Confirm rotate? The old secret stops working", async (btn) => {
    const data = await busy(btn, "Rotating…", () => api.webhook(app.id, true));
    if (data) {
      show(data);
      toast("Webhook secret rotated: update it at your git host", "success");
    }
  }, { "data-testid": "webhook-rotate" });
  return h("fieldset", { class: "card", "data-testid": "push-to-deploy" },
    h("legend", {}, "Push to deploy"),
    field("Deployment strategy", strategySelect, "auto: a signed push to the branch deploys exactly the pushed commit"),
    h("div", { class: "actions" }, reveal),
    info);
}

function domainSection(ctx, app, domains) {
  const list = h("ul", { class: "domain-list", "data-testid": "domains" });
  const render = (items) => {
    replace(list, items.length
      ? items.map((d) => h("li", { class: "domain" },
        h("span", { class: "mono" }, d.domain),
        confirmButton("Remove", "Confirm remove?", async (btn) => {
          await busy(btn, "Removing…", async () => {
            await api.removeDomain(d.id);
            render(await api.domains(app.id));
          });
        })))
      : h("li", { class: "muted small" }, "No domains. Traffic for a domain goes to this app once you add it here and point its DNS at this machine."));
  };
  render(domains);
  const domain = h("input", { type: "text", name: "domain", placeholder: "shop.example.com", required: true, autocapitalize: "off", spellcheck: "false" });
  const add = h("button", { type: "submit", class: "btn" }, "Add domain");
  const form = h("form", { class: "row", "data-testid": "domain-form" }, field("Domain", domain), h("div", { class: "field field-action" }, add));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(add, "Adding…", async () => {
      await api.addDomain(app.id, domain.value.trim());
      domain.value = "";
      if (ctx.alive()) render(await api.domains(app.id));
    });
  });
  return h("section", { class: "card" }, h("h2", {}, "Domains"), list, form);
}

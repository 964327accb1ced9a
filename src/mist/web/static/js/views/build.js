// How an app is built without a Dockerfile of its own: the builder and the three command overrides
// (saved with the settings form), and the Dockerfile Mist would generate for the branch's tip.
//
// The generated Dockerfile and its findings come from the repository (file names, Procfile lines,
// package.json scripts): they go into the page as text only, like everything else here.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { busy, field, shortHash, toast } from "../ui.js";

const BUILDERS = [
  ["auto", "auto — the repository's Dockerfile, else detected"],
  ["dockerfile", "dockerfile — the repository's Dockerfile only"],
  ["python", "python"],
  ["node", "node"],
  ["go", "go"],
  ["static", "static — a site served by Caddy"],
];
// [field, label, placeholder (what "" means), hint]
const COMMANDS = [
  ["buildCommand", "Build command", "detected: package.json's build script, else none",
    "Runs in the image after the dependencies are installed"],
  ["startCommand", "Start command", "detected: Procfile web:, else inferred",
    "What the container runs"],
  ["releaseCommand", "Release command", "detected: Procfile release:, else none",
    "Runs once per deployment in a one-off container of the new image, before it starts (e.g. migrations); a failure stops the deployment"],
];

/**
 * The "Build" fieldset of the app form. `values()` gives every field (for a new app);
 * `changed(app)` only those that differ from the stored app (the server keeps the rest).
 */
export function buildFieldset(v) {
  const builder = h("select", { name: "builder", "data-testid": "builder" },
    BUILDERS.map(([value, label]) => h("option", { value, selected: value === (v.builder || "auto") }, label)));
  const inputs = Object.fromEntries(COMMANDS.map(([name, , placeholder]) => [name, h("input", {
    type: "text", class: "mono", name, value: v[name] ?? "", placeholder, maxlength: "4096",
    autocapitalize: "off", spellcheck: "false", "data-testid": name,
  })]));
  const element = h("fieldset", { class: "card", "data-testid": "build-section" },
    h("legend", {}, "Build"),
    field("Builder", builder,
      "auto uses the Dockerfile at the Dockerfile path when the repository has one; otherwise Mist detects Python, Node, Go or a static site and writes the Dockerfile itself."),
    COMMANDS.map(([name, label, , hint]) => field(label, inputs[name], `${hint}. Empty: as detected.`)),
    h("p", { class: "field-hint" }, "The app's page shows the Dockerfile these settings produce."));

  const values = () => ({
    builder: builder.value,
    ...Object.fromEntries(COMMANDS.map(([name]) => [name, inputs[name].value.trim()])),
  });
  const changed = (app) => Object.fromEntries(
    Object.entries(values()).filter(([name, value]) => value !== (app[name] ?? (name === "builder" ? "auto" : ""))));
  return { element, values, changed };
}

/**
 * The app page's "Build" card. The Dockerfile is generated for the branch's tip, which means a
 * fetch: only when asked for, never on every page load.
 */
export function dockerfilePanel(app) {
  const body = h("div", { class: "dockerfile-body", "data-testid": "dockerfile-result" });
  const show = h("button", { type: "button", class: "btn", "data-testid": "dockerfile-show" }, "Show generated Dockerfile");
  show.addEventListener("click", async () => {
    await busy(show, "Fetching the branch…", async () => {
      try {
        render(body, app, await api.dockerfile(app.id));
        show.textContent = "Refresh";
      } catch (err) {
        // 422: nothing to build, or git could not fetch: the server's message is the answer.
        if (err.status === 401) throw err;
        replace(body, h("p", { class: "dep-error", role: "alert", "data-testid": "dockerfile-error" }, err.message));
      }
    });
  });
  return h("section", { class: "card dockerfile-card", "data-testid": "dockerfile-panel" },
    h("div", { class: "detail-head" },
      h("div", {},
        h("h2", {}, "Build"),
        h("span", { class: "badge note", title: "The builder set in the app's settings" }, `builder: ${app.builder || "auto"}`)),
      h("div", { class: "actions" }, show)),
    h("p", { class: "muted small" },
      "What the next deployment builds from the tip of ", h("span", { class: "mono" }, app.gitBranch), ": the repository's Dockerfile, or the one Mist writes for it."),
    body);
}

function render(body, app, data) {
  const text = h("pre", { class: "dockerfile", "data-testid": "dockerfile-text", tabindex: "0" }, data.dockerfile);
  const copy = h("button", { type: "button", class: "btn btn-small", "data-testid": "dockerfile-copy" }, "Copy");
  copy.addEventListener("click", () => copyText(text, data.dockerfile));
  const generated = data.builder !== "dockerfile";
  replace(body,
    h("p", { class: "dockerfile-meta" },
      h("span", { class: ["badge", "builder", `builder-${data.builder}`], "data-testid": "dockerfile-builder" }, data.builder),
      " ",
      generated ? "generated for commit " : "the repository's own Dockerfile at commit ",
      h("span", { class: "mono", title: data.commitHash, "data-testid": "dockerfile-commit" }, shortHash(data.commitHash))),
    data.findings.length
      ? h("ul", { class: "findings small", "data-testid": "dockerfile-findings" }, data.findings.map((f) => h("li", {}, f)))
      : null,
    data.releaseCommand
      ? h("p", { class: "small", "data-testid": "dockerfile-release" }, "Release command: ", h("span", { class: "mono" }, data.releaseCommand))
      : null,
    h("div", { class: "dockerfile-wrap" }, text, h("div", { class: "dockerfile-actions" }, copy)),
    generated
      ? h("p", { class: "field-hint" },
        "Save it as Dockerfile in your repository to take over the build (or ",
        h("span", { class: "mono" }, `mist apps dockerfile ${app.name} > Dockerfile`), ").")
      : null);
}

/** The Clipboard API needs a secure context; elsewhere the text is selected for Ctrl+C. */
async function copyText(pre, text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      toast("Copied to the clipboard", "success", 2500);
      return;
    } catch (_) { /* permission refused: select it instead */ }
  }
  const range = document.createRange();
  range.selectNodeContents(pre);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch (_) {
    copied = false;
  }
  toast(copied ? "Copied to the clipboard" : "Could not copy: the text is selected, copy it with Ctrl+C", copied ? "success" : "info");
}

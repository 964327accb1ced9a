// Parts of an app's settings page that act at once rather than with the form: the deploy key
// (made on first use, rotatable) and the volumes (a change applies with the next deployment).

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { busy, confirmButton, copyButton, field, toast } from "../ui.js";
import { actionNotice } from "./runtime.js";

/** The app's SSH deploy key: only its public half ever leaves the server. */
export function deployKeySection(app) {
  const key = h("input", {
    type: "text", class: "mono", readOnly: true, value: "", "aria-label": "Deploy key (public)",
    "data-testid": "deploy-key", spellcheck: "false", onfocus: (event) => event.target.select(),
  });
  const info = h("div", { class: "webhook-info", "data-testid": "deploy-key-info", hidden: true },
    h("div", { class: "input-with-button" }, key, copyButton(key, { "data-testid": "deploy-key-copy" })),
    h("span", { class: "field-hint" },
      "Add it to the repository's deploy keys (read access is enough) and use an ssh remote, e.g. ",
      h("span", { class: "mono" }, "git@github.com:acme/shop.git"), "."));
  const show = (publicKey) => {
    key.value = publicKey || "";
    info.hidden = false;
    create.hidden = true;
    rotate.hidden = false;
  };
  const create = h("button", { type: "button", class: "btn", "data-testid": "deploy-key-create" }, "Create deploy key");
  create.addEventListener("click", async () => {
    const data = await busy(create, "Creating…", () => api.deployKey(app.id));
    if (data) show(data.publicKey);
  });
  const rotate = confirmButton("Rotate", "Confirm rotate? The old key stops working", async (btn) => {
    const data = await busy(btn, "Rotating…", () => api.deployKey(app.id, true));
    if (data) {
      show(data.publicKey);
      toast("Deploy key rotated: replace it at your git host", "success");
    }
  }, { "data-testid": "deploy-key-rotate", hidden: true });
  if (app.deployKey) show(app.deployKey);
  return h("section", { class: "card", "data-testid": "deploy-key-section" },
    h("h2", {}, "Deploy key"),
    h("p", { class: "muted small" }, "An SSH key of this app's own, for cloning a private repository over ssh."),
    info,
    h("div", { class: "actions" }, create, rotate));
}

/** Named volumes (Docker's, kept across deployments) and, for the owner and admins, host directories. */
export function volumeSection(ctx, app, volumes) {
  const list = h("ul", { class: "domain-list", "data-testid": "volumes" });
  const noticeBox = h("div", {});
  const showNotice = (result) => replace(noticeBox, result ? actionNotice(ctx, app, result.actionRequired) : null);
  const render = (items) => {
    replace(list, items.length
      ? items.map((v) => h("li", { class: "domain", "data-testid": "volume", dataset: { id: String(v.id), name: v.name } },
        h("span", { class: "ellipsis" },
          h("span", { class: "mono" }, v.name), " → ", h("span", { class: "mono" }, v.containerPath), " ",
          v.hostPath ? h("span", { class: "badge note", title: "A host directory" }, `host ${v.hostPath}`) : null,
          v.readOnly ? h("span", { class: "badge note" }, "read-only") : null),
        confirmButton("Remove", "Confirm remove?", async (btn) => {
          await busy(btn, "Removing…", async () => {
            const result = await api.removeVolume(v.id);
            toast(`Volume ${v.name} removed`, "success");
            showNotice(result);
            if (ctx.alive()) render(await api.volumes(app.id));
          });
        }, { "data-testid": "volume-remove" })))
      : h("li", { class: "muted small" }, "No volumes. Files the app writes are lost with each new deployment unless they are on a volume."));
  };
  render(volumes);
  const text = (name, placeholder, attrs = {}) => h("input", { type: "text", name, placeholder, autocapitalize: "off", spellcheck: "false", ...attrs });
  const name = text("volumeName", "uploads", { required: true, maxlength: "63", pattern: "[a-z0-9][a-z0-9_.\\-]*" });
  const containerPath = text("containerPath", "/app/uploads", { required: true });
  const hostPath = ctx.isAdmin ? text("hostPath", "(empty: a named volume)") : null;
  const readOnly = h("input", { type: "checkbox", name: "readOnly" });
  const add = h("button", { type: "submit", class: "btn" }, "Add volume");
  const form = h("form", { class: "stack", "data-testid": "volume-form" },
    h("div", { class: "row" },
      field("Name", name, "Lowercase letters, digits, '_', '.', '-'"),
      field("Container path", containerPath, "Where the app sees it"),
      hostPath ? field("Host path", hostPath, "Owner and admins: mount this directory of the host instead") : null),
    h("div", { class: "actions" }, h("label", { class: "check" }, readOnly, " Read-only"), add));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(add, "Adding…", async () => {
      const fields = { name: name.value.trim(), containerPath: containerPath.value.trim(), readOnly: readOnly.checked };
      if (hostPath && hostPath.value.trim()) fields.hostPath = hostPath.value.trim();
      const result = await api.addVolume(app.id, fields);
      toast(`Volume ${result.name} added`, "success");
      name.value = "";
      containerPath.value = "";
      if (hostPath) hostPath.value = "";
      readOnly.checked = false;
      showNotice(result);
      if (ctx.alive()) render(await api.volumes(app.id));
    });
  });
  return h("section", { class: "card", "data-testid": "volume-section" },
    h("h2", {}, "Volumes"),
    h("p", { class: "muted small" }, "Mounts change with the next deployment. Removing a volume here unmounts it; its data is kept."),
    list, noticeBox, form);
}

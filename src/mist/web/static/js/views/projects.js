// Projects: the list with a form to create one, and a project's page with its applications.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { busy, confirmButton, field, shortHash, statusBadge, timeAgo, toast } from "../ui.js";

export async function renderProjects(ctx) {
  ctx.setCrumbs([["Projects", null]]);
  const projects = await api.projects();
  if (!ctx.alive()) return;
  const appsByProject = await Promise.all(projects.map((p) => api.apps(p.id).catch(() => [])));
  if (!ctx.alive()) return;

  const name = h("input", { type: "text", name: "name", required: true, maxlength: "100", placeholder: "shop" });
  const description = h("input", { type: "text", name: "description", maxlength: "2000", placeholder: "What it is for (optional)" });
  const create = h("button", { type: "submit", class: "btn btn-primary" }, "Create project");
  const form = h("form", { class: "card inline-form", "data-testid": "project-form" },
    h("h2", {}, "New project"),
    h("div", { class: "row" }, field("Name", name), field("Description", description), h("div", { class: "field field-action" }, create)));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const project = await busy(create, "Creating…", () => api.createProject(name.value.trim(), description.value.trim()));
    if (project) {
      toast(`Project ${project.name} created`, "success");
      ctx.navigate(`#/projects/${project.id}`);
    }
  });

  const list = projects.length
    ? h("ul", { class: "cards", "data-testid": "projects" }, projects.map((p, i) => projectCard(p, appsByProject[i])))
    : h("p", { class: "muted empty" }, "No projects yet. Create one to add applications.");

  replace(ctx.view, h("div", { class: "page-head" }, h("h1", {}, "Projects")), list, form);
}

function projectCard(project, apps) {
  return h("li", { class: "card project-card" },
    h("h2", {}, h("a", { href: `#/projects/${project.id}` }, project.name)),
    project.description ? h("p", { class: "muted" }, project.description) : null,
    apps.length
      ? h("ul", { class: "chips" }, apps.map((a) => h("li", {}, h("a", { class: "chip", href: `#/apps/${a.id}` }, a.name, h("span", { class: "chip-type" }, a.appType)))))
      : h("p", { class: "muted small" }, "No applications yet."),
    h("p", {}, h("a", { class: "btn btn-small", href: `#/projects/${project.id}/new` }, "+ New application")));
}

export async function renderProject(ctx, projectId) {
  const [project, apps] = await Promise.all([api.project(projectId), api.apps(projectId)]);
  if (!ctx.alive()) return;
  ctx.setCrumbs([["Projects", "#/"], [project.name, null]]);
  const latest = await Promise.all(apps.map((a) => api.deployments(a.id).then((ds) => ds, () => [])));
  if (!ctx.alive()) return;

  const rows = apps.map((app, i) => {
    const deployments = latest[i];
    const active = deployments.find((d) => d.is_active);
    const last = deployments[0];
    return h("li", { class: "card app-row" },
      h("div", { class: "app-row-main" },
        h("a", { class: "app-name", href: `#/apps/${app.id}` }, app.name),
        h("span", { class: "badge type" }, app.appType),
        last ? statusBadge(last.status) : h("span", { class: "muted small" }, "never deployed")),
      h("div", { class: "muted small mono ellipsis" },
        app.appType === "database" ? `template ${app.templateName}` : `${app.gitRepository} @ ${app.gitBranch}`),
      active
        ? h("div", { class: "small ellipsis" }, "Active: ", h("span", { class: "mono" }, `#${active.deployment_number} ${shortHash(active.commit_hash)}`), " ", active.commit_message, h("span", { class: "muted" }, ` · ${timeAgo(active.created_at)}`))
        : null);
  });

  replace(ctx.view,
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, project.name), project.description ? h("p", { class: "muted" }, project.description) : null),
      h("div", { class: "actions" },
        h("a", { class: "btn btn-primary", href: `#/projects/${project.id}/new`, "data-testid": "new-app" }, "+ New application"),
        confirmButton("Delete project", "Confirm delete project and its apps?", async (btn) => {
          const deleted = await busy(btn, "Deleting…", async () => {
            await api.deleteProject(project.id);
            return true;
          });
          if (deleted) {
            toast(`Project ${project.name} deleted`, "success");
            ctx.navigate("#/");
          }
        }, { class: "btn btn-danger", "data-testid": "delete-project" }))),
    apps.length
      ? h("ul", { class: "cards", "data-testid": "apps" }, rows)
      : h("p", { class: "muted empty" }, "No applications yet."));
}

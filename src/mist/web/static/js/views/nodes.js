// The swarm's nodes (owner and admins, MIST_RUNTIME=swarm): role, state, availability, engine,
// resources and Mist's running tasks on each, with Drain / Activate. On a server whose engine is not a
// swarm manager the router shows the server's answer, which says how to make one.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { busy, toast } from "../ui.js";

const STATES = new Set(["ready", "down", "unknown", "disconnected"]);

function badge(kind, value) {
  const known = kind === "state" ? STATES.has(value) : ["active", "pause", "drain"].includes(value);
  return h("span", { class: ["badge", `node-${kind}-${known ? value : "unknown"}`], "data-testid": `node-${kind}` },
    String(value));
}

function gib(bytes) {
  return `${(Number(bytes) / 2 ** 30).toFixed(1)} GiB`;
}

export async function renderNodes(ctx) {
  ctx.setCrumbs([["Projects", "#/"], ["Nodes", null]]);
  const nodes = await api.nodes();
  if (!ctx.alive()) return;

  const change = (node, availability, button) => busy(button, availability === "drain" ? "Draining…" : "Activating…",
    async () => {
      const changed = await api.updateNode(node.id, availability);
      toast(`Node ${changed.hostname} is ${changed.availability}`, "success");
      ctx.navigate("#/nodes");
    });

  const rows = nodes.map((node) => {
    const action = node.availability === "active"
      ? h("button", { type: "button", class: "btn btn-small", "data-testid": "node-drain",
        title: "Move this node's tasks to the other nodes and give it none",
        onclick: (event) => change(node, "drain", event.currentTarget) }, "Drain")
      : h("button", { type: "button", class: "btn btn-small", "data-testid": "node-activate",
        onclick: (event) => change(node, "active", event.currentTarget) }, "Activate");
    return h("tr", { "data-testid": "node-row", "data-id": node.id, "data-hostname": node.hostname },
      h("td", {}, h("strong", {}, node.hostname), h("span", { class: "muted small block mono" }, node.id.slice(0, 12))),
      h("td", {}, node.role + (node.leader ? " (leader)" : "")),
      h("td", {}, badge("state", node.state)),
      h("td", {}, badge("availability", node.availability)),
      h("td", { class: "mono small" }, node.engineVersion),
      h("td", { class: "num" }, String(node.cpus)),
      h("td", { class: "num" }, gib(node.memoryBytes)),
      h("td", { class: "num", "data-testid": "node-tasks" }, String(node.tasks)),
      h("td", {}, action));
  });

  replace(ctx.view,
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Nodes"),
        h("p", { class: "muted" }, "The servers of the swarm Mist deploys to. Draining a node moves its tasks to the others."))),
    h("section", { class: "card" },
      h("div", { class: "table-scroll" },
        h("table", { class: "nodes-table", "data-testid": "nodes" },
          h("thead", {}, h("tr", {}, ["Node", "Role", "State", "Availability", "Engine", "CPUs", "Memory", "Mist tasks", ""]
            .map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, rows)))));
}

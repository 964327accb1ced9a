// Building the DOM safely: text always goes in as text (textContent / text nodes), never as HTML.
// No markup is ever parsed from data anywhere in the dashboard.

const BOOLEAN_PROPS = new Set(["disabled", "checked", "hidden", "required", "readOnly", "selected", "open"]);

/**
 * h("a", {href: "#/", class: "x", onclick: fn}, "text", child, [more, children])
 * Strings and numbers become text nodes; null/undefined/false children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (name === "style" && typeof value === "object") {
      Object.assign(el.style, value);
    } else if (BOOLEAN_PROPS.has(name)) {
      el[name] = Boolean(value);
    } else if (name === "value") {
      el.value = value;
    } else if (name === "href") {
      el.setAttribute("href", safeHref(value));
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Only in-app links (#/...) and same-origin paths; anything else (javascript:, data:) is dropped. */
export function safeHref(value) {
  const s = String(value);
  if (s.startsWith("#") || (s.startsWith("/") && !s.startsWith("//"))) return s;
  return "#";
}

export function byId(id) {
  return document.getElementById(id);
}

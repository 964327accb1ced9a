// Small pieces shared by the views: badges, progress bars, toasts, times, forms.

import { byId, h } from "./dom.js";

export const STAGE_LABELS = {
  "": "Queued",
  cloning_repo: "Cloning repository",
  building_image: "Building image",
  starting_new: "Starting new container",
  stopping_old: "Stopping old container",
  completed: "Completed",
};

const STATUS_LABELS = {
  pending: "pending",
  building: "building",
  deploying: "deploying",
  success: "success",
  failed: "failed",
  stopped: "stopped",
  rolled_back: "rolled back",
};

export function statusBadge(status) {
  const known = Object.hasOwn(STATUS_LABELS, status);
  return h("span", { class: ["badge", `status-${known ? status : "unknown"}`], "data-testid": "status", "data-status": status },
    known ? STATUS_LABELS[status] : String(status));
}

export function stageLabel(stage) {
  return Object.hasOwn(STAGE_LABELS, stage || "") ? STAGE_LABELS[stage || ""] : String(stage);
}

/** A progress bar with its stage label; `update` keeps the same elements. */
export function progressBar(d) {
  const fill = h("div", { class: "progress-fill" });
  const bar = h("div", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "data-testid": "progress" }, fill);
  const label = h("span", { class: "progress-label", "data-testid": "stage" });
  const el = h("div", { class: "progress-row" }, bar, label);
  const update = (data) => {
    const p = Math.max(0, Math.min(100, Number(data.progress) || 0));
    fill.style.width = `${p}%`;
    bar.setAttribute("aria-valuenow", String(p));
    bar.dataset.value = String(p);
    bar.className = `progress progress-${data.status}`;
    label.textContent = `${stageLabel(data.stage)} · ${p}%`;
  };
  update(d);
  return { el, update };
}

export function shortHash(hash) {
  return hash ? String(hash).slice(0, 7) : "";
}

export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

export function timeAgo(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString();
}

export function toast(message, kind = "info", ms = 5000) {
  const box = byId("toasts");
  const el = h("div", { class: ["toast", `toast-${kind}`] }, String(message));
  box.append(el);
  setTimeout(() => el.remove(), ms);
}

export function showError(err) {
  toast(err && err.message ? err.message : String(err), "error", 8000);
}

export function field(label, input, hint) {
  return h("label", { class: "field" },
    h("span", { class: "field-label" }, label),
    input,
    hint ? h("span", { class: "field-hint" }, hint) : null);
}

/** Runs `fn` with the button disabled and showing `busyText`; errors become toasts. */
export async function busy(button, busyText, fn) {
  const text = button.textContent;
  button.disabled = true;
  button.textContent = busyText;
  try {
    return await fn();
  } catch (err) {
    showError(err);
    return undefined;
  } finally {
    button.disabled = false;
    button.textContent = text;
  }
}

/**
 * A button that asks once more before acting: the first click arms it ("Confirm …?"), a second
 * click within a few seconds acts. No native dialog, so it works the same on phones and in tests.
 */
export function confirmButton(text, confirmText, action, attrs = {}) {
  let armed = null;
  const btn = h("button", { type: "button", class: "btn btn-small", ...attrs }, text);
  btn.addEventListener("click", async (event) => {
    event.stopPropagation();
    if (!armed) {
      btn.textContent = confirmText;
      btn.classList.add("armed");
      armed = setTimeout(() => {
        armed = null;
        btn.textContent = text;
        btn.classList.remove("armed");
      }, 4000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    btn.classList.remove("armed");
    btn.textContent = text;
    await action(btn);
  });
  return btn;
}

/**
 * A Copy button for a read-only input's value. The Clipboard API needs a secure context (HTTPS or
 * localhost); elsewhere the value is selected and copied the old way.
 */
export function copyButton(inputEl, attrs = {}) {
  const btn = h("button", { type: "button", class: "btn btn-small", ...attrs }, "Copy");
  btn.addEventListener("click", async () => {
    const text = inputEl.value;
    let copied = false;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        copied = true;
      } catch (_) { /* permission refused: try the old way */ }
    }
    if (!copied) {
      inputEl.focus();
      inputEl.select();
      try {
        copied = document.execCommand("copy");
      } catch (_) {
        copied = false;
      }
    }
    if (copied) toast("Copied to the clipboard", "success", 2500);
    else toast("Could not copy: the text is selected, copy it with Ctrl+C", "info");
  });
  return btn;
}

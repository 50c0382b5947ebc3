// Page-level UI shared by every page: flash messages and the modal dialog.

import { clear, h } from "./dom.js";

/** How often pages refresh what they show (statuses change asynchronously). */
export const POLL_MS = 2000;

/** A message at the top of the page; kind is "ok", "warn" or "error". */
export function flash(text, kind = "ok", timeoutMs = 6000) {
  const area = document.getElementById("flash");
  const item = h(
    "div",
    { class: `flash ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", {}, text),
    h("button", { class: "flash-close", type: "button", "aria-label": "Dismiss", onclick: () => item.remove() }, "×"),
  );
  area.appendChild(item);
  if (timeoutMs) setTimeout(() => item.remove(), timeoutMs);
  return item;
}

/**
 * A modal dialog. Resolves true when confirmed. `danger` styles the confirm button red.
 * `body` is a node or text; `confirmText` null shows only a Close button.
 */
export function dialog({ title, body, confirmText = "OK", cancelText = "Cancel", danger = false, wide = false }) {
  const dlg = document.getElementById("dialog");
  clear(dlg);
  dlg.className = `dialog${wide ? " wide" : ""}`;
  return new Promise((resolve) => {
    const done = (value) => {
      dlg.close();
      resolve(value);
    };
    const buttons = [h("button", { type: "button", class: "btn", "data-action": "cancel", onclick: () => done(false) }, confirmText ? cancelText : "Close")];
    if (confirmText) {
      buttons.push(
        h("button", { type: "button", class: `btn ${danger ? "danger" : "primary"}`, "data-action": "confirm", onclick: () => done(true) }, confirmText),
      );
    }
    dlg.append(
      h("h2", { class: "dialog-title" }, title),
      h("div", { class: "dialog-body" }, body),
      h("div", { class: "dialog-buttons" }, buttons),
    );
    dlg.oncancel = (ev) => {
      ev.preventDefault();
      done(false);
    };
    dlg.showModal();
    dlg.querySelector(`[data-action="${confirmText ? "confirm" : "cancel"}"]`).focus();
  });
}


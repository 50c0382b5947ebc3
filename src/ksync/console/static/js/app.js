// The console's entry point: a hash router (#/tasks, #/tasks/new, #/tasks/<id>,
// #/instances, #/instances/<id>, #/alarms, #/workers), page polling, flash messages and dialogs.

import { clear, h } from "./dom.js";
import { POLL_MS } from "./ui.js";
import { mountInstances, mountInstance } from "./instances.js";
import { mountTasks } from "./tasks.js";
import { mountWizard } from "./wizard.js";
import { mountDetail } from "./detail.js";
import { mountWorkers } from "./workers.js";
import { mountAlarms } from "./alarms.js";
import { READ_ONLY } from "./api.js";

function mountNoWrites(view, what) {
  view.append(h("h1", {}, "Read-only key"), h("p", { class: "notice warn", id: "read-only-page" }, `Your API key is read-only: it cannot ${what}. `, h("a", { href: "#/tasks" }, "Back to the sync tasks")));
}


const routes = [
  [/^\/tasks\/?$/, "tasks", mountTasks],
  [/^\/tasks\/new$/, "tasks", (view, ctx) => (READ_ONLY() ? mountNoWrites(view, "create a task") : mountWizard(view, ctx))],
  [/^\/tasks\/([\w-]+)$/, "tasks", mountDetail],
  [/^\/instances\/?$/, "instances", mountInstances],
  [/^\/instances\/([\w-]+)$/, "instances", mountInstance],
  [/^\/alarms\/?$/, "alarms", mountAlarms],
  [/^\/workers\/?$/, "workers", mountWorkers],
];

/**
 * What a page gets: `poll(fn, ms)` runs fn now and then every ms (never overlapping, paused
 * while the tab is hidden, stopped when the page is left); `onLeave(fn)` for cleanup.
 */
class PageContext {
  constructor() {
    this.alive = true;
    this.timers = new Set();
    this.cleanups = [];
  }

  poll(fn, ms = POLL_MS) {
    const run = async () => {
      if (!this.alive) return;
      if (!document.hidden) {
        try {
          await fn();
          setLive(true);
        } catch (exc) {
          // Only a server that does not answer (or fails) is "unreachable"; a 4xx is the
          // page's own business and is shown where it happened.
          if (!exc.status || exc.status >= 500) setLive(false, exc.message);
        }
      }
      if (this.alive) {
        const t = setTimeout(run, ms);
        this.timers.add(t);
      }
    };
    return run();
  }

  onLeave(fn) {
    this.cleanups.push(fn);
  }

  leave() {
    this.alive = false;
    for (const t of this.timers) clearTimeout(t);
    for (const fn of this.cleanups) fn();
  }
}

let current = null;

function setLive(ok, why) {
  const live = document.getElementById("live");
  live.classList.toggle("down", !ok);
  live.textContent = ok ? "live" : "server unreachable";
  live.title = ok ? "Pages refresh by themselves every 2 seconds" : why || "";
}

function route() {
  const path = (window.location.hash || "#/tasks").slice(1) || "/tasks";
  if (current) current.leave();
  const dlg = document.getElementById("dialog");
  if (dlg.open) dlg.close();
  const view = clear(document.getElementById("view"));
  const ctx = new PageContext();
  current = ctx;
  for (const [pattern, nav, mount] of routes) {
    const m = pattern.exec(path);
    if (m) {
      for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === nav);
      mount(view, ctx, ...m.slice(1));
      return;
    }
  }
  if (path === "/" || path === "") {
    window.location.replace("#/tasks");
    return;
  }
  view.append(h("h1", {}, "Not found"), h("p", {}, "No console page at ", h("code", {}, path), ". ", h("a", { href: "#/tasks" }, "Go to the sync tasks")));
}

document.getElementById("logout").hidden = document.body.dataset.auth !== "on";
// A read-only key sees every page; the controls that change something are hidden by the
// stylesheet (class "write"), and this note and badge say why.
document.getElementById("read-only-note").hidden = !READ_ONLY();
document.getElementById("read-only-badge").hidden = !READ_ONLY();
window.addEventListener("hashchange", route);
route();

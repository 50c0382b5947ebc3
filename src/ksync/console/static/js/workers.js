// Workers: the processes that run the tasks' members, with their heartbeats.

import { get } from "./api.js";
import { clear, fmtAgo, fmtTime, h } from "./dom.js";

export function mountWorkers(view, ctx) {
  const body = h("div", { class: "card flush" });
  view.append(
    h("div", { class: "page-head" }, h("h1", {}, "Workers")),
    h("p", { class: "muted lead" }, "Processes that run the members of sync tasks. A worker whose heartbeat stops has its members moved to the others."),
    body,
  );
  ctx.poll(async () => {
    const r = await get("/workers");
    if (!ctx.alive) return;
    clear(body).append(
      r.workers.length
        ? h(
            "table",
            { class: "table", id: "worker-table" },
            h("thead", {}, h("tr", {}, ["Worker", "Host", "PID", "Started", "Heartbeat", "Members"].map((c) => h("th", {}, c)))),
            h(
              "tbody",
              {},
              r.workers.map((w) =>
                h(
                  "tr",
                  {},
                  h("td", { class: "mono" }, w.id),
                  h("td", {}, w.host),
                  h("td", { class: "num" }, String(w.pid)),
                  h("td", { class: "small" }, fmtTime(w.started_at)),
                  h("td", { class: "small" }, fmtAgo(w.heartbeat_at)),
                  h(
                    "td",
                    {},
                    w.members.length
                      ? w.members.map((m) => h("div", { class: "small" }, h("a", { href: `#/tasks/${m.task_id}`, class: "mono" }, m.task_id), ` slot ${m.slot} · ${m.state} · ${m.partitions} partition${m.partitions === 1 ? "" : "s"}`))
                      : h("span", { class: "muted" }, "idle"),
                  ),
                ),
              ),
            ),
          )
        : h("p", { class: "empty" }, "No live worker: tasks stay Unassigned until one runs."),
    );
  });
}

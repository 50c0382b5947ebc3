// A task's consumer-group offset sync on its page: per group and partition the committed
// source offset, its translation on the target, what the target group committed, when it
// was last synced and why not (GET /api/v1/tasks/{id}/group-offsets).

import { ApiError, get } from "./api.js";
import { DASH, clear, fmtInt, fmtTime, h } from "./dom.js";

const num = (v) => (v === null || v === undefined ? DASH : fmtInt(v));

/** The section's element and the refresh to poll; `enc` is the encoded task id. */
export function groupOffsetsSection(enc, ctx) {
  const body = h("div", { id: "group-offsets" });
  const element = h(
    "section",
    { class: "card", id: "group-offsets-section" },
    h("div", { class: "card-head" }, h("h2", {}, "Consumer-group offsets")),
    body,
  );
  let key = "";
  const refresh = async () => {
    const r = await get(`/tasks/${enc}/group-offsets`).catch((exc) => {
      if (exc instanceof ApiError && exc.status === 404) return null;
      throw exc;
    });
    if (!r || !ctx.alive) return;
    const next = JSON.stringify(r);
    if (next === key) return;
    key = next;
    if (!r.enabled) {
      clear(body).append(h("p", { class: "muted" }, "Offset sync is off for this task (options.sync_group_offsets)."));
      return;
    }
    const note = h("p", { class: "muted small" }, `Synced every ${r.interval_s} s. A consumer that fails over re-reads at most ${fmtInt(r.reread_bound)} records per partition, and skips none.`);
    clear(body).append(
      note,
      r.offsets.length
        ? h(
            "table",
            { class: "table compact", id: "group-offset-table" },
            h("thead", {}, h("tr", {}, ...["Group", "Source", "Offset", "Target", "Translated", "Committed", "Lag", "Synced", "Why not"].map((t) => h("th", {}, t)))),
            h(
              "tbody",
              {},
              r.offsets.map((o) =>
                h(
                  "tr",
                  {},
                  h("td", { class: "mono" }, o.group),
                  h("td", { class: "mono" }, `${o.topic}[${o.partition}]`),
                  h("td", { class: "num" }, num(o.source_offset)),
                  h("td", { class: "mono" }, `${o.target_topic}[${o.partition}]`),
                  h("td", { class: "num" }, num(o.target_offset)),
                  h("td", { class: "num" }, num(o.target_committed)),
                  h("td", { class: "num" }, num(o.lag)),
                  h("td", { class: "small nowrap" }, o.synced_at ? fmtTime(o.synced_at) : DASH),
                  h("td", { class: "wrap small" }, o.note || ""),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No selected group has committed offsets on the synced topics yet."),
    );
  };
  return { element, refresh };
}

// The task page's "Records not copied" section: what the task could not copy, and why.
// Records the source deleted (retention) before the task copied them, per partition with
// the last gap's offsets; records the target refused that options.errors sent to the
// dead-letter topic or skipped; and every topic's own warnings (a lost partition, a config
// or partition change the target refused while the topic keeps syncing). All from
// GET /api/v1/tasks/{id}: the task's metrics, progress and topics.

import { DASH, clear, fmtInt, h } from "./dom.js";

const stat = (id, label, value, sub) =>
  h("div", { class: "stat", id }, h("div", { class: "stat-label" }, label), h("div", { class: "stat-value" }, value), sub ? h("div", { class: "stat-sub muted" }, sub) : null);

/** Where refused records go under the task's options.errors, in words. */
function refusedGo(errors) {
  if (!errors || errors.tolerance !== "all") return "tolerance none: a refused record blocks its topic";
  if (!errors.dead_letter_topic) return "tolerance all, no dead-letter topic: skipped";
  return `to ${errors.dead_letter_topic} on the ${errors.dead_letter_instance || "target"}`;
}

/** Fill `el` with the section's content for `task` (the API's Task). */
export function renderNotCopied(el, task) {
  const m = task.metrics || {};
  const errors = (task.options || {}).errors;
  const lost = (task.progress || []).filter((p) => p.lost_records);
  const warned = (task.topics || []).filter((t) => (t.warnings || []).length);
  const counts = [m.lost_records_total, m.dead_lettered_total, m.skipped_refused_total];
  clear(el);
  if (!lost.length && !warned.length && !counts.some((n) => n)) {
    el.dataset.state = "none";
    el.append(h("p", { class: "muted", id: "nothing-lost" }, "Nothing lost or refused: every record the task read went to the target."));
    return;
  }
  el.dataset.state = "some";
  el.append(
    h(
      "div",
      { class: "stats" },
      stat("lost-total", "Lost to retention", fmtInt(m.lost_records_total || 0), "deleted by the source before they were copied"),
      stat("dead-lettered-total", "Dead-lettered", fmtInt(m.dead_lettered_total || 0), `refused by the target, ${refusedGo(errors)}`),
      stat("skipped-total", "Skipped", fmtInt(m.skipped_refused_total || 0), "refused by the target, no dead-letter topic set"),
    ),
  );
  if (lost.length) {
    el.append(
      h(
        "table",
        { class: "table compact", id: "lost-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "Topic"), h("th", { class: "num" }, "Partition"), h("th", { class: "num" }, "Records lost"), h("th", {}, "Last gap (offsets)"))),
        h(
          "tbody",
          {},
          lost.map((p) =>
            h(
              "tr",
              { dataset: { topic: p.topic, partition: String(p.partition) } },
              h("td", { class: "mono" }, p.topic),
              h("td", { class: "num" }, fmtInt(p.partition)),
              h("td", { class: "num lost" }, fmtInt(p.lost_records)),
              h("td", { class: "mono" }, p.lost_first != null && p.lost_earliest != null ? `${p.lost_first} to ${p.lost_earliest - 1}` : DASH),
            ),
          ),
        ),
      ),
    );
  }
  if (warned.length) {
    el.append(
      h("h3", {}, "Topic warnings"),
      h(
        "ul",
        { id: "topic-warnings" },
        warned.flatMap((t) => t.warnings.map((w) => h("li", { dataset: { topic: t.source } }, h("span", { class: "mono" }, t.source), ": ", w))),
      ),
    );
  }
}

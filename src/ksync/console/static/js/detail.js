// One task: status with its error and warnings in full, live rates, charts for the last
// hour or day, per-topic and per-partition progress, alarms, configuration and the log of
// its status changes. Everything comes from the public API, polled.

import { ApiError, clearErrors, get, getOptional, patch, showErrors } from "./api.js";
import { DASH, badge, clear, fmtBytes, fmtInt, fmtMs, fmtSi, fmtTime, h } from "./dom.js";
import { lineChart, toMs } from "./charts.js";
import { DELIVERY_TEXT, allowed, configView, instanceLabel, runOp, taskLag, tuningControls, tuningFields, tuningValues } from "./taskops.js";
import { flash } from "./ui.js";
import { renderNotCopied } from "./notcopied.js";
import { groupOffsetsSection } from "./groupoffsets.js";

const RANGES = { hour: { since: 3600, step: 10, label: "Last hour" }, day: { since: 86400, step: 300, label: "Last day" } };

/** The list inside a response that may be a bare list or {"<name>": [...]}. */
function listOf(data) {
  if (Array.isArray(data)) return data;
  if (data && typeof data === "object") for (const v of Object.values(data)) if (Array.isArray(v)) return v;
  return [];
}

function section(id, title, ...children) {
  return h("section", { class: "card", id }, h("div", { class: "card-head" }, h("h2", {}, title)), ...children);
}

/**
 * The form that changes a task's options in place (PATCH /api/v1/tasks/{id}): limits,
 * members and config sync apply without a restart; a change of client tuning restarts
 * the members from their committed progress. Calls onSaved(task) on success.
 */
function optionsForm(task, onSaved, onCancel) {
  const o = task.options;
  const num = (id, value, attrs) => h("input", { id, name: id, type: "number", value: value ?? "", ...attrs });
  const f = {
    taskMax: num("opt-task-max", o.task_max, { min: "1", max: "64", step: "1" }),
    throttle: num("opt-throttle", o.throttle_mb_s, { min: "0", step: "any", placeholder: "unlimited" }),
    qps: num("opt-qps", o.qps_limit, { min: "0", step: "1", placeholder: "unlimited" }),
    sync: h("input", { id: "opt-sync-configs", type: "checkbox", checked: o.sync_topic_configs }),
    delivery: h("select", { id: "opt-delivery", name: "opt-delivery" }, Object.entries(DELIVERY_TEXT).map(([v, label]) => h("option", { value: v, selected: v === o.delivery }, label))),
  };
  const tuning = tuningControls("opt-", o);
  const field = (name, label, control) =>
    h("div", { class: "field", dataset: { field: name } }, h("label", { for: control.id }, label), control, h("p", { class: "field-error", role: "alert", hidden: true }));
  const form = h(
    "form",
    { class: "form options-form", id: "options-form", novalidate: true },
    h("div", { class: "row" }, field("options.task_max", "Members (task_max)", f.taskMax), field("options.throttle_mb_s", "Throttle (MB/s)", f.throttle), field("options.qps_limit", "QPS limit (records/s)", f.qps)),
    h("div", { class: "field", dataset: { field: "options.sync_topic_configs" } }, h("label", { class: "check", for: "opt-sync-configs" }, f.sync, " Sync topic configs"), h("p", { class: "field-error", role: "alert", hidden: true })),
    h("div", { class: "row" }, field("options.delivery", "Delivery (pause the task to change it)", f.delivery)),
    h("div", { class: "row" }, tuningFields(tuning).map(([name, label, control]) => field(name, label, control))),
    h("div", { class: "form-error-box" }, h("p", { class: "field-error", role: "alert", hidden: true })),
    h("div", { class: "form-buttons" }, h("button", { type: "submit", class: "btn primary", id: "options-save" }, "Save options"), h("button", { type: "button", class: "btn", onclick: onCancel }, "Cancel"), h("span", { class: "muted small" }, "Limits apply in place; a change of compression, linger, batch or fetch restarts the members from their progress.")),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const value = (el) => (el.value === "" ? null : Number(el.value));
    const options = { task_max: value(f.taskMax) ?? 1, throttle_mb_s: value(f.throttle), qps_limit: value(f.qps), sync_topic_configs: f.sync.checked, ...tuningValues(tuning) };
    // Sent only when changed: a running task refuses a change (409), not the same value.
    if (f.delivery.value !== o.delivery) options.delivery = f.delivery.value;
    try {
      onSaved(await patch(`/tasks/${encodeURIComponent(task.id)}`, { options }));
    } catch (exc) {
      showErrors(form, exc, ["options", "body"]);
    }
  });
  return form;
}

export function mountDetail(view, ctx, id) {
  const enc = encodeURIComponent(id);
  const head = h("div", { class: "card task-head", id: "task-head" }, h("p", { class: "muted" }, "Loading…"));
  const problems = h("div", { id: "task-problems" });
  const facts = h("div", { class: "stats", id: "task-stats" });
  const rangeButtons = Object.entries(RANGES).map(([key, r]) => h("button", { type: "button", class: `seg${key === "hour" ? " active" : ""}`, dataset: { range: key } }, r.label));
  const metricsNote = h("p", { class: "muted small", id: "metrics-note" });
  const charts = {
    records: h("div", { class: "chart", id: "chart-throughput" }),
    bytes: h("div", { class: "chart", id: "chart-bytes" }),
    lag: h("div", { class: "chart", id: "chart-lag" }),
    latency: h("div", { class: "chart", id: "chart-latency" }),
    topics: h("div", { class: "chart", id: "chart-topics" }),
  };
  const chartBox = (title, el) => h("div", { class: "chart-box" }, h("h3", {}, title), el);
  const progress = h("div", { id: "progress" });
  const notCopied = h("div", { id: "not-copied" });
  const alarms = h("div", { id: "alarms" });
  const config = h("div", { id: "config" });
  const optionsSlot = h("div", { id: "options-slot" });
  const editOptions = h("button", { type: "button", class: "btn small write", id: "edit-options" }, "Change options");
  const events = h("div", { id: "events" });
  const groupOffsets = groupOffsetsSection(enc, ctx);

  view.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/tasks" }, "Sync tasks"), " / ", h("span", { class: "mono" }, id)),
    head,
    problems,
    facts,
    h(
      "section",
      { class: "card", id: "monitoring" },
      h("div", { class: "card-head" }, h("h2", {}, "Monitoring"), h("span", { class: "spacer" }), h("div", { class: "segmented", role: "group" }, rangeButtons)),
      metricsNote,
      h(
        "div",
        { class: "charts" },
        chartBox("Throughput (records/s)", charts.records),
        chartBox("Throughput (bytes/s)", charts.bytes),
        chartBox("Lag (records)", charts.lag),
        chartBox("Latency (ms, source append → target ack)", charts.latency),
        chartBox("Records/s by topic", charts.topics),
      ),
    ),
    section("topics", "Topics and partitions", progress),
    section("not-copied-section", "Records not copied", notCopied),
    groupOffsets.element,
    section("alarm-section", "Alarms", alarms),
    h("section", { class: "card", id: "configuration" }, h("div", { class: "card-head" }, h("h2", {}, "Configuration"), h("span", { class: "spacer" }), editOptions), optionsSlot, config),
    section("status-log", "Status log", events),
  );

  let task = null;
  let instancesById = new Map();
  let range = "hour";
  const expanded = new Set();
  let gone = false;

  // ---- head, problems, stats -------------------------------------------------------
  const renderHead = () => {
    const ops = [
      ["start", "Start"],
      ["pause", "Pause"],
      ["restart", "Restart"],
      ["delete", "Delete"],
    ];
    clear(head).append(
      h(
        "div",
        { class: "page-head" },
        h("h1", {}, task.name),
        badge(task.status),
        h("span", { class: "mono muted" }, task.id),
        h("span", { class: "spacer" }),
        h(
          "div",
          { class: "ops" },
          ops.map(([op, label]) => h("button", { type: "button", class: `btn write${op === "delete" ? " danger-outline" : ""}`, dataset: { op }, disabled: !allowed(op, task.status) }, label)),
          h("a", { href: `#/tasks/${task.id}`, class: "btn", id: "view-config" }, "View configuration"),
        ),
      ),
      h(
        "p",
        { class: "route big" },
        h("a", { href: `#/instances/${task.source.instance_id}` }, instanceLabel(task.source.instance_id, instancesById)),
        h("span", { class: "arrow" }, " → "),
        h("a", { href: `#/instances/${task.target.instance_id}` }, instanceLabel(task.target.instance_id, instancesById)),
        h("span", { class: "muted" }, ` · ${task.topics.length} topic${task.topics.length === 1 ? "" : "s"} · ${task.progress.length} partition${task.progress.length === 1 ? "" : "s"}`),
        task.paused_at ? h("span", { class: "muted" }, ` · paused at ${fmtTime(task.paused_at)}`) : null,
      ),
    );
    head.querySelector("#view-config").addEventListener("click", (ev) => {
      ev.preventDefault();
      document.getElementById("configuration").scrollIntoView({ behavior: "smooth" });
    });
    clear(problems);
    if (task.error) problems.append(h("div", { class: "notice error", id: "task-error" }, h("b", {}, "Error: "), task.error));
    if (task.warnings.length) {
      problems.append(h("div", { class: "notice warn", id: "task-warnings" }, h("b", {}, `Warning${task.warnings.length > 1 ? "s" : ""}:`), h("ul", {}, task.warnings.map((w) => h("li", {}, w)))));
    }
    const m = task.metrics || {};
    const lat = m.latency_ms || {};
    const limits = task.limits || {};
    const stat = (label, value, sub) => h("div", { class: "stat" }, h("div", { class: "stat-label" }, label), h("div", { class: "stat-value" }, value), sub ? h("div", { class: "stat-sub muted" }, sub) : null);
    if (task.copies_records === false) {
      // Nothing is copied: no rate or lag to show, rather than zeros that read as a stall.
      clear(facts).append(
        h("p", { class: "notice", id: "metadata-only" }, h("b", {}, "Topics only: "), "this task copies no record (mode metadata). It creates the target topics and keeps their partitions and configs in step."),
      );
      return;
    }
    clear(facts).append(
      stat("Records/s", m.records_per_s != null ? fmtSi(m.records_per_s) : DASH, m.source_records_per_s != null ? `source produces ${fmtSi(m.source_records_per_s)}/s` : null),
      stat("Bytes/s", m.bytes_per_s != null ? fmtBytes(m.bytes_per_s) : DASH, limits.throttle_mb_s ? `throttle ${limits.throttle_mb_s} MB/s` : null),
      stat("Lag", fmtSi(taskLag(task)), "records behind the source"),
      stat("Latency p50", lat.p50 != null ? fmtMs(lat.p50) : DASH, lat.p99 != null ? `p99 ${fmtMs(lat.p99)} · max ${fmtMs(lat.max)}` : "source append → target ack"),
      stat("Copied", m.records_total != null ? fmtSi(m.records_total) : DASH, m.bytes_total != null ? fmtBytes(m.bytes_total) : "records"),
      stat("QPS limit", limits.qps_limit ? `${fmtSi(limits.qps_limit)}/s` : "none", task.options.qps_limit ? "records per second" : null),
    );
  };

  // ---- progress ----------------------------------------------------------------------
  const renderProgress = () => {
    const byTopic = new Map();
    for (const m of task.topics) byTopic.set(m.source, { mapping: m, parts: [] });
    for (const p of task.progress) {
      if (!byTopic.has(p.topic)) byTopic.set(p.topic, { mapping: { source: p.topic, target: DASH, partitions: null, state: null }, parts: [] });
      byTopic.get(p.topic).parts.push(p);
    }
    if (!byTopic.size) {
      clear(progress).append(h("p", { class: "muted" }, "No topic is synced yet: the task's members report their topics once they run."));
      return;
    }
    const sum = (parts, key) => (parts.some((p) => p[key] != null) ? parts.reduce((a, p) => a + (p[key] || 0), 0) : null);
    const rows = [];
    for (const [topic, { mapping, parts }] of [...byTopic].sort((a, b) => a[0].localeCompare(b[0]))) {
      const open = expanded.has(topic);
      rows.push(
        h(
          "tr",
          { class: "topic-row", dataset: { topic } },
          h("td", {}, h("button", { type: "button", class: "toggle", "aria-expanded": String(open), dataset: { topic } }, open ? "▾" : "▸"), h("span", { class: "mono" }, topic)),
          h("td", { class: "mono" }, mapping.target),
          h("td", {}, mapping.state ? h("span", { class: `topic-state state-${mapping.state}` }, mapping.state) : DASH),
          h("td", { class: "num" }, fmtInt(mapping.partitions ?? parts.length)),
          h("td", { class: "num" }, fmtInt(sum(parts, "committed_offset"))),
          h("td", { class: "num" }, fmtInt(sum(parts, "end_offset"))),
          h("td", { class: "num lag" }, fmtInt(sum(parts, "lag"))),
        ),
      );
      // A blocked topic is not copied now; the controller retries it at every refresh.
      if (mapping.state === "blocked") {
        rows.push(h("tr", { class: "topic-error", dataset: { topic } }, h("td", { colspan: "7" }, h("span", { class: "field-error" }, mapping.error || "blocked"))));
      }
      if (open) {
        for (const p of parts.sort((a, b) => a.partition - b.partition)) {
          rows.push(
            h(
              "tr",
              { class: "partition-row", dataset: { topic, partition: String(p.partition) } },
              h("td", { class: "indent" }, `partition ${p.partition}`),
              h("td", {}),
              h("td", {}),
              h("td", {}),
              h("td", { class: "num" }, fmtInt(p.committed_offset)),
              h("td", { class: "num" }, fmtInt(p.end_offset)),
              h("td", { class: "num lag" }, fmtInt(p.lag)),
            ),
          );
        }
      }
    }
    clear(progress).append(
      h(
        "table",
        { class: "table compact", id: "progress-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "Source topic"), h("th", {}, "Target topic"), h("th", {}, "State"), h("th", { class: "num" }, "Partitions"), h("th", { class: "num" }, "Committed offset"), h("th", { class: "num" }, "End offset"), h("th", { class: "num" }, "Lag"))),
        h("tbody", {}, rows),
      ),
      h("p", { class: "hint" }, "Committed offset: the source position up to which every record is on the target. Click a topic for its partitions."),
    );
  };
  progress.addEventListener("click", (ev) => {
    const b = ev.target.closest("button.toggle");
    if (!b) return;
    if (expanded.has(b.dataset.topic)) expanded.delete(b.dataset.topic);
    else expanded.add(b.dataset.topic);
    renderProgress();
  });

  editOptions.addEventListener("click", () => {
    if (!task) return;
    editOptions.hidden = true;
    const close = () => {
      clear(optionsSlot);
      editOptions.hidden = false;
    };
    clear(optionsSlot).append(
      optionsForm(
        task,
        (updated) => {
          close();
          task = { ...task, ...updated };
          configKey = "";
          flash(`Options of ${task.name} saved`);
          refreshTask().catch(() => {});
        },
        close,
      ),
    );
  });

  // ---- operations --------------------------------------------------------------------
  head.addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-op]");
    if (!b || !task) return;
    const updated = await runOp(b.dataset.op, task);
    if (updated && ctx.alive) {
      task = { ...task, ...updated };
      renderHead();
      refreshTask().catch(() => {});
    }
  });

  // ---- data --------------------------------------------------------------------------
  let configKey = "";
  const refreshTask = async () => {
    if (gone) return;
    try {
      task = await get(`/tasks/${enc}`);
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 404) {
        gone = true;
        clear(head).append(h("h1", {}, "Task not found"), h("p", { class: "notice", id: "task-gone" }, `Task ${id} does not exist (any more): it was deleted or never existed. `, h("a", { href: "#/tasks" }, "Back to the sync tasks")));
        clear(problems);
        return;
      }
      throw exc;
    }
    if (!ctx.alive) return;
    if (!instancesById.size) instancesById = new Map((await get("/instances")).instances.map((i) => [i.id, i]));
    renderHead();
    renderProgress();
    renderNotCopied(notCopied, task);
    const key = JSON.stringify([task.name, task.source, task.target, task.options, [...instancesById.keys()]]);
    if (key !== configKey) {
      configKey = key;
      clear(config).append(configView(task, instancesById));
    }
  };

  let eventsKey = "";
  const refreshEvents = async () => {
    if (gone) return;
    const r = await get(`/tasks/${enc}/events`).catch((exc) => {
      if (exc instanceof ApiError && exc.status === 404) return null;
      throw exc;
    });
    if (!r || !ctx.alive) return;
    const key = JSON.stringify(r.events.slice(0, 1)) + r.events.length;
    if (key === eventsKey) return;
    eventsKey = key;
    clear(events).append(
      r.events.length
        ? h(
            "table",
            { class: "table compact", id: "event-table" },
            h("thead", {}, h("tr", {}, h("th", {}, "Time"), h("th", {}, "Status"), h("th", {}, "What happened"))),
            h("tbody", {}, r.events.map((e) => h("tr", {}, h("td", { class: "small nowrap" }, fmtTime(e.at)), h("td", {}, badge(e.status)), h("td", { class: "wrap" }, e.message)))),
          )
        : h("p", { class: "muted" }, "No status change recorded yet."),
    );
  };

  const refreshMetrics = async () => {
    const r = RANGES[range];
    let data;
    try {
      data = await getOptional(`/tasks/${enc}/metrics?since=${r.since}&step=${r.step}&by=topic`);
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 404) data = null;
      else {
        metricsNote.textContent = `Cannot read the metrics: ${exc.message}`;
        return;
      }
    }
    if (!ctx.alive) return;
    const to = Date.now();
    const from = to - r.since * 1000;
    const step = r.step * 1000;
    if (data === null) {
      view.dataset.metrics = "missing";
      metricsNote.textContent = "This server does not keep metric history (GET /api/v1/tasks/{id}/metrics is not available).";
      for (const el of Object.values(charts)) lineChart(el, { series: [], from, to, step, format: fmtSi, empty: "No metric history on this server" });
      return;
    }
    view.dataset.metrics = "present";
    metricsNote.textContent = `${r.label}, one point per ${r.step} s.`;
    const total = (data.total || []).map((p) => ({ ...p, t: toMs(p.at) }));
    const line = (name, key) => ({ name, points: total.map((p) => ({ t: p.t, v: p[key] })) });
    lineChart(charts.records, { series: [line("records/s", "records_per_s")], from, to, step, format: fmtSi, label: "records per second" });
    lineChart(charts.bytes, { series: [line("bytes/s", "bytes_per_s")], from, to, step, format: (v) => fmtBytes(v), label: "bytes per second" });
    lineChart(charts.lag, { series: [line("lag", "lag")], from, to, step, format: fmtSi, label: "lag" });
    lineChart(charts.latency, {
      series: [line("p50", "latency_p50_ms"), line("p99", "latency_p99_ms"), line("max", "latency_max_ms")],
      from,
      to,
      step,
      format: fmtMs,
      label: "latency",
    });
    const perTopic = (data.series || [])
      .map((se) => ({ name: se.partition != null ? `${se.topic}[${se.partition}]` : se.topic, points: (se.points || []).map((p) => ({ t: toMs(p.at), v: p.records_per_s })) }))
      .map((se) => ({ ...se, total: se.points.reduce((a, p) => a + (p.v || 0), 0) }))
      .sort((a, b) => b.total - a.total)
      .slice(0, 8);
    lineChart(charts.topics, { series: perTopic, from, to, step, format: fmtSi, label: "records per second by topic" });
  };
  for (const b of rangeButtons) {
    b.addEventListener("click", () => {
      range = b.dataset.range;
      for (const o of rangeButtons) o.classList.toggle("active", o === b);
      refreshMetrics().catch(() => {});
    });
  }

  const refreshAlarms = async () => {
    const [rules, evs] = await Promise.all([getOptional("/alarms"), getOptional(`/alarms/events?task_id=${enc}`)]);
    if (!ctx.alive) return;
    if (rules === null && evs === null) {
      alarms.dataset.state = "missing";
      clear(alarms).append(h("p", { class: "muted" }, "Alarms are not available on this server."));
      return;
    }
    alarms.dataset.state = "present";
    const mine = listOf(rules).filter((r) => !r.task_id || r.task_id === id);
    const events_ = listOf(evs).slice(0, 50);
    const stateOf = (r) => {
      const alert = (r.alerts || []).find((x) => x.task_id === id);
      if (!alert) return h("span", { class: "alarm-kind kind-ok" }, "ok");
      if (alert.state === "firing") return h("span", { class: "alarm-kind kind-firing" }, `firing since ${fmtTime(alert.firing_since || alert.since)}`);
      return h("span", { class: "alarm-kind kind-pending" }, `pending since ${fmtTime(alert.since)}`);
    };
    const condition = (r) => (r.metric === "status" ? `status ${r.comparison} ${r.status}` : `${r.metric} ${r.comparison} ${r.threshold ?? ""}`);
    clear(alarms).append(
      mine.length
        ? h(
            "table",
            { class: "table compact", id: "alarm-rules" },
            h("thead", {}, h("tr", {}, ["Rule", "Condition", "For", "Scope", "Enabled", "State"].map((c) => h("th", {}, c)))),
            h(
              "tbody",
              {},
              mine.map((r) =>
                h(
                  "tr",
                  {},
                  h("td", {}, r.name || r.id),
                  h("td", { class: "mono" }, condition(r)),
                  h("td", {}, r.duration_s != null ? `${r.duration_s} s` : DASH),
                  h("td", {}, r.task_id ? "this task" : "every task"),
                  h("td", {}, r.enabled === false ? "no" : "yes"),
                  h("td", {}, stateOf(r)),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No alarm rule applies to this task."),
      h("p", {}, h("a", { href: "#/alarms", id: "manage-alarms" }, "Create, edit or delete alarm rules")),
      h("h3", {}, "Recent alarm events"),
      events_.length
        ? h(
            "table",
            { class: "table compact", id: "alarm-events" },
            h("thead", {}, h("tr", {}, ["Time", "Rule", "Event", "Details"].map((c) => h("th", {}, c)))),
            h(
              "tbody",
              {},
              events_.map((e) =>
                h(
                  "tr",
                  {},
                  h("td", { class: "small nowrap" }, fmtTime(e.at)),
                  h("td", {}, (e.payload && e.payload.rule && e.payload.rule.name) || e.rule_id || DASH),
                  h("td", {}, h("span", { class: `alarm-kind kind-${e.kind}` }, e.kind || DASH)),
                  h("td", { class: "small wrap" }, (e.payload && e.payload.message) || DASH),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, "None."),
    );
  };

  ctx.poll(refreshTask);
  ctx.poll(refreshEvents);
  ctx.poll(refreshMetrics, 10_000);
  ctx.poll(refreshAlarms, 10_000);
  ctx.poll(groupOffsets.refresh, 10_000);
  const onResize = () => refreshMetrics().catch(() => {});
  window.addEventListener("resize", onResize);
  ctx.onLeave(() => window.removeEventListener("resize", onResize));
}

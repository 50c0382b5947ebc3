// Alarm rules: every rule with what it has pending or firing, and the form that creates
// or edits one (the API checks it and names the field it refuses). Deleting a rule
// resolves what it had firing.

import { clearErrors, del, get, patch, post, showErrors } from "./api.js";
import { STATUSES, clear, fmtTime, h } from "./dom.js";
import { dialog, flash } from "./ui.js";

// The metrics a rule can watch (the API's list, with words for people).
const METRICS = [
  ["status", "Status"],
  ["error", "Has an error"],
  ["lag", "Lag (records)"],
  ["latency_p99", "Latency p99 (ms)"],
  ["records_per_s", "Copy rate (records/s)"],
  ["stalled", "Stalled (no records copied while the source has traffic)"],
  ["blocked_topics", "Blocked topics (count)"],
];
// Compared with a number; the others compare a status, or hold when it is so.
const NUMERIC = new Set(["lag", "latency_p99", "records_per_s", "blocked_topics"]);
const FLAGS = new Set(["error", "stalled"]);
const ROOTS = ["name", "task_id", "metric", "comparison", "threshold", "status", "duration_s", "webhooks", "enabled", "body"];

/** 'lag > 10000 for 60 s', 'status == Failed'. */
export function conditionText(r) {
  let words;
  if (r.metric === "status") words = `status ${r.comparison} ${r.status}`;
  else if (FLAGS.has(r.metric) && r.comparison === "==" && r.threshold === 1) words = r.metric === "error" ? "has an error" : "stalled";
  else words = `${r.metric} ${r.comparison} ${r.threshold ?? ""}`;
  return r.duration_s ? `${words} for ${r.duration_s} s` : words;
}

function alertsCell(r) {
  const alerts = r.alerts || [];
  const firing = alerts.filter((a) => a.state === "firing");
  if (!alerts.length) return h("span", { class: "alarm-kind kind-ok" }, "ok");
  if (firing.length) return h("span", { class: "alarm-kind kind-firing" }, `firing for ${firing.map((a) => a.task_id).join(", ")}`);
  return h("span", { class: "alarm-kind kind-pending" }, `pending for ${alerts.map((a) => a.task_id).join(", ")}`);
}

function field(name, label, control, hint) {
  return h(
    "div",
    { class: "field", dataset: { field: name } },
    h("label", { for: control.id }, label),
    control,
    hint ? h("p", { class: "hint" }, hint) : null,
    h("p", { class: "field-error", role: "alert", hidden: true }),
  );
}

/**
 * The create / edit form. `existing` is the rule to edit (PATCH) or null (POST); `tasks`
 * fill the task picker. Calls onSaved(rule) once the API accepted it.
 */
function ruleForm(existing, tasks, onSaved, onCancel) {
  const r = existing || {};
  const f = {
    name: h("input", { id: "alarm-name", type: "text", autocomplete: "off", maxlength: 128, value: r.name || "", placeholder: "e.g. orders lag high" }),
    task: h(
      "select",
      { id: "alarm-task" },
      h("option", { value: "" }, "Every task"),
      tasks.map((t) => h("option", { value: t.id, selected: t.id === r.task_id }, `${t.name} (${t.id})`)),
    ),
    metric: h("select", { id: "alarm-metric" }, METRICS.map(([v, label]) => h("option", { value: v, selected: v === (r.metric || "lag") }, label))),
    comparison: h("select", { id: "alarm-comparison" }, [">", ">=", "<", "<=", "==", "!="].map((c) => h("option", { value: c, selected: c === (r.comparison || ">") }, c))),
    threshold: h("input", { id: "alarm-threshold", type: "number", step: "any", value: r.threshold ?? "" }),
    status: h("select", { id: "alarm-status" }, STATUSES.map((s) => h("option", { value: s, selected: s === (r.status || "Failed") }, s))),
    duration: h("input", { id: "alarm-duration", type: "number", min: "0", step: "any", value: r.duration_s ?? 0 }),
    webhooks: h("textarea", { id: "alarm-webhooks", rows: "3", placeholder: "https://hooks.example.com/ksync" }, (r.webhooks || []).join("\n")),
    enabled: h("input", { id: "alarm-enabled", type: "checkbox", checked: r.enabled !== false }),
  };
  const numberBox = h("div", { class: "row", id: "alarm-number" }, field("comparison", "Comparison", f.comparison), field("threshold", "Threshold", f.threshold));
  const statusBox = field("status", "Status", f.status);
  const showMetric = () => {
    numberBox.hidden = !NUMERIC.has(f.metric.value);
    statusBox.hidden = f.metric.value !== "status";
  };
  f.metric.addEventListener("change", showMetric);
  showMetric();

  const submit = h("button", { type: "submit", class: "btn primary", id: "alarm-submit" }, existing ? "Save rule" : "Create rule");
  const form = h(
    "form",
    { class: "form card", id: "alarm-form", novalidate: true },
    h("h2", {}, existing ? `Edit alarm rule ${existing.id}` : "New alarm rule"),
    h("div", { class: "row" }, field("name", "Name", f.name), field("task_id", "Task", f.task)),
    field("metric", "Metric", f.metric),
    numberBox,
    statusBox,
    field("duration_s", "For (seconds)", f.duration, "How long the condition must hold before the rule fires"),
    field("webhooks", "Webhooks", f.webhooks, "One URL per line; each event is POSTed there as JSON"),
    h("div", { class: "field", dataset: { field: "enabled" } }, h("label", { class: "check", for: f.enabled.id }, f.enabled, " Enabled"), h("p", { class: "field-error", role: "alert", hidden: true })),
    h("div", { class: "form-error-box" }, h("p", { class: "field-error", role: "alert", hidden: true })),
    h("div", { class: "form-buttons" }, submit, h("button", { type: "button", class: "btn", onclick: () => onCancel() }, "Cancel")),
  );

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const metric = f.metric.value;
    const body = {
      name: f.name.value.trim(),
      task_id: f.task.value || null,
      metric,
      duration_s: f.duration.value === "" ? 0 : Number(f.duration.value),
      webhooks: f.webhooks.value.split("\n").map((u) => u.trim()).filter((u) => u),
      enabled: f.enabled.checked,
    };
    if (NUMERIC.has(metric)) {
      body.comparison = f.comparison.value;
      if (f.threshold.value !== "") body.threshold = Number(f.threshold.value);
    } else if (metric === "status") {
      body.comparison = "==";
      body.status = f.status.value;
    }
    submit.disabled = true;
    try {
      const saved = existing ? await patch(`/alarms/${encodeURIComponent(existing.id)}`, body) : await post("/alarms", body);
      onSaved(saved);
    } catch (exc) {
      showErrors(form, exc, ROOTS);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

async function deleteRule(rule) {
  const ok = await dialog({
    title: `Delete alarm rule ${rule.name}?`,
    body: h("p", {}, "The rule ", h("b", {}, rule.id), " is forgotten; what it has firing is resolved at its webhooks. Its events stay in the history."),
    confirmText: "Delete",
    danger: true,
  });
  if (!ok) return false;
  try {
    await del(`/alarms/${encodeURIComponent(rule.id)}`);
    flash(`Alarm rule ${rule.name} (${rule.id}) deleted`);
    return true;
  } catch (exc) {
    flash(`${rule.name} (${rule.id}): ${exc.message}`, "error", 10_000);
    return false;
  }
}

export function mountAlarms(view, ctx) {
  const formSlot = h("div", { id: "alarm-form-slot" });
  const body = h("div", { class: "card flush" });
  // Enabled once the tasks are known: the form's task picker is filled when it opens.
  const create = h("button", { type: "button", class: "btn primary write", id: "create-alarm", disabled: true }, "New rule");
  view.append(
    h("div", { class: "page-head" }, h("h1", {}, "Alarm rules"), h("span", { class: "spacer" }), create),
    h("p", { class: "muted lead" }, "A rule watches a metric of one task or of every task, fires once when its condition held for its duration, and resolves when it stops; each event is POSTed to its webhooks."),
    formSlot,
    body,
  );
  let rules = [];
  let tasks = [];
  const closeForm = () => {
    clear(formSlot);
    create.hidden = false;
  };
  const openForm = (existing) => {
    create.hidden = true;
    clear(formSlot).append(
      ruleForm(existing, tasks, (saved) => {
        flash(`Alarm rule ${saved.name} (${saved.id}) ${existing ? "saved" : "created"}`);
        closeForm();
        refresh();
      }, closeForm),
    );
    formSlot.querySelector("#alarm-name").focus();
  };
  create.addEventListener("click", () => openForm(null));

  const render = () => {
    const taskName = new Map(tasks.map((t) => [t.id, t.name]));
    clear(body).append(
      rules.length
        ? h(
            "table",
            { class: "table", id: "alarm-table" },
            h("thead", {}, h("tr", {}, ["Rule", "Task", "Condition", "Webhooks", "Enabled", "State", "Operation"].map((c) => h("th", {}, c)))),
            h(
              "tbody",
              {},
              rules.map((r) =>
                h(
                  "tr",
                  { dataset: { id: r.id } },
                  h("td", {}, h("div", {}, r.name), h("div", { class: "mono small muted" }, r.id)),
                  h("td", {}, r.task_id ? h("a", { href: `#/tasks/${r.task_id}` }, taskName.get(r.task_id) || r.task_id) : "every task"),
                  h("td", { class: "mono condition" }, conditionText(r)),
                  h("td", { class: "small wrap" }, r.webhooks.join(", ")),
                  h("td", {}, r.enabled ? "yes" : "no"),
                  h("td", {}, alertsCell(r)),
                  h(
                    "td",
                    { class: "ops" },
                    h("button", { type: "button", class: "op write", dataset: { op: "edit" }, onclick: () => openForm(r) }, "Edit"),
                    h("button", { type: "button", class: "op danger write", dataset: { op: "delete" }, onclick: async () => (await deleteRule(r)) && refresh() }, "Delete"),
                  ),
                ),
              ),
            ),
          )
        : h("p", { class: "empty" }, "No alarm rule yet. ", h("button", { type: "button", class: "op write", id: "create-alarm-empty", onclick: () => openForm(null) }, "Create one"), " to be told when a task fails, lags or blocks a topic."),
      h("p", { class: "hint" }, `Updated ${fmtTime(new Date())}`),
    );
  };
  const refresh = async () => {
    const [r, t] = await Promise.all([get("/alarms"), get("/tasks")]);
    if (!ctx.alive) return;
    rules = r.alarms;
    tasks = t.tasks;
    create.disabled = false;
    render();
  };
  ctx.poll(refresh, 5000);
}


// What the task list and the task detail page share: the operations (each a REST call,
// with a confirmation where it interrupts or destroys), the configuration view, and the
// small renderings of a task's parts.

import { del, post } from "./api.js";
import { DASH, fmtTime, h } from "./dom.js";
import { dialog, flash } from "./ui.js";

/** Which operations make sense in a status (others are shown disabled). */
/** How the console words `options.delivery`. */
export const DELIVERY_TEXT = { at_least_once: "at least once", exactly_once: "exactly once (read_committed consumers see each record once)" };

export function allowed(op, status) {
  switch (op) {
    case "start":
      return status === "Paused" || status === "Failed";
    case "pause":
      return status === "Running" || status === "Unassigned";
    case "restart":
      return status === "Running" || status === "Unassigned" || status === "Failed";
    case "delete":
      return status !== "Terminating";
    default:
      return true;
  }
}

const CONFIRM = {
  pause: (t) => ({
    title: `Pause ${t.name}?`,
    body: h(
      "p",
      {},
      "Its members commit their progress and stop. Start it again within the pause retention (24 h by default) to resume where it stopped; after that it restarts from the start point you give.",
    ),
    confirmText: "Pause",
  }),
  restart: (t) => ({
    title: `Restart ${t.name}?`,
    body: h("p", {}, "Every member stops and starts again. The committed progress is kept, so records after the last commit may be copied twice."),
    confirmText: "Restart",
  }),
  delete: (t) => ({
    title: `Delete ${t.name}?`,
    body: h(
      "p",
      {},
      "The sync stops and the task ",
      h("b", {}, t.id),
      " is forgotten. Data already copied, the topics on both instances and the instances themselves are not touched.",
    ),
    confirmText: "Delete",
    danger: true,
  }),
};

/** Whether a start now begins from a start point: the task was paused longer than the
 * server's pause retention (`progress_kept_until`, which the API dates). */
export function progressExpired(t, now = Date.now()) {
  return t.status === "Paused" && !!t.progress_kept_until && Date.parse(t.progress_kept_until) < now;
}

/**
 * Ask where a task whose progress expired starts again: earliest, latest, or a date and
 * time. Resolves to the start point ({type, timestamp_ms}) or null (cancelled). A time
 * left empty is sent as it is, and the API's message says what is missing.
 */
async function askStartPoint(t) {
  const radios = ["latest", "earliest", "timestamp"].map((v) =>
    h("input", { type: "radio", name: "restart-from", id: `restart-from-${v}`, value: v, checked: v === "latest" }),
  );
  const time = h("input", { id: "restart-from-time", type: "datetime-local", step: "1", disabled: true });
  for (const r of radios) r.addEventListener("change", () => (time.disabled = !radios[2].checked));
  const choice = (radio, text) => h("label", { class: "check", for: radio.id }, radio, " ", text);
  const body = h(
    "div",
    { id: "start-point-prompt" },
    h(
      "p",
      {},
      `${t.name} was paused on ${fmtTime(t.paused_at)}, longer than the pause retention (its progress was kept until ${fmtTime(t.progress_kept_until)}). Its progress is dropped: where should every partition start again?`,
    ),
    h(
      "div",
      { class: "choices" },
      choice(radios[0], "Latest: only records produced from now on"),
      choice(radios[1], "Earliest: everything the source still holds (records already copied are copied again)"),
      h("div", { class: "inline" }, choice(radios[2], "From a date and time:"), " ", time),
    ),
  );
  if (!(await dialog({ title: `Start ${t.name} from where?`, body, confirmText: "Start" }))) return null;
  const type = radios.find((r) => r.checked).value;
  const point = { type };
  if (type === "timestamp" && time.value) point.timestamp_ms = new Date(time.value).getTime();
  return point;
}

const DONE = { start: "Start requested", pause: "Pause requested", restart: "Restart requested", delete: "Delete requested" };

/**
 * Run operation `op` on task `t` after the user confirms it (where it needs confirming).
 * Resolves to the task as the API returned it, or null (cancelled or refused).
 */
export async function runOp(op, t) {
  if (CONFIRM[op] && !(await dialog(CONFIRM[op](t)))) return null;
  let body;
  if (op === "start" && progressExpired(t)) {
    const start = await askStartPoint(t);
    if (!start) return null;
    body = { start };
  }
  try {
    const path = `/tasks/${encodeURIComponent(t.id)}`;
    const updated = op === "delete" ? await del(path) : await post(`${path}/${op}`, body);
    flash(`${DONE[op]} for ${t.name} (${t.id}): ${op === "delete" ? "it disappears once every member stopped" : "the status follows as the workers act"}`);
    return updated;
  } catch (exc) {
    flash(`${t.name} (${t.id}): ${exc.message}`, "error", 10_000);
    return null;
  }
}

export function instanceLabel(id, instancesById) {
  const inst = instancesById.get(id);
  return inst ? inst.name : id;
}

/** "orders, payments +3" or the selection rule while the topic list is not known yet. */
export function topicsSummary(t) {
  if (t.topics && t.topics.length) {
    const names = t.topics.slice(0, 2).map((m) => m.source);
    const more = t.topics.length - names.length;
    return `${names.join(", ")}${more > 0 ? ` +${more}` : ""}`;
  }
  return selectionText(t.source);
}

export function selectionText(source) {
  const parts = [];
  if (source.topics && source.topics.length) parts.push(source.topics.join(", "));
  if (source.topic_regex) parts.push(`/${source.topic_regex}/`);
  let text = parts.join(" + ") || DASH;
  if (source.exclude_regex) text += ` except /${source.exclude_regex}/`;
  return text;
}

export function startText(start) {
  if (!start) return DASH;
  if (start.type === "timestamp") {
    if (start.timestamp_ms === null || start.timestamp_ms === undefined) return "a time (none given yet)";
    return `${fmtTime(new Date(start.timestamp_ms))} (timestamp ${start.timestamp_ms} ms)`;
  }
  return start.type;
}

/** The task's configuration as a readable list plus the JSON spec (as the API takes it). */
/**
 * The controls of a task's client tuning (producer compression, linger and batch cap,
 * consumer fetch size): what matters when a cluster is far away. Filled from `o` (a
 * task's options) when given; empty numbers mean ksync's default (the placeholder).
 * The API checks the values and names the allowed ones.
 */
export function tuningControls(idPrefix, o = {}) {
  const num = (id, value, placeholder) =>
    h("input", { id: `${idPrefix}${id}`, name: `${idPrefix}${id}`, type: "number", inputmode: "numeric", step: "1", value: value ?? "", placeholder });
  return {
    compression: h(
      "select",
      { id: `${idPrefix}compression`, name: `${idPrefix}compression` },
      ["none", "lz4", "zstd", "snappy", "gzip"].map((c) => h("option", { value: c, selected: c === (o.compression ?? "none") }, c)),
    ),
    linger: num("linger-ms", o.linger_ms, "5 (default)"),
    batch: num("batch-bytes", o.batch_bytes, "1000000 (default)"),
    fetch: num("fetch-max-bytes", o.fetch_max_bytes, "52428800 (default)"),
  };
}

/** The tuning fields, each as [API field, label, control, hint], for a form. */
export function tuningFields(c) {
  return [
    ["options.compression", "Compression", c.compression, "How batches to the target are compressed; records arrive unchanged."],
    ["options.linger_ms", "Linger (ms)", c.linger, "How long the producer waits to fill a batch: fewer round trips to a far target."],
    ["options.batch_bytes", "Batch cap (bytes)", c.batch, "Largest producer batch; batches also fit the target topics' max.message.bytes."],
    ["options.fetch_max_bytes", "Fetch max (bytes)", c.fetch, "Most bytes per fetch from the source."],
  ];
}

/** The options body part of the tuning controls: empty numbers are left out. */
export function tuningValues(c) {
  const out = { compression: c.compression.value };
  for (const [key, el] of [["linger_ms", c.linger], ["batch_bytes", c.batch], ["fetch_max_bytes", c.fetch]]) {
    if (el.value !== "") out[key] = Number(el.value);
  }
  return out;
}

/** A task's client tuning as review or configuration rows. */
export function tuningRows(o) {
  const bytes = (v) => (v === undefined || v === null ? "default" : `${v} bytes`);
  return [
    ["Compression", o.compression ?? "none"],
    ["Linger", o.linger_ms === undefined || o.linger_ms === null ? "default" : `${o.linger_ms} ms`],
    ["Batch cap", bytes(o.batch_bytes)],
    ["Fetch max", bytes(o.fetch_max_bytes)],
  ];
}

export function configView(t, instancesById) {
  const inst = (id) => {
    const i = instancesById.get(id);
    return i ? `${i.name} (${id}) · ${i.bootstrap_servers} · cluster ${i.cluster_id}` : id;
  };
  const o = t.options || {};
  const rows = [
    ["Name", t.name],
    ["ID", t.id],
    ["Source instance", inst(t.source.instance_id)],
    ["Topics", selectionText(t.source)],
    ["Start point", startText(t.source.start)],
    ["Target instance", inst(t.target.instance_id)],
    ["Target topic names", t.target.topic_prefix ? `${t.target.topic_prefix}${t.target.separator}<source topic>` : "same as the source"],
    ["Named target topics", Object.entries(t.target.topic_map || {}).map(([from, to]) => `${from} → ${to}`).join(", ") || "none"],
    ["Keep partition", t.target.keep_partition ? "yes: partition p is written to partition p" : "no: partitioned by key"],
    ["Mode", o.mode === "metadata" ? "metadata: topics kept in step, no record copied" : "data: records and topics"],
    ["Members (task_max)", String(o.task_max ?? DASH)],
    ["Sync topic configs", o.sync_topic_configs ? "yes" : "no"],
    ["Sync topic ACLs", o.sync_topic_acls ? "yes (READ only)" : "no"],
    ["Delivery", DELIVERY_TEXT[o.delivery] || o.delivery || DASH],
    ["Throttle", o.throttle_mb_s ? `${o.throttle_mb_s} MB/s` : "none"],
    ["QPS limit", o.qps_limit ? `${o.qps_limit} records/s` : "none"],
    ...tuningRows(o),
    ["Created", fmtTime(t.created_at)],
  ];
  const spec = { name: t.name, source: t.source, target: t.target, options: t.options };
  return h(
    "div",
    { class: "config-view" },
    h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("details", {}, h("summary", {}, "As JSON (the body of POST /api/v1/tasks)"), h("pre", { class: "code" }, JSON.stringify(spec, null, 2))),
  );
}

export function showConfig(t, instancesById) {
  return dialog({
    title: `Configuration of ${t.name}`,
    body: [configView(t, instancesById), h("p", {}, h("a", { href: `#/tasks/${t.id}` }, "Open the task's page"))],
    confirmText: null,
    wide: true,
  });
}

/** The lag of a task: from its metrics when present, else summed from its progress. */
export function taskLag(t) {
  if (t.metrics && t.metrics.lag !== undefined && t.metrics.lag !== null) return t.metrics.lag;
  if (!t.progress || !t.progress.length) return null;
  let sum = 0;
  let any = false;
  for (const p of t.progress) {
    if (p.lag !== null && p.lag !== undefined) {
      sum += p.lag;
      any = true;
    }
  }
  return any ? sum : null;
}

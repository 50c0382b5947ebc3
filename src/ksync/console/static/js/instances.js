// Instances: the list (with a live reachability probe), the add / edit form whose POST is
// the connection check, and one instance's topics and sync traffic over time.

import { ApiError, clearErrors, del, get, patch, post, showErrors } from "./api.js";
import { DASH, clear, fmtAgo, fmtInt, fmtSi, fmtTime, h } from "./dom.js";
import { lineChart, toMs } from "./charts.js";
import { dialog, flash } from "./ui.js";

const INSTANCE_ROOTS = ["name", "bootstrap_servers", "region", "zone", "security", "sync_quota_mb_s", "body"];
const PROBE_EVERY_MS = 30_000;

// id -> {state: "checking"|"ok"|"down", topics, message, at}; kept across page visits.
const probes = new Map();

/** Probe an instance by listing its topics (the API opens a Kafka admin connection). */
function probe(id, onDone) {
  const prev = probes.get(id);
  if (prev && (prev.state === "checking" || Date.now() - prev.at < PROBE_EVERY_MS)) return;
  probes.set(id, { state: "checking", at: Date.now(), previous: prev });
  get(`/instances/${encodeURIComponent(id)}/topics`)
    .then((r) => probes.set(id, { state: "ok", topics: r.topics.length, at: Date.now() }))
    .catch((exc) => probes.set(id, { state: "down", message: exc.message, at: Date.now() }))
    .finally(onDone);
}

function reachCell(id) {
  let p = probes.get(id);
  if (p && p.state === "checking" && p.previous) p = p.previous;
  if (!p || p.state === "checking") return h("span", { class: "reach checking" }, "checking…");
  if (p.state === "ok") return h("span", { class: "reach ok", title: `checked ${fmtAgo(p.at)}` }, `reachable · ${p.topics} topic${p.topics === 1 ? "" : "s"}`);
  return h("span", { class: "reach down", title: p.message }, "unreachable", h("small", { class: "reach-why" }, p.message));
}

function field(name, label, input, hint) {
  return h(
    "div",
    { class: "field", dataset: { field: name } },
    h("label", { for: input.id }, label),
    input,
    hint ? h("p", { class: "hint" }, hint) : null,
    h("p", { class: "field-error", role: "alert", hidden: true }),
  );
}

function input(id, attrs = {}) {
  return h("input", { id, name: id, type: "text", autocomplete: "off", ...attrs });
}

/**
 * The add / edit form. `existing` is the instance to edit (PATCH) or null (POST).
 * Calls onSaved(instance) after the API accepted it.
 */
export function instanceForm(existing, onSaved, onCancel) {
  const f = {
    name: input("inst-name", { required: true, maxlength: 128, placeholder: "e.g. cluster-shanghai" }),
    bootstrap: input("inst-bootstrap", { required: true, placeholder: "host:port,host:port" }),
    region: input("inst-region", { placeholder: "e.g. ap-shanghai" }),
    zone: input("inst-zone", { placeholder: "e.g. ap-shanghai-2" }),
    protocol: h("select", { id: "inst-protocol", name: "inst-protocol" }, ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"].map((p) => h("option", { value: p }, p))),
    mechanism: h("select", { id: "inst-mechanism", name: "inst-mechanism" }, ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"].map((p) => h("option", { value: p }, p))),
    username: input("inst-username"),
    password: input("inst-password", { type: "password", autocomplete: "new-password" }),
    ca: h("textarea", { id: "inst-ca", name: "inst-ca", rows: 3, placeholder: "-----BEGIN CERTIFICATE-----" }),
    quota: input("inst-quota", { type: "number", min: "0", step: "any", placeholder: "no cap" }),
  };
  if (existing) {
    f.name.value = existing.name;
    f.bootstrap.value = existing.bootstrap_servers;
    f.region.value = existing.region || "";
    f.zone.value = existing.zone || "";
    f.protocol.value = existing.security.protocol;
    if (existing.security.sasl_mechanism) f.mechanism.value = existing.security.sasl_mechanism;
    f.username.value = existing.security.username || "";
    f.quota.value = existing.sync_quota_mb_s ?? "";
  }
  let securityTouched = false;
  const saslBox = h(
    "div",
    { class: "row" },
    field("security.sasl_mechanism", "SASL mechanism", f.mechanism),
    field("security.username", "Username", f.username),
    field("security.password", "Password", f.password, existing ? "Enter it again to change the security settings" : null),
  );
  const caBox = field("security.ca_pem", "CA certificate (PEM)", f.ca, "Leave empty to use the system's trusted CAs");
  const showSecurity = () => {
    const p = f.protocol.value;
    saslBox.hidden = !p.startsWith("SASL_");
    caBox.hidden = !p.endsWith("SSL");
  };
  for (const el of [f.protocol, f.mechanism, f.username, f.password, f.ca]) {
    el.addEventListener("input", () => {
      securityTouched = true;
      showSecurity();
    });
  }
  showSecurity();

  const status = h("span", { class: "form-status muted", role: "status" });
  const submit = h("button", { type: "submit", class: "btn primary", id: "inst-submit" }, existing ? "Check connection and save" : "Check connection and add");
  const form = h(
    "form",
    { class: "form card", id: "instance-form", novalidate: true },
    h("h2", {}, existing ? `Edit instance ${existing.id}` : "Add an instance"),
    h("p", { class: "muted" }, "ksync connects to the brokers and reads the cluster id before saving: an instance it cannot reach is not added."),
    h("div", { class: "row" }, field("name", "Name", f.name), field("region", "Region", f.region), field("zone", "Zone", f.zone)),
    field("bootstrap_servers", "Bootstrap servers", f.bootstrap, "Comma-separated host:port of one or more brokers"),
    h(
      "fieldset",
      { class: "field fieldset", dataset: { field: "security" } },
      h("legend", {}, "Security"),
      field("security.protocol", "Protocol", f.protocol),
      saslBox,
      caBox,
      h("p", { class: "field-error", role: "alert", hidden: true }),
    ),
    field("sync_quota_mb_s", "Sync quota (MB/s)", f.quota, "Cap on all sync traffic reading from or writing to this instance"),
    h("div", { class: "form-error-box" }, h("p", { class: "field-error", role: "alert", hidden: true })),
    h(
      "div",
      { class: "form-buttons" },
      submit,
      h("button", { type: "button", class: "btn", onclick: () => onCancel && onCancel() }, "Cancel"),
      status,
    ),
  );

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const body = {
      name: f.name.value.trim(),
      bootstrap_servers: f.bootstrap.value.trim(),
      region: f.region.value.trim() || null,
      zone: f.zone.value.trim() || null,
      sync_quota_mb_s: f.quota.value === "" ? null : Number(f.quota.value),
    };
    if (!existing || securityTouched) {
      const security = { protocol: f.protocol.value };
      if (security.protocol.startsWith("SASL_")) {
        security.sasl_mechanism = f.mechanism.value;
        security.username = f.username.value || null;
        security.password = f.password.value || null;
      }
      if (security.protocol.endsWith("SSL") && f.ca.value.trim()) security.ca_pem = f.ca.value.trim();
      body.security = security;
    }
    submit.disabled = true;
    status.textContent = "Connecting to the brokers…";
    try {
      const saved = existing
        ? await patch(`/instances/${encodeURIComponent(existing.id)}`, body)
        : await post("/instances", body);
      status.textContent = "";
      probes.delete(saved.id);
      onSaved(saved);
    } catch (exc) {
      status.textContent = "";
      showErrors(form, exc, INSTANCE_ROOTS, { instance_unreachable: "bootstrap_servers" });
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

async function deleteInstance(inst, refresh) {
  const ok = await dialog({
    title: `Delete instance ${inst.name}?`,
    body: h("p", {}, "ksync forgets ", h("b", {}, `${inst.name} (${inst.id})`), ". The Kafka cluster and its topics are not touched. An instance used by a task cannot be deleted."),
    confirmText: "Delete",
    danger: true,
  });
  if (!ok) return;
  try {
    await del(`/instances/${encodeURIComponent(inst.id)}`);
    flash(`Instance ${inst.name} (${inst.id}) deleted`);
  } catch (exc) {
    flash(`Cannot delete ${inst.id}: ${exc.message}`, "error", 0);
  }
  refresh();
}

export function mountInstances(view, ctx) {
  const formSlot = h("div", { class: "form-slot" });
  const addButton = h("button", { type: "button", class: "btn primary write", id: "add-instance" }, "Add instance");
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "table", id: "instance-table" },
    h("thead", {}, h("tr", {}, ["Name", "ID", "Region / zone", "Bootstrap servers", "Cluster ID", "Brokers", "Reachable", "Operation"].map((c) => h("th", {}, c)))),
    tbody,
  );
  const empty = h("p", { class: "empty", hidden: true }, "No instances yet. Add the Kafka clusters you want to sync between.");
  view.append(
    h("div", { class: "page-head" }, h("h1", {}, "Instances"), h("span", { class: "spacer" }), addButton),
    h("p", { class: "muted lead" }, "The Kafka clusters ksync can reach. A sync task copies topics from a source instance to a target instance."),
    formSlot,
    h("div", { class: "card flush" }, table, empty),
  );

  let instances = [];
  const closeForm = () => {
    clear(formSlot);
    addButton.hidden = false;
  };
  const openForm = (existing) => {
    clear(formSlot);
    addButton.hidden = true;
    formSlot.append(
      instanceForm(
        existing,
        (saved) => {
          closeForm();
          flash(existing ? `Instance ${saved.name} (${saved.id}) saved` : `Instance ${saved.name} added as ${saved.id} (Kafka cluster ${saved.cluster_id})`);
          refresh();
        },
        closeForm,
      ),
    );
    formSlot.querySelector("input").focus();
  };
  addButton.addEventListener("click", () => openForm(null));

  const render = () => {
    clear(tbody);
    empty.hidden = instances.length > 0;
    for (const inst of instances) {
      tbody.appendChild(
        h(
          "tr",
          { dataset: { id: inst.id } },
          h("td", {}, h("a", { href: `#/instances/${inst.id}`, class: "strong" }, inst.name)),
          h("td", { class: "mono" }, inst.id),
          h("td", {}, [inst.region, inst.zone].filter(Boolean).join(" / ") || DASH),
          h("td", { class: "mono wrap" }, inst.bootstrap_servers),
          h("td", { class: "mono" }, inst.cluster_id),
          h("td", { class: "num" }, fmtInt(inst.broker_count)),
          h("td", { class: "reach-cell" }, reachCell(inst.id)),
          h(
            "td",
            { class: "ops" },
            h("a", { href: `#/instances/${inst.id}`, class: "op" }, "Topics"),
            h("button", { type: "button", class: "op write", onclick: () => openForm(inst) }, "Edit"),
            h("button", { type: "button", class: "op danger write", onclick: () => deleteInstance(inst, refresh) }, "Delete"),
          ),
        ),
      );
    }
  };
  const refresh = async () => {
    const r = await get("/instances");
    if (!ctx.alive) return;
    instances = r.instances;
    for (const inst of instances) probe(inst.id, () => ctx.alive && render());
    render();
  };
  ctx.poll(refresh);
}

export function mountInstance(view, ctx, id) {
  const info = h("div", { class: "card" }, h("p", { class: "muted" }, "Loading…"));
  const filter = h("input", { type: "search", id: "topic-filter", placeholder: "Filter topics", class: "search" });
  const tbody = h("tbody");
  const topicsNote = h("p", { class: "muted", id: "topics-note" }, "Reading topics from the brokers…");
  const usedBy = h("div", { class: "card" });
  const trafficChart = h("div", { class: "chart", id: "chart-instance-traffic" });
  const trafficNote = h("p", { class: "muted small", id: "traffic-note" });
  view.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/instances" }, "Instances"), " / ", h("span", { class: "mono" }, id)),
    info,
    h("section", { class: "card", id: "instance-traffic" }, h("div", { class: "card-head" }, h("h2", {}, "Sync traffic, last hour")), trafficNote, trafficChart),
    h(
      "div",
      { class: "card flush" },
      h("div", { class: "card-head" }, h("h2", {}, "Topics"), h("span", { class: "spacer" }), filter),
      topicsNote,
      h("table", { class: "table", id: "topic-table" }, h("thead", {}, h("tr", {}, h("th", {}, "Topic"), h("th", { class: "num" }, "Partitions"), h("th", { class: "num" }, "Replication factor"))), tbody),
    ),
    usedBy,
  );
  let topics = [];
  const renderTopics = () => {
    const q = filter.value.trim().toLowerCase();
    clear(tbody);
    const shown = topics.filter((t) => !q || t.name.toLowerCase().includes(q));
    const frag = document.createDocumentFragment();
    for (const t of shown) {
      frag.appendChild(h("tr", {}, h("td", { class: "mono" }, t.name), h("td", { class: "num" }, fmtInt(t.partitions)), h("td", { class: "num" }, fmtInt(t.replication_factor))));
    }
    tbody.appendChild(frag);
    topicsNote.textContent = `${topics.length} topic${topics.length === 1 ? "" : "s"} (internal topics are not listed)${q ? `, ${shown.length} shown` : ""}`;
  };
  filter.addEventListener("input", renderTopics);

  get(`/instances/${encodeURIComponent(id)}`)
    .then((inst) => {
      clear(info).append(
        h("div", { class: "page-head" }, h("h1", {}, inst.name), h("span", { class: "mono muted" }, inst.id)),
        h(
          "dl",
          { class: "facts" },
          fact("Bootstrap servers", h("span", { class: "mono" }, inst.bootstrap_servers)),
          fact("Cluster ID", h("span", { class: "mono" }, inst.cluster_id)),
          fact("Brokers", fmtInt(inst.broker_count)),
          fact("Region / zone", [inst.region, inst.zone].filter(Boolean).join(" / ") || DASH),
          fact("Security", [inst.security.protocol, inst.security.sasl_mechanism, inst.security.username].filter(Boolean).join(" · ")),
          fact("Sync quota", inst.sync_quota_mb_s ? `${inst.sync_quota_mb_s} MB/s` : "none"),
          fact("Added", fmtTime(inst.created_at)),
        ),
      );
    })
    .catch((exc) => clear(info).append(h("p", { class: "notice error" }, exc.message)));

  const loadTopics = async () => {
    try {
      const r = await get(`/instances/${encodeURIComponent(id)}/topics`);
      if (!ctx.alive) return;
      topics = r.topics;
      probes.set(id, { state: "ok", topics: topics.length, at: Date.now() });
      renderTopics();
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 404) throw exc;
      topicsNote.textContent = `Cannot read the topics: ${exc.message}`;
      topicsNote.className = "notice error";
    }
  };
  ctx.poll(loadTopics, 10_000);
  // In: what tasks read from this instance; out: what they write to it. The quota caps
  // both together (MB/s of record values, 10^6 bytes), so it is drawn as one line.
  ctx.poll(async () => {
    const r = await get(`/instances/${encodeURIComponent(id)}/traffic/history?since=3600&step=60`);
    if (!ctx.alive) return;
    const to = Date.now();
    const from = to - 3600 * 1000;
    const series = [
      { name: "in (read by tasks)", points: r.points.map((p) => ({ t: toMs(p.at), v: p.read_bytes_per_s })) },
      { name: "out (written by tasks)", points: r.points.map((p) => ({ t: toMs(p.at), v: p.written_bytes_per_s })) },
    ];
    const quota = r.sync_quota_mb_s ? r.sync_quota_mb_s * 1_000_000 : null;
    if (quota) series.push({ name: "sync quota", points: [...r.points.map((p) => ({ t: toMs(p.at), v: quota })), { t: to, v: quota }] });
    trafficChart.dataset.quota = quota ? String(quota) : "";
    trafficNote.textContent = quota
      ? `Bytes per second of record values, in and out, against the instance's sync quota of ${r.sync_quota_mb_s} MB/s, which caps both together.`
      : "Bytes per second of record values, in and out. This instance has no sync quota.";
    // Decimal units, as the quota's MB/s are: a 2 MB/s quota reads "2MB/s", not 1.91 MiB.
    lineChart(trafficChart, { series, from, to, step: 60_000, format: (v) => `${fmtSi(v)}B/s`, label: "sync traffic in and out, bytes per second", empty: "No sync traffic in the last hour" });
  }, 10_000);
  ctx.poll(async () => {
    const r = await get("/tasks");
    if (!ctx.alive) return;
    const mine = r.tasks.filter((t) => t.source.instance_id === id || t.target.instance_id === id);
    clear(usedBy).append(
      h("h2", {}, "Sync tasks using this instance"),
      mine.length
        ? h(
            "ul",
            { class: "plain" },
            mine.map((t) => h("li", {}, h("a", { href: `#/tasks/${t.id}` }, t.name), " ", h("span", { class: "muted mono" }, t.id), " — ", t.source.instance_id === id ? "source" : "target")),
          )
        : h("p", { class: "muted" }, "None."),
    );
  }, 10_000);
}

export function fact(label, value) {
  return [h("dt", {}, label), h("dd", {}, value)];
}
